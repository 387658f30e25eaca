"""What the simulated clients propose, one workload per state machine.

- :class:`KvWorkload`: ``b"k3=c17"`` assignments, drawn from the simulation's own generator so
  the kv seeds replay exactly as they did before workloads were pluggable.
- :class:`EtcdWorkload`: packed :class:`V2Request` entries, as the etcd member proposes them:
  set, create (prevExist=false), update (prevExist=true), compare-and-swap on prevValue or
  prevIndex, compare-and-delete, delete, mkdir/setdir, rmdir (recursive or not), in-order POST,
  quorum GET and TTL refresh; about a third of the writes carry a TTL of a few seconds. A
  client reads the member it talks to before a compare (that member may be behind, so some
  compares fail, as they do against a real cluster). Every node that leads proposes a SYNC
  every ``SYNC_TICKS`` while its store has keys with a TTL, as etcd's leader does, so keys
  expire at the same log position on every node.

Virtual time: tick ``t`` is ``EPOCH_NS + t * NS_PER_TICK`` (100 ms, etcd's default heartbeat),
so a 1 to 5 second TTL runs out inside a run's chaos phase. Request ids are unique per proposal.
"""

from __future__ import annotations

import random
from enum import Enum
from typing import Protocol

from actors.etcd.commands import Method, V2Request
from actors.etcd.node import NS_PER_S
from emulator import wire
from emulator.sim.node import SimNode
from emulator.sim.statemachine import EtcdStateMachine, MachineKind

NS_PER_TICK = 100_000_000
EPOCH_NS = 1_700_000_000 * NS_PER_S
SYNC_TICKS = 5  # etcd's leader proposes a SYNC every 500 ms


def clock_ns(tick: int) -> int:
    """The simulated wall clock at ``tick`` (unix ns)."""
    return EPOCH_NS + tick * NS_PER_TICK


class Workload(Protocol):
    def command(self, node: SimNode, tick: int) -> bytes:
        """A client's next proposal, sent to ``node``."""
        ...

    def liveness_command(self, n: int, tick: int) -> bytes:
        """The ``n``-th command of the liveness phase (distinct data for each ``n``)."""
        ...

    def on_tick(self, node: SimNode, tick: int) -> bytes | None:
        """What ``node`` proposes by itself this tick (etcd's leader SYNC), if anything."""
        ...

    def describe(self, data: bytes) -> str: ...


class KvWorkload:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0

    def command(self, node: SimNode, tick: int) -> bytes:
        self.count += 1
        return b"k%d=c%d" % (self.rng.randrange(8), self.count)

    def liveness_command(self, n: int, tick: int) -> bytes:
        return b"live=%d" % n

    def on_tick(self, node: SimNode, tick: int) -> bytes | None:
        return None

    def describe(self, data: bytes) -> str:
        return data.decode()


class Op(Enum):
    SET = "set"
    CREATE = "create"
    UPDATE = "update"
    CAS_VALUE = "cas-value"
    CAS_INDEX = "cas-index"
    CAD = "cad"
    DELETE = "delete"
    MKDIR = "mkdir"
    RMDIR = "rmdir"
    POST = "post"
    QGET = "qget"
    REFRESH = "refresh"


OP_WEIGHTS = {
    Op.SET: 20,
    Op.CREATE: 10,
    Op.UPDATE: 5,
    Op.CAS_VALUE: 10,
    Op.CAS_INDEX: 8,
    Op.CAD: 5,
    Op.DELETE: 8,
    Op.MKDIR: 8,
    Op.RMDIR: 5,
    Op.POST: 6,
    Op.QGET: 5,
    Op.REFRESH: 6,
}
FILES = ("/a", "/b", "/c", "/d/x", "/d/y", "/e/f/g", "/t/k")
DIRS = ("/d", "/e", "/e/f", "/t")
QUEUE = "/q"
READS = ("/", "/d", "/e", QUEUE)
TTLS_S = (1, 2, 3, 5)
P_TTL = 0.3


