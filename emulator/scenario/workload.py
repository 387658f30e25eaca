"""The register workload: client threads sending reads, writes and cas ops to etcd's v2 API.

Each client is a thread with its own seeded RNG that picks an op (by the mix), a key and a node,
records the invoke in the history, sends the request and records how it completed:
- ``ok``: the answer says it happened (a read's value, or "key not found" read as nothing);
- ``fail``: it certainly did not happen — the connection was refused, the cas's compare failed,
  the member had no leader to propose to (etcd 301), or any failed read (reads change nothing);
- ``info``: anything else — a timeout, a lost leader (etcd 300), a reset connection — it may have
  happened.

Requests use :func:`emulator.etcdctl_client.http_request` rather than ``V2Client``: the client
folds every transport error into text and retries other endpoints, while the checker needs the
exact failure of one request to one node to tell "did not happen" from "unknown".
Written values are unique (client number × 10⁶ + sequence), which the checkers rely on.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from emulator.checkers.ops import Outcome
from emulator.etcdctl_client import EtcdError, Reply, decode_keys_reply, http_request, keys_path
from emulator.scenario.model import Workload

KEY_NOT_FOUND, TEST_FAILED, LEADER_ELECT = 100, 101, 301
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class PlannedOp:
    f: str
    key: str
    value: Any  # write: value; cas: (expected, new); read: None
    node: str


def classify(f: str, reply: Reply | None, exc: BaseException | None) -> tuple[Outcome, Any, str]:
    """(outcome, read value, error text) of one request — pure, see the module comment."""
    if exc is not None:
        if isinstance(exc, ConnectionRefusedError):
            return Outcome.FAIL, None, "connection refused"
        return (Outcome.FAIL if f == "read" else Outcome.INFO), None, f"{type(exc).__name__}: {exc}"
    assert reply is not None
    try:
        resp = decode_keys_reply(reply)
    except EtcdError as err:
        if f == "read" and err.code == KEY_NOT_FOUND:
            return Outcome.OK, None, ""
        if f == "read" or err.code in (KEY_NOT_FOUND, TEST_FAILED, LEADER_ELECT):
            return Outcome.FAIL, None, f"etcd {err.code}: {err.message}"
        return Outcome.INFO, None, f"etcd {err.code}: {err.message} {err.cause}".strip()
    except Exception as err:  # a garbled answer
        return (Outcome.FAIL if f == "read" else Outcome.INFO), None, str(err)
    if f == "read":
        return Outcome.OK, resp.node.get("value"), ""
    return Outcome.OK, None, ""


class OpPicker:
    """Which op a client sends next (pure but for the shared ``known`` values)."""

    def __init__(self, workload: Workload, nodes: Sequence[str], rng: random.Random, process: int):
        self.w = workload
        self.rng = rng
        self.process = process
        self.seq = 0
        self.keys = [f"{workload.prefix}/k{i}" for i in range(workload.keys)]
        chosen = [n for n in workload.nodes if n not in ("all", "random")]
        self.nodes = list(chosen or nodes)
        kinds = [k for k, v in workload.mix.items() if v > 0]
        self.kinds, self.weights = kinds, [workload.mix[k] for k in kinds]

    def next(self, known: dict[str, Any]) -> PlannedOp:
        self.seq += 1
        f = self.rng.choices(self.kinds, self.weights)[0]
        key = self.rng.choice(self.keys)
        node = self.rng.choice(self.nodes)
        value: Any = self.process * 1_000_000 + self.seq
        if f == "read":
            value = None
        elif f == "cas":
            if known.get(key) is None:
                f = "write"  # nothing to compare with yet
            else:
                value = (known[key], value)
        return PlannedOp(f, key, value, node)


def send(op: PlannedOp, url: str, timeout: float, quorum: bool) -> tuple[Outcome, Any, str]:
    path = keys_path(op.key)
    try:
        if op.f == "read":
            query = "?quorum=true" if quorum else ""
            reply = http_request(url + path + query, "GET", None, None, timeout, timeout)
        elif op.f == "write":
            body = urlencode({"value": str(op.value)}).encode()
            reply = http_request(url + path, "PUT", body, _FORM, timeout, timeout)
        else:
            expected, new = op.value
            target = f"{url}{path}?prevValue={quote(str(expected))}"
            body = urlencode({"value": str(new)}).encode()
            reply = http_request(target, "PUT", body, _FORM, timeout, timeout)
    except (OSError, http.client.HTTPException) as exc:
        return classify(op.f, None, exc)
    outcome, value, error = classify(op.f, reply, None)
    return outcome, (_num(value) if op.f == "read" else None), error


def _num(value: Any) -> Any:
    """Values go over HTTP as text; written ones are integers."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


Record = Callable[..., dict[str, Any]]


class Clients:
    """The client threads, paced to the workload's rate; stop() ends them after their op."""

    def __init__(self, workload: Workload, urls: dict[str, str], seed: int, record: Record):
        self.w = workload
        self.urls = urls
        self.seed = seed
        self.record = record
        self.known: dict[str, Any] = {}
        self.counts = {"ok": 0, "fail": 0, "info": 0}
        self._ids = iter(range(1, 1 << 62))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def start(self) -> None:
        for p in range(self.w.clients):
            t = threading.Thread(target=self._client, args=(p,), name=f"client-{p}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.w.timeout * 2 + 5)
        self._threads.clear()

    def invoke(self, op: PlannedOp, process: int, **extra: Any) -> tuple[Outcome, Any]:
        oid = self.next_id()
        self.record("op", phase="invoke", op=oid, process=process, f=op.f, key=op.key,
                    value=op.value, node=op.node, **extra)  # fmt: skip
        outcome, value, error = send(op, self.urls[op.node], self.w.timeout, self.w.quorum_reads)
        done: dict[str, Any] = {"outcome": outcome.value}
        if op.f == "read" and outcome is Outcome.OK:
            done["value"] = value
        if error:
            done["error"] = error
        self.record("op", phase="complete", op=oid, process=process, **done)
        with self._lock:
            self.counts[outcome.value] += 1
            if outcome is Outcome.OK:
                self.known[op.key] = (
                    value if op.f == "read" else (op.value[1] if op.f == "cas" else op.value)
                )
        return outcome, value

    def _client(self, process: int) -> None:
        picker = OpPicker(self.w, list(self.urls), random.Random(f"{self.seed}-{process}"), process)
        gap = self.w.clients / self.w.rate
        next_at = time.monotonic() + picker.rng.random() * gap
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at = max(next_at + gap, time.monotonic() - gap)
            with self._lock:
                known = dict(self.known)
            self.invoke(picker.next(known), process)

    def final_reads(self, timeout: float, rng: random.Random) -> dict[str, Any]:
        """A quorum read of every key through random nodes, retried until one answers."""
        values: dict[str, Any] = {}
        nodes = list(self.urls)
        for i in range(self.w.keys):
            key = f"{self.w.prefix}/k{i}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                op = PlannedOp("read", key, None, rng.choice(nodes))
                outcome, value = self.invoke(op, process=self.w.clients, final=True)
                if outcome is Outcome.OK:
                    values[key] = value
                    break
                time.sleep(0.2)
        return values
