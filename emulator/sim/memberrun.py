"""One seeded simulation of whole etcd members: the shipping member core under faults, with clients.

Theory of operation
-------------------
Each seed runs N :class:`~emulator.sim.member.SimMember` s — the member core a node runs, its WAL
and snapshot files on a simulated disk — over the seeded :class:`SimNetwork`. Partitions come from
the runtime's own link rules (:func:`emulator.netrules.compile_fault`): sides, one-way, bridge,
majorities-ring, random halves and the leader alone. Members crash (a power cut: what was not
fsynced is lost, torn at a random byte), crash in the middle of an fsync (after a leader already
sent the batch), or meet a failing fsync (the member stops); each comes back later from its disk.

Clients are processes of a register workload: each writes unique values to a few keys or reads
them with ``quorum=true``, through any member, one op at a time, as HTTP clients of the client
port would (the same requests, the same reply callbacks). An answer is ``ok``, ``fail`` (etcd
said it was never proposed) or ``info`` (timeout, leader changed, the member crashed): an info
client is retired and a new process takes its place, as Jepsen does.

Checks: Raft's safety (:class:`~emulator.sim.checker.SafetyChecker`) at every persist, commit,
apply and leadership; every acknowledged write present, at its index and term, in the log of
every leader elected after the acknowledgement; after healing, a new write is acknowledged
within ``liveness_ticks``; and the client history is linearizable
(:mod:`emulator.checkers.linearizable`). Time in the history is an event counter, so real-time
order is exact. A seed replays exactly.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from actors.etcd import v2api
from actors.etcd.requests import ClientRead, ClientWrite, MemberSettings
from emulator import wire
from emulator.checkers.linearizable import check as check_linearizable
from emulator.checkers.ops import Op, Outcome
from emulator.sim.checker import SafetyChecker, SimulationFailure
from emulator.sim.driver import SimClock
from emulator.sim.member import BROKEN, CrashNow, SimMember
from emulator.sim.memberfaults import MemberFaults
from emulator.sim.network import NetworkConditions, SimNetwork
from emulator.sim.trace import Trace

KEYS = ("a", "b", "c")


@dataclass(frozen=True)
class MemberSimOptions:
    nodes: int = 3
    ticks: int = 200  # the chaos phase
    liveness_ticks: int = 150
    steps_per_tick: int = 4
    clients: int = 4
    broken: str | None = None  # a key of emulator.sim.member.BROKEN
    trace: bool = False


@dataclass
class _Client:
    process: int
    op: Op | None = None  # the op in flight
    request_id: str = ""
    live: bool = False  # the liveness phase's writer


@dataclass(frozen=True)
class MemberSimResult:
    seed: int
    ok: bool
    error: str | None
    ticks: int
    ops: int
    acked_writes: int
    trace: tuple[str, ...] = field(default=())


class MemberSimulation(MemberFaults):
    liveness_goal = "write acknowledged"

    def __init__(self, seed: int, options: MemberSimOptions = MemberSimOptions()):
        self.seed = seed
        self.opts = opts = options
        self.rng = rng = random.Random(seed)
        self.trace = Trace(options.trace)
        self.tick = 0
        self.events = 0  # the history's clock: one count per invoke or complete
        self.ids = [f"n{i}" for i in range(1, opts.nodes + 1)]
        self.clock = SimClock(opts.steps_per_tick)
        self.checker = SafetyChecker()
        self.applied_at: dict[str, tuple[int, int]] = {}  # request id -> (index, term)
        self.acked: dict[str, tuple[int, int]] = {}  # acknowledged writes -> (index, term)
        settings = MemberSettings(
            voters=tuple(self.ids),
            snapshot_count=rng.choice((8, 25, 80, 10000)),
            token="sim",
        )
        knobs = {
            "pre_vote": rng.random() < 0.8,
            "max_entries_per_append": rng.choice((1, 4, 256)),
            "max_inflight": rng.choice((2, 8, 256)),
        }
        core = BROKEN[opts.broken] if opts.broken else None
        sink = self._log if opts.trace else None
        self.nodes = {
            i: SimMember(
                i,
                settings,
                seed,
                self.clock,
                self.checker,
                self.applied_at,
                **({"core_class": core} if core else {}),
                raft_knobs=knobs,
                trace=sink,
            )  # fmt: skip
            for i in self.ids
        }
        conditions = NetworkConditions(
            drop=rng.choice((0.0, 0.02, 0.1)),
            duplicate=rng.choice((0.0, 0.02)),
            max_delay=rng.randint(1, 2 * opts.steps_per_tick),
            long_delay=rng.choice((0.0, 0.01)),
            reorder=rng.choice((0.0, 0.05)),
        )
        self.network = SimNetwork(random.Random(f"{seed}/net"), conditions)
        self.p_partition = rng.choice((0.0, 0.03, 0.06))
        self.p_crash = rng.choice((0.0, 0.01, 0.03))
        self.p_crash_in_fsync = rng.choice((0.0, 0.002, 0.01))
        self.p_fail_fsync = rng.choice((0.0, 0.0, 0.003))
        self.p_op = rng.choice((0.3, 0.6, 0.9))
        # one voter removed through /v2/members' path and later added back, in some runs
        self.membership_at = (
            rng.randint(opts.ticks // 4, opts.ticks // 2) if rng.random() < 0.3 else -1
        )
        self.member_out: str | None = None
        self._membership_phase = ""
        self._removed_at = 0
        self.clients = [_Client(p) for p in range(opts.clients)]
        self.history: list[Op] = []
        self._next_process = opts.clients
        self._heal_at = -1
        self._restart_at: dict[str, int] = {}
        self._chaos_on = True
        self._values = 0
        self._live_ok = False
        self._live: _Client | None = None
        self._log(
            f"seed {seed}: {knobs} snapshot_count={settings.snapshot_count} {conditions} "
            f"partition={self.p_partition} crash={self.p_crash}/{self.p_crash_in_fsync} "
            f"fail_fsync={self.p_fail_fsync} op={self.p_op} broken={opts.broken}"
        )

    # -- running -------------------------------------------------------------------------------
    def run(self) -> MemberSimResult:
        error = self._run_checked()
        return MemberSimResult(
            self.seed, error is None, error, self.tick, len(self.history), len(self.acked),
            tuple(self.trace.lines),
        )  # fmt: skip

    def _run(self) -> None:
        self._drive()
        self._finish_history()
        result = check_linearizable(self.history, time_limit=20.0)
        if result.valid is False:
            raise SimulationFailure(
                f"client history not linearizable on key(s) {', '.join(result.failed_keys)}"
            )

    def _tick_node(self, node: SimMember, now: int) -> None:
        node.member.tick()  # type: ignore[union-attr]
        self._process(node)

    def _after_node_ticks(self) -> None:
        if self._chaos_on:
            for client in self.clients:
                if client.op is None and self.rng.random() < self.p_op:
                    self._invoke(client)

    def _deliver(self, node: SimMember, msg: Any, now: int) -> None:
        node.member.step(msg)  # type: ignore[union-attr]
        self._process(node)

    def _after_step(self, now: int) -> None:
        for node in self.nodes.values():
            if node.aside_due(now):
                self._process(node, node.finish_aside)
            for fn in node.take_due_timers(now):
                if node.member is not None:  # an earlier one may have crashed it
                    self._process(node, lambda fn=fn, m=node.member: fn() and m.ready())

    def _process(self, node: SimMember, run: Any = None) -> None:
        assert node.member is not None
        try:
            (run or node.member.ready)()
        except CrashNow:
            self._send(node)  # what it sent before the fsync is on the wire already
            self._crash(node, "in the middle of an fsync")
            return
        except OSError as exc:  # a failed fsync: the WAL refuses to go on, the member stops
            self._send(node)
            self._crash(node, f"on a failed fsync ({exc.strerror})")
            return
        self._send(node)
        node.check_leader(lambda log, who=node.id: self._check_acked(who, log))

    def _send(self, node: SimMember) -> None:
        for msg in node.take_outbox():
            self.network.send(msg, self.clock.step)

    # -- clients -------------------------------------------------------------------------------
    def _invoke(self, client: _Client, node: SimMember | None = None, write: bool | None = None):
        up = [n for n in self.nodes.values() if n.member is not None]
        if node is None:
            if not up:
                return
            node = self.rng.choice(up)
        key = self.rng.choice(KEYS)
        write = self.rng.random() < 0.5 if write is None else write
        self.events += 1
        member = node.member
        assert member is not None
        if write:
            self._values += 1
            value = str(self._values)
            req = v2api.Write("PUT", f"/{key}", value).stamped(
                f"c{client.process}.{self._values}", self.clock.time_ns()
            )
            client.request_id = req.id
            client.op = Op(len(self.history), client.process, "write", key, value,
                           Outcome.INFO, self.events, None, node.id)  # fmt: skip
            self.history.append(client.op)  # before: the answer may come at once
            reply = lambda resp, c=client, r=req: self._complete(c, resp, r)  # noqa: E731
            member.handle(ClientWrite(req, False, reply))
        else:
            client.op = Op(len(self.history), client.process, "read", key, None,
                           Outcome.INFO, self.events, None, node.id)  # fmt: skip
            self.history.append(client.op)
            reply = lambda resp, c=client: self._complete(c, resp, None)  # noqa: E731
            member.handle(ClientRead(v2api.Read(f"/{key}", quorum=True), reply))
        self._process(node)

    def _complete(self, client: _Client, resp: v2api.Response, req: Any) -> None:
        op = client.op
        if op is None:
            return  # answered twice (a bug the history would not show): ignore the second
        self.events += 1
        body = json.loads(resp.body or b"{}")
        code = body.get("errorCode")
        if resp.status < 300:
            outcome = Outcome.OK
            value = op.value if op.f == "write" else body["node"].get("value")
        elif op.f == "read" and code == 100:
            outcome, value = Outcome.OK, None  # key not found: the register's initial state
        elif code == 301 or op.f == "read":
            outcome, value = Outcome.FAIL, op.value  # never proposed (reads change nothing)
        else:
            outcome, value = Outcome.INFO, op.value  # timeout or leader changed: may apply
        done = Op(op.id, op.process, op.f, op.key, value, outcome,
                  op.invoke, self.events if outcome is not Outcome.INFO else None, op.node)  # fmt: skip
        self.history[op.id] = done
        client.op = None
        if outcome is Outcome.INFO:
            client.process = self._next_process  # a process with an unknown op is retired
            self._next_process += 1
        elif op.f == "write" and outcome is Outcome.OK:
            self._acknowledged(req)
            self._live_ok = self._live_ok or client.live

    def _acknowledged(self, req: Any) -> None:
        where = self.applied_at.get(req.id)
        if where is None:  # answered before it was applied anywhere: find it in a log
            packed = wire.pack(req)
            for node in self.nodes.values():
                log = node.member.core.log if node.member is not None else None
                if log is None:
                    continue
                for index in range(log.committed + 1, log.last_index() + 1):
                    entry = log.entry(index)
                    if entry is not None and entry.data == packed:
                        where = (index, entry.term)
                        break
                if where is not None:
                    break
        if where is None:
            raise SimulationFailure(f"write {req.id} was acknowledged but is in no log")
        self.acked[req.id] = where

    def _check_acked(self, leader: str, log: Any) -> None:
        for rid, (index, term) in self.acked.items():
            if index <= log.snap_index:
                continue
            if log.term(index) != term:
                raise SimulationFailure(
                    f"acknowledged write {rid} at index {index} term {term} is missing from "
                    f"the log of {leader}, leader of term {self.nodes[leader].member.core.term}"
                    f" (it has term {log.term(index)} there)"
                )

    def _finish_history(self) -> None:
        for client in self.clients:
            client.op = None  # still in flight: stays info, with no completion

    def _before_liveness_tick(self) -> None:
        self._restart_due()
        live = self._live
        if live is None or (live.op is None and not self._live_ok):
            self._liveness_write()

    def _liveness_write(self) -> None:
        """Every tenth tick, a new client writes through the leader (if there is one)."""
        if self.tick % 10:
            return
        leader = self._leader()
        if leader is None:
            return
        client = self._live = _Client(self._next_process, live=True)
        self._next_process += 1
        self._invoke(client, leader, write=True)

    def _liveness_reached(self) -> bool:
        return self._live_ok