class EtcdWorkload:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0
        self._ops = list(OP_WEIGHTS)
        self._weights = list(OP_WEIGHTS.values())

    def command(self, node: SimNode, tick: int) -> bytes:
        rng = self.rng
        op = rng.choices(self._ops, self._weights)[0]
        path = rng.choice(FILES)
        ttl = rng.choice(TTLS_S) if rng.random() < P_TTL else 0
        value = f"v{self.count + 1}"
        seen = node.sm.peek(path) if isinstance(node.sm, EtcdStateMachine) else None
        known = seen is not None and not seen.is_dir and rng.random() < 0.85
        put, delete = Method.PUT.value, Method.DELETE.value
        if op is Op.SET:
            return self._request(tick, put, path, value, ttl=ttl)
        if op is Op.CREATE:
            return self._request(tick, put, path, value, prev_exist=False, ttl=ttl)
        if op is Op.UPDATE:
            return self._request(tick, put, path, value, prev_exist=True, ttl=ttl)
        if op is Op.CAS_VALUE:
            guess = seen.value if known and seen else "stale"
            return self._request(tick, put, path, value, prev_value=guess, ttl=ttl)
        if op is Op.CAS_INDEX:
            index = seen.modified_index if known and seen else rng.randint(1, 40)
            return self._request(tick, put, path, value, prev_index=index, ttl=ttl)
        if op is Op.CAD:
            if known and seen and rng.random() < 0.5:
                return self._request(tick, delete, path, prev_index=seen.modified_index)
            return self._request(tick, delete, path, prev_value=seen.value if known else "x")
        if op is Op.DELETE:
            return self._request(tick, delete, path)
        if op is Op.MKDIR:  # etcdctl mkdir (create) or setdir (set)
            create = rng.random() < 0.7
            return self._request(
                tick, put, rng.choice(DIRS), dir=True, prev_exist=False if create else None, ttl=ttl
            )
        if op is Op.RMDIR:
            return self._request(
                tick, delete, rng.choice(DIRS), dir=True, recursive=rng.random() < 0.5
            )
        if op is Op.POST:
            return self._request(tick, Method.POST.value, QUEUE, value, ttl=ttl)
        if op is Op.QGET:
            return self._request(
                tick,
                Method.QGET.value,
                rng.choice(READS),
                recursive=rng.random() < 0.5,
                sorted=rng.random() < 0.5,
            )
        # a TTL refresh of a key or directory (etcdctl updatedir / refresh=true)
        target = path if rng.random() < 0.7 else rng.choice(DIRS)
        return self._request(
            tick, put, target, prev_exist=True, refresh=True, ttl=rng.choice(TTLS_S)
        )

    def liveness_command(self, n: int, tick: int) -> bytes:
        return self._request(tick, Method.PUT.value, "/live", str(n), request_id=f"live{n}")

    def on_tick(self, node: SimNode, tick: int) -> bytes | None:
        sm = node.sm
        if (
            tick % SYNC_TICKS
            or not node.is_leader()
            or not isinstance(sm, EtcdStateMachine)
            or not sm.store.has_expiring_keys()
        ):
            return None
        return wire.pack(V2Request.sync(clock_ns(tick), f"sync-{node.id}-{tick}"))

    def describe(self, data: bytes) -> str:
        r = wire.unpack(data)
        flags = [
            f"{name}={getattr(r, name)!r}"
            for name in ("value", "dir", "prev_value", "prev_index", "prev_exist", "refresh")
            if getattr(r, name) not in ("", False, 0, None)
        ]
        if r.expiration:
            flags.append(f"ttl={(r.expiration - r.time_ns) // NS_PER_S}")
        return f"{r.id} {r.method} {r.path} {' '.join(flags)}".rstrip()

    def _request(
        self,
        tick: int,
        method: str,
        path: str,
        value: str = "",
        *,
        dir: bool = False,
        prev_value: str = "",
        prev_index: int = 0,
        prev_exist: bool | None = None,
        ttl: int = 0,
        refresh: bool = False,
        recursive: bool = False,
        sorted: bool = False,
        request_id: str = "",
    ) -> bytes:
        if not request_id:
            self.count += 1
            request_id = f"c{self.count}"
        now = clock_ns(tick)
        expiration = now + ttl * NS_PER_S if ttl else 0
        req = V2Request(
            request_id,
            method,
            path,
            value,
            dir,
            prev_value,
            prev_index,
            prev_exist,
            expiration,
            refresh,
            recursive,
            sorted,
            now,
        )
        return wire.pack(req)


def workload_for(kind: MachineKind, sim_rng: random.Random, seed: int) -> Workload:
    """The kv workload shares the simulation's generator (old seeds replay unchanged); the
    etcd one draws from its own, so the fault schedule does not depend on the requests."""
    if kind is MachineKind.ETCD:
        return EtcdWorkload(random.Random(f"{seed}/clients"))
    return KvWorkload(sim_rng)
