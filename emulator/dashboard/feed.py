"""The dashboard's view of the run, refreshed by one thread and handed to every open page.

The feed thread is a *client* of the supervisor, exactly like ``run.py status``: it sends a
``ClusterStatusQuery`` on the control socket, so the supervisor's loop stays single-threaded and
never waits on the dashboard. Node logs come from the run's files through ``emulator.logview``
(the same reader as ``run.py logs``), and etcd's read/write counters from each member's own
``/v2/stats/store`` — the API a user would ask.

Pages wait on a condition variable for the next version of the view and for log records past the
sequence number they have; nothing is pushed to a page that is not listening.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.control import ClusterStatus, ClusterStatusQuery
from emulator.dashboard import shape, sources
from emulator.logview import LogRecord, LogTail, format_value
from emulator.supervisor_client import SupervisorUnavailable, request

WATCHED_INTERVAL_S = 0.5  # a page is open: changes show within a second
IDLE_INTERVAL_S = 5.0  # nobody looking: keep a coarse rate history, cost next to nothing
KEYS_EVERY_S = 5.0  # counting keys reads the whole keyspace: now and then, and only when watched
RATE_SPAN_S = 2.0  # rates are taken over at least this long, so one slow poll is no spike
HISTORY_S = 300.0  # the rate plot's width: the last five minutes
LOG_KEEP = 400  # records a newly opened page gets, and the most one batch sends


def log_entry(seq: int, record: LogRecord) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": record.ts,
        "node": record.node,
        "actor": record.actor,
        "level": record.level,
        "event": record.event,
        "text": " ".join(f"{k}={format_value(v)}" for k, v in record.fields.items()),
    }


class Feed:
    def __init__(
        self,
        run_dir: Path,
        *,
        ask: Callable[[Any], Any] | None = None,
        store_stats: Callable[[str], dict[str, Any] | None] = sources.fetch_store_stats,
        fleet: Callable[[dict[str, Any]], Any] = sources.fetch_fleet,
        keys: Callable[[str], dict[str, Any] | None] = sources.fetch_keys,
        update_service: Callable[[str], dict[str, Any] | None] = sources.fetch_update_service,
    ):
        self.run_dir = run_dir
        self._ask = ask or (lambda msg: request(run_dir, msg, timeout=2.0))
        self._store_stats = store_stats
        self._fleet = fleet
        self._keys = keys
        self._update_service = update_service
        self._keys_at = (-KEYS_EVERY_S, None)  # (when counted, count)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()  # a page just opened, or the feed is stopping
        self.version = 0
        self.view: dict[str, Any] = {"alive": False, "report": None}
        self.ended: str | None = None  # why the feed ended (the run stopped)
        self.viewers = 0
        self._logs: deque[dict[str, Any]] = deque(maxlen=LOG_KEEP)
        self._log_seq = 0
        self._tail = LogTail(run_dir)
        self._counters: deque[tuple[float, dict[str, int], dict[str, int]]] = deque(maxlen=64)
        self._rates: deque[tuple[float, float | None, float | None]] = deque()
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)

    # --- the thread ----------------------------------------------------------------------------
    def start(self) -> None:
        self._add_logs(self._tail.initial())
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # the view says what broke; the feed keeps going
                self._publish({"alive": False, "report": None, "error": f"dashboard: {exc!r}"})
            self._wake.wait(WATCHED_INTERVAL_S if self.viewers else IDLE_INTERVAL_S)
            self._wake.clear()
        self._tail.close()

    def sample(self) -> None:
        self._add_logs(self._tail.poll())
        try:
            reply = self._ask(ClusterStatusQuery())
        except SupervisorUnavailable as exc:
            self._publish({"alive": False, "report": None, "error": str(exc)})
            return
        if not isinstance(reply, ClusterStatus):
            self._publish({"alive": False, "report": None, "error": f"unexpected {reply!r}"})
            return
        self._publish(self._shape(reply.report, time.monotonic(), time.time()))

    def _shape(self, report: dict[str, Any], mono: float, wall: float) -> dict[str, Any]:
        nodes = report.get("nodes", [])
        etcd = shape.etcd_panel(nodes)
        if etcd is not None:
            etcd["rates"] = self._sample_rates(nodes, mono, wall)
            if etcd["keys"] is None:
                etcd["keys"] = self._count_keys(nodes, etcd["leader"], mono)
        return {
            "alive": True,
            "ts": wall,
            "report": report,
            "links": shape.links(nodes, report.get("link_rules") or ()),
            "faults": shape.ends_in(report.get("active_faults") or ()),
            "etcd": etcd,
            "leaders": shape.leader_marks(nodes),
            "fleet": self._sample_fleet(nodes) if self.viewers else None,
            "rollout": self._sample_rollout(nodes, report) if self.viewers else None,
        }

    def _sample_rollout(
        self, nodes: list[dict[str, Any]], report: dict[str, Any]
    ) -> dict[str, Any] | None:
        service = report.get("update_service")
        if not isinstance(service, dict) or service.get("state") != "up" or not service.get("url"):
            return None
        snapshot = self._update_service(service["url"])
        return shape.rollout_panel(nodes, snapshot) if snapshot is not None else None

    def _count_keys(self, nodes: list[dict[str, Any]], leader: str | None, mono: float) -> Any:
        if self.viewers and leader and mono - self._keys_at[0] >= KEYS_EVERY_S:
            url = next(n.get("client_url") for n in nodes if n["name"] == leader)
            self._keys_at = (mono, shape.count_keys(self._keys(url)) if url else None)
        return self._keys_at[1]

    def _sample_fleet(self, nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
        """fleet's machines and unit states, from the first running node whose API answers."""
        for node in nodes:
            if node.get("state") == "up" and "engine_leader" in node:
                got = self._fleet(node)
                if got is not None:
                    return shape.fleet_panel(nodes, *got)
        return None

    def _sample_rates(
        self, nodes: list[dict[str, Any]], mono: float, wall: float
    ) -> list[list[float | None]]:
        reads: dict[str, int] = {}
        writes: dict[str, int] = {}
        for node in nodes:
            url = node.get("client_url")
            if node.get("state") != "up" or node.get("role") in (None, "proxy") or not url:
                continue
            stats = self._store_stats(url)
            if stats is not None:
                reads[node["name"]] = shape.counter_total(stats, shape.READ_COUNTERS)
                writes[node["name"]] = shape.counter_total(stats, shape.WRITE_COUNTERS)
        base = next((c for c in reversed(self._counters) if mono - c[0] >= RATE_SPAN_S), None)
        self._counters.append((mono, reads, writes))
        if base is not None:
            dt = mono - base[0]
            self._rates.append(
                (
                    round(wall, 3),
                    shape.counter_rate(base[1], reads, dt, "sum"),
                    shape.counter_rate(base[2], writes, dt, "max"),
                )
            )
        while self._rates and wall - self._rates[0][0] > HISTORY_S:
            self._rates.popleft()
        return [list(r) for r in self._rates]

    def _add_logs(self, records: Any) -> None:
        batch = [log_entry(0, r) for r in records]
        if not batch:
            return
        with self._cond:
            for entry in batch[-LOG_KEEP:]:
                self._log_seq += 1
                entry["seq"] = self._log_seq
                self._logs.append(entry)
            self._cond.notify_all()

    def _publish(self, view: dict[str, Any]) -> None:
        with self._cond:
            self.view = view
            self.version += 1
            self._cond.notify_all()

    # --- for the pages -------------------------------------------------------------------------
    def wait(
        self, version: int, log_seq: int, timeout: float
    ) -> tuple[int, dict[str, Any] | None, list[dict[str, Any]], int]:
        """Block until the view is newer than ``version`` or logs past ``log_seq`` exist.

        Returns (version, view or None if unchanged, new log entries, last log seq).
        """
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self.version != version or self._log_seq > log_seq or self.ended is not None
                ),
                timeout,
            )
            view = self.view if self.version != version else None
            logs = [e for e in self._logs if e["seq"] > log_seq]
            return self.version, view, logs, self._log_seq

    def watching(self, delta: int) -> None:
        with self._cond:
            self.viewers += delta
        if delta > 0:
            self._wake.set()  # sample now: the view may be an idle interval old

    def stop(self, reason: str = "the run stopped") -> None:
        """Tell every page the run is over, and end the thread."""
        self._stop.set()
        self._wake.set()
        with self._cond:
            self.ended = reason
            self._cond.notify_all()
