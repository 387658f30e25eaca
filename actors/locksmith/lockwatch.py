"""The run's record of locksmith's reboot lock: every semaphore change, in etcd's order, to history.

The supervisor runs one :class:`LockWatch` thread. It watches ``coreos.com/updateengine/rebootlock``
recursively over the nodes' v2 API (any node that answers) and appends a ``lock`` entry to the
run's ``history.jsonl`` for each new value of a semaphore: its holders (machine ids and node
names), available slots, max, group and etcd index. Because it follows etcd's own change order,
the history shows exactly who held the lock when — no polling gaps — and a checker can prove that
the semaphore never had more holders than its max. It uses its own append handle on the history
file (one line per write), as the update service does.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from actors.locksmith.semaphore import KEY_PREFIX, SEMAPHORE_KEY
from emulator.etcdctl_client import (
    ClientError,
    ClusterError,
    EtcdError,
    V2Client,
    decode_keys_reply,
    keys_path,
)
from emulator.history import History
from emulator.machineid import MACHINE_ID_PATH

KEY_NOT_FOUND = 100
INDEX_CLEARED = 401
RETRY_S = 1.0
WAIT_S = 5.0  # a watch is cut after this and asked again at once, of the next node


class LockWatch(threading.Thread):
    def __init__(self, endpoints: list[str], run_dir: Path):
        super().__init__(name="lockwatch", daemon=True)
        # one client per node, used in turn: a watch on a paused or cut-off node would hang
        self.clients = [V2Client([url], timeout=WAIT_S) for url in endpoints]
        self._turn = 0
        self.run_dir = run_dir
        self.history = History(run_dir / "history.jsonl")
        self._stopping = threading.Event()
        self._last: dict[str, str] = {}  # key -> last value recorded

    @classmethod
    def for_config(cls, cfg: Any, run_dir: Path) -> LockWatch:
        watch = cls([n.client_url for n in cfg.nodes], run_dir)
        watch.start()
        return watch

    def stop(self) -> None:
        self._stopping.set()  # a watch in flight ends with the process (daemon thread)

    def _names(self) -> dict[str, str]:
        out = {}
        for path in (self.run_dir / "nodes").glob(f"*/{MACHINE_ID_PATH}"):
            try:
                out[path.read_text().strip()] = path.parts[-3]
            except OSError:
                continue
        return out

    def _record(self, key: str, value: str, index: int) -> None:
        if not key.endswith("/semaphore") or self._last.get(key) == value:
            return
        self._last[key] = value
        try:
            sem = json.loads(value)
            holders = list(sem.get("holders") or [])
        except (ValueError, AttributeError, TypeError):
            return
        names = self._names()
        group = None
        if key.strip("/") != SEMAPHORE_KEY:
            group = key.strip("/").removeprefix(KEY_PREFIX + "/groups/").removesuffix("/semaphore")
        self.history.record(
            "lock", holders=holders, nodes=[names.get(h, h) for h in holders],
            available=sem.get("semaphore"), max=sem.get("max"), group=group, index=index,
        )  # fmt: skip

    @property
    def client(self) -> V2Client:
        return self.clients[self._turn % len(self.clients)]

    def _wait(self, index: int):
        query = {"wait": "true", "recursive": "true", "waitIndex": str(index)}
        reply = self.client.request("GET", keys_path(KEY_PREFIX), query)  # bounded by WAIT_S
        return decode_keys_reply(reply) if reply.body else None

    def _snapshot(self) -> int:
        """Record the semaphores as they are; returns the index to watch from."""
        try:
            resp = self.client.get(KEY_PREFIX, recursive=True, quorum=True)
        except EtcdError as exc:
            if exc.code == KEY_NOT_FOUND:
                return exc.index + 1
            raise
        stack = [resp.node]
        while stack:
            node = stack.pop()
            stack.extend(node.get("nodes") or [])
            if "value" in node:
                self._record(node["key"], node["value"], int(node.get("modifiedIndex", 0)))
        return resp.index + 1

    def run(self) -> None:
        index: int | None = None
        while not self._stopping.is_set():
            try:
                if index is None:
                    index = self._snapshot()
                resp = self._wait(index)
                if resp is None:
                    continue
                mod = int(resp.node.get("modifiedIndex", index))
                index = mod + 1
                if resp.action != "delete" and "value" in resp.node:
                    self._record(resp.node["key"], resp.node["value"], mod)
            except EtcdError as exc:
                if exc.code == INDEX_CLEARED:
                    index = None  # fell behind etcd's 1000-event history: read afresh
                self._stopping.wait(RETRY_S)
            except (ClusterError, ClientError, OSError, ValueError) as exc:
                # the next node: a quiet watch and a paused node look alike (both only time out)
                self._turn += 1
                if not (isinstance(exc, ClusterError) and exc.timed_out):
                    self._stopping.wait(RETRY_S)  # etcd not up yet, or no quorum: try again
