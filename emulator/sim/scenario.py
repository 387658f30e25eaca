"""One seeded simulation run: N Raft cores, a faulty network, crashes, clients, checks.

Theory of operation
-------------------
Everything random comes from ``random.Random(seed)`` (and per-node generators seeded from the
seed text), and nothing iterates over a hash-ordered set, so a seed replays exactly.

Virtual time: ``steps_per_tick`` network steps make one Raft tick. Each tick the schedule may
start or heal a partition, crash a node (it comes back later with only what it persisted),
ask the leader to hand over, let clients propose commands and ask for ReadIndex reads, and,
in some runs, add or remove one voter. Then every live node ticks. Each step delivers the
messages that are due; after every input a node runs its Ready loop, and the
:class:`SafetyChecker` sees every persist, commit, apply and leadership.

Clients and state machine: ``SimOptions.state_machine`` picks the small kv store or etcd's v2
keyspace, with the matching client workload (``emulator.sim.workload``); with etcd, the leader
also proposes SYNCs with the simulated clock, so TTLs expire through the log.

After the chaos phase the network heals and calms down and every crashed node restarts; then
a new command must be applied by every voter of a leader within ``liveness_ticks``, and every
node's state is compared with the others' at its applied index.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.raft.core import RaftConfig
from actors.raft.entries import ConfChange, ConfChangeOp
from emulator.sim.checker import SafetyChecker
from emulator.sim.driver import SimClock, SimDriver
from emulator.sim.network import NetworkConditions, SimNetwork
from emulator.sim.node import SimNode
from emulator.sim.statemachine import MACHINES, MachineKind, StateMachine
from emulator.sim.trace import (
    Trace,
    describe_cluster,
    describe_message,
    describe_storage,
)
from emulator.sim.workload import workload_for


@dataclass(frozen=True)
class SimOptions:
    nodes: int = 3
    ticks: int = 300  # the chaos phase
    liveness_ticks: int = 150  # bound for a command to commit once the network is healthy
    steps_per_tick: int = 4
    election_ticks: int = 10
    state_machine: MachineKind = MachineKind.KV
    state_check_every: int = 16  # compare state digests at every such applied index (0: never)
    trace: bool = False


@dataclass(frozen=True)
class SimResult:
    seed: int
    ok: bool
    error: str | None
    ticks: int
    commits: int
    reads: int
    fingerprint: str
    trace: tuple[str, ...] = ()


class Simulation(SimDriver):
    def __init__(
        self,
        seed: int,
        options: SimOptions = SimOptions(),
        state_machine: Callable[[], StateMachine] | None = None,
    ) -> None:
        self.seed = seed
        self.opts = options
        self.rng = rng = random.Random(seed)
        self.checker = SafetyChecker()
        self.trace = Trace(options.trace)
        self.tick = 0
        self.clock = SimClock(options.steps_per_tick)
        self.ids = [f"n{i}" for i in range(1, options.nodes + 1)]
        voters = tuple(self.ids)
        self._config_knobs = {
            "pre_vote": rng.random() < 0.8,
            "check_quorum": True,
            "max_entries_per_append": rng.choice((1, 4, 256)),
            "max_inflight": rng.choice((2, 8, 256)),
        }
        self.compact_every = rng.choice((0, 5, 10, 40))
        self._state_machine = state_machine or MACHINES[options.state_machine]
        self.workload = workload_for(options.state_machine, rng, seed)
        conditions = NetworkConditions(
            drop=rng.choice((0.0, 0.02, 0.1, 0.2)),
            duplicate=rng.choice((0.0, 0.02, 0.1)),
            max_delay=rng.randint(1, 2 * options.steps_per_tick),
            long_delay=rng.choice((0.0, 0.0, 0.01)),
            reorder=rng.choice((0.0, 0.05, 0.3)),
        )
        self.network = SimNetwork(random.Random(f"{seed}/net"), conditions)
        self.p_partition = rng.choice((0.0, 0.02, 0.05))
        self.p_crash = rng.choice((0.0, 0.01, 0.03))
        # a crash right after a Ready (persisted and sent, maybe mid-election) for some nodes
        self.p_crash_after_ready = rng.choice((0.0, 0.0, 0.001, 0.004))
        self.p_transfer = rng.choice((0.0, 0.01, 0.03))
        self.p_propose = rng.choice((0.3, 0.7, 1.0))
        self.p_read = rng.choice((0.0, 0.2, 0.5))
        self.membership: str | None = None
        self.membership_tick = rng.randint(options.ticks // 4, options.ticks // 2)
        if rng.random() < 0.3:
            self.membership = rng.choice(("add", "remove"))
        self.membership_target: str | None = None
        self.membership_done = False
        self.nodes: dict[str, SimNode] = {i: self._new_node(i, voters) for i in self.ids}
        self._heal_at = -1
        self._chaos_on = True
        self._restart_at: dict[str, int] = {}
        self._reads = 0
        self._live_commands: list[bytes] = []
        self._log(
            f"seed {seed}: {self._config_knobs} compact_every={self.compact_every} {conditions} "
            f"partition={self.p_partition} crash={self.p_crash}/{self.p_crash_after_ready} "
            f"transfer={self.p_transfer} "
            f"membership={self.membership}@{self.membership_tick}"
        )

    # -- running -------------------------------------------------------------------------------

    def run(self) -> SimResult:
        error = self._run_checked()
        sequences = self._sequences()
        return SimResult(
            seed=self.seed,
            ok=error is None,
            error=error,
            ticks=self.tick,
            commits=max((len(s) for s in sequences.values()), default=len(self.checker.outcomes)),
            reads=self.checker.read_count,
            fingerprint=self._fingerprint(sequences),
            trace=tuple(self.trace.lines),
        )

    def _run(self) -> None:
        self._drive()
        self.checker.sequences(self._sequences())
        for node in self.nodes.values():
            if node.up:
                node.check_state(node.core.log.applied, "at the end")

    def _tick_node(self, node: SimNode, now: int) -> None:
        node.core.tick()
        data = self.workload.on_tick(node, self.tick)
        if data is not None:
            ok = node.core.propose(data)
            if self.trace.enabled:
                self._log(f"{node.id} proposes {self.workload.describe(data)}: {ok}")
        self._process(node, now)

    def _after_node_ticks(self) -> None:
        """Nothing: this simulation's clients propose and read in :meth:`_chaos`."""

    def _deliver(self, node: SimNode, msg: Any, now: int) -> None:
        if self.trace.enabled:
            self._log(f"  {describe_message(msg)}")
        node.core.step(msg)
        self._process(node, now)

    def _process(self, node: SimNode, now: int) -> None:
        for msg in node.process():
            self.network.send(msg, now)
        if (
            self.p_crash_after_ready
            and self._chaos_on
            and self.rng.random() < self.p_crash_after_ready
        ):
            node.crash()
            self._restart_at[node.id] = self.tick + self.rng.randint(1, 20)
            self._log(f"crash {node.id} after a Ready, until {self._restart_at[node.id]}")
            return
        if node.core is not None:
            self.trace.node_view(self.tick, node.id, node.core)
        if not node.removed and node.core is not None and not node.core.promotable():
            if self.membership == "remove" and node.id == self.membership_target:
                self._log(f"{node.id} applied its own removal: stopping it")
                node.removed = True
                node.crash()

    # -- the fault and client schedule ---------------------------------------------------------

    def _chaos(self) -> None:
        rng = self.rng
        self._heal_partition_restart()
        if rng.random() < self.p_crash:
            self._crash()
        if rng.random() < self.p_transfer:
            self._transfer()
        if self.membership and not self.membership_done and self.tick >= self.membership_tick:
            self._membership()
        if rng.random() < self.p_propose:
            for _ in range(rng.randint(1, 3)):
                self._propose()
        if rng.random() < self.p_read:
            self._read()

    def _partition(self) -> None:
        rng = self.rng
        ids = [i for i in self.nodes if not self.nodes[i].removed]
        leader = self._leader()
        mode = rng.choice(("isolate", "split", "leader"))
        if mode == "leader" and leader is not None:
            alone = [leader.id]
        elif mode == "isolate":
            alone = [rng.choice(ids)]
        else:
            rng.shuffle(ids)
            alone = ids[: rng.randint(1, max(len(ids) - 1, 1))]  # one node: a no-op
        rest = tuple(i for i in self.nodes if i not in alone)
        self.network.partition(tuple(alone), rest)
        self._heal_at = self.tick + rng.randint(3, 40)
        self._log(f"partition {alone} | {list(rest)} until {self._heal_at}")

    def _crash(self) -> None:
        up = [n for n in self.nodes.values() if n.up]
        if not up:
            return
        victim = self._victim(up, 0.5)
        victim.crash()
        self._restart_at[victim.id] = self.tick + self.rng.randint(1, 40)
        self._log(f"crash {victim.id} until {self._restart_at[victim.id]}")

    def _restart_note(self, node: SimNode) -> str:
        return f" from {describe_storage(node.storage)}"

    def _transfer(self) -> None:
        leader = self._leader()
        if leader is None:
            return
        others = [v for v in leader.core.voters if v != leader.id]
        if others:
            to = self.rng.choice(others)
            ok = leader.core.transfer_leadership(to)
            self._log(f"transfer {leader.id} -> {to}: {ok}")
            self._process(leader, self.tick * self.opts.steps_per_tick)

    def _membership(self) -> None:
        leader = self._leader()
        if self.membership_target is None:
            if self.membership == "add":
                if leader is None:
                    return
                # A joining node is told the current members (etcd: the member list of the
                # cluster it joins); it becomes a voter when it applies its own addition.
                self.membership_target = f"n{len(self.nodes) + 1}"
                node = self._new_node(self.membership_target, leader.core.voters)
                self.nodes[node.id] = node
                self._log(f"started {node.id} to join")
            else:
                self.membership_target = self.rng.choice(self.ids)
        target = self.membership_target
        if leader is None:
            return
        voters = leader.core.voters
        if (target in voters) == (self.membership == "add"):
            self.membership_done = True
            self._log(f"membership change {self.membership} {target} applied by {leader.id}")
            return
        op = ConfChangeOp.ADD_NODE if self.membership == "add" else ConfChangeOp.REMOVE_NODE
        if leader.core.propose_conf_change(ConfChange(op, target, b"")):
            self._log(f"proposed {self.membership} {target} at {leader.id}")
            self._process(leader, self.tick * self.opts.steps_per_tick)

    def _propose(self) -> None:
        up = [n for n in self.nodes.values() if n.up]
        leader = self._leader()
        if not up or (leader and leader.core.log.last_index() - leader.core.log.committed > 64):
            return  # clients wait for answers: they back off when the leader has a backlog
        node = self.rng.choice(up)
        data = self.workload.command(node, self.tick)
        ok = node.core.propose(data)
        if self.trace.enabled:
            self._log(f"propose {self.workload.describe(data)} at {node.id}: {ok}")
        self._process(node, self.tick * self.opts.steps_per_tick)

    def _read(self) -> None:
        up = [n for n in self.nodes.values() if n.up]
        if not up:
            return
        node = self.rng.choice(up)
        self._reads += 1
        ctx = b"r%d" % self._reads
        self.checker.read_issued(ctx)
        ok = node.core.read_index(ctx)
        if self.trace.enabled:
            self._log(f"read {ctx.decode()} at {node.id}: {ok}")
        self._process(node, self.tick * self.opts.steps_per_tick)

    # -- liveness ------------------------------------------------------------------------------

    def _before_liveness_tick(self) -> None:
        opts = self.opts
        if self.tick % opts.election_ticks == opts.ticks % opts.election_ticks:
            self._propose_liveness()
        self._restart_due()

    def _liveness_failure(self) -> str:
        return (
            f"liveness: no command committed on every voter within {self.opts.liveness_ticks} "
            f"ticks of healing ({describe_cluster(self.nodes.values())})"
        )

    def _propose_liveness(self) -> None:
        up = [n for n in self.nodes.values() if n.up]
        if not up:
            return
        node = self._leader() or self.rng.choice(up)
        data = self.workload.liveness_command(len(self._live_commands), self.tick)
        self._live_commands.append(data)
        ok = node.core.propose(data)
        self._log(f"liveness proposal {self.workload.describe(data)} at {node.id}: {ok}")
        self._process(node, self.tick * self.opts.steps_per_tick)

    def _liveness_reached(self) -> bool:
        leader = self._leader()
        if leader is None:
            return False
        indexes = [
            self.checker.index_of[data]
            for data in self._live_commands
            if data in self.checker.index_of
        ]
        if not indexes:
            return False
        for voter in leader.core.voters:
            node = self.nodes.get(voter)
            if node is None or not node.up or node.core.log.applied < min(indexes):
                return False
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _new_node(self, node_id: str, voters: tuple[str, ...]) -> SimNode:
        config = RaftConfig(node_id, election_ticks=self.opts.election_ticks, **self._config_knobs)
        return SimNode(
            node_id,
            voters,
            config,
            f"{self.seed}",
            self.checker,
            self._state_machine,
            self.compact_every,
            self.opts.state_check_every,
        )

    def _sequences(self) -> dict[str, list[bytes]]:
        return {
            i: list(n.sm.sequence)
            for i, n in self.nodes.items()
            if n.sm is not None and hasattr(n.sm, "sequence")
        }

    def _fingerprint(self, sequences: dict[str, list[bytes]]) -> str:
        h = hashlib.sha256()
        for node_id, seq in sorted(sequences.items()):
            h.update(node_id.encode() + b":" + b",".join(seq) + b";")
        for index, answer in sorted(self.checker.outcomes.items()):
            h.update(b"%d:%s;" % (index, answer.encode()))
        h.update(repr(sorted(self.checker.leaders.items())).encode())
        h.update(b"%d/%d" % (self.network.sent, self.network.dropped))
        return h.hexdigest()[:16]
