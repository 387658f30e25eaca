"""The fault schedule of a member simulation (:mod:`emulator.sim.memberrun`): partitions from the
runtime's link rules, power cuts (also mid-fsync), failing fsyncs, one voter removed and added back,
restarts, and healing before the liveness phase. A mixin: it works on the simulation's state.
"""

from __future__ import annotations

from typing import Any

from actors.etcd.requests import ClientConfChange
from actors.raft.entries import ConfChangeOp
from emulator.disk import DiskFaults
from emulator.faults import FaultKind, FaultSpec
from emulator.netrules import compile_fault
from emulator.sim.member import SimMember

PARTITIONS = ("sides", "one-way", "bridge", "majorities-ring", "random-halves", "leader")


class MemberFaults:
    # set by MemberSimulation
    rng: Any
    tick: int
    nodes: dict[str, Any]
    network: Any
    clients: list[Any]

    # -- faults ----------------------------------------------------------------------------------
    def _chaos(self) -> None:
        rng = self.rng
        if self._heal_at == self.tick:
            self.network.heal()
            self._log("partition healed")
        if not self.network.blocked and rng.random() < self.p_partition:
            self._partition()
        self._restart_due()
        if self.tick >= self.membership_at >= 0:
            self._membership()
        up = [n for n in self.nodes.values() if n.member is not None]
        if up and rng.random() < self.p_crash:
            leader = self._leader()
            victim = leader if leader is not None and rng.random() < 0.5 else rng.choice(up)
            self._crash(victim, "")
        if up and rng.random() < self.p_crash_in_fsync:
            leader = self._leader()
            victim = leader if leader is not None and rng.random() < 0.7 else rng.choice(up)
            victim.disk.crash_on_fsync = True
        if up and rng.random() < self.p_fail_fsync:
            rng.choice(up).disk.faults = DiskFaults(fail_fsync=True)

    def _membership(self) -> None:
        """Remove a follower through the member's conf-change path, keep it out a while (its
        peers must tell it it was removed), then add it back; each step retried until taken."""
        leader = self._leader()
        if leader is None or leader.member is None:
            return
        voters = leader.member.core.voters
        if self.member_out is None:
            self.member_out = self.rng.choice(sorted(v for v in voters if v != leader.id))
            self._membership_phase = "remove"
        target, phase = self.member_out, self._membership_phase
        if phase == "remove" and target not in voters:
            self._membership_phase, self._removed_at = "out", self.tick
        elif phase == "out" and self.tick >= self._removed_at + 20:
            self._membership_phase = "add"
        elif phase == "add" and target in voters:
            self._membership_phase = "done"
        phase = self._membership_phase
        if phase not in ("remove", "add"):
            return
        op = ConfChangeOp.REMOVE_NODE if phase == "remove" else ConfChangeOp.ADD_NODE
        log = self._log
        leader.member.handle(
            ClientConfChange(op, target, (), lambda o: log(f"{op.name} {target}: {o.result.value}"))
        )
        self._process(leader)

    def _partition(self) -> None:
        rng = self.rng
        mode = rng.choice(PARTITIONS)
        leader = self._leader()
        ids = list(self.ids)
        if mode in ("sides", "one-way", "leader"):
            if mode == "leader" and leader is not None:
                side = [leader.id]
            else:
                rng.shuffle(ids)
                side = ids[: rng.randint(1, len(ids) - 1)]
            spec = FaultSpec(FaultKind.PARTITION, sides=(tuple(side),), one_way=mode == "one-way")
        else:
            spec = FaultSpec(FaultKind.PARTITION, mode=mode)
        rules = compile_fault(spec, self.ids, rng, lambda name: [name])
        self.network.blocked = {(r.src, r.dst) for r in rules if r.blocked}
        self._heal_at = self.tick + rng.randint(3, 40)
        self._log(
            f"partition {spec.describe()}: {sorted(self.network.blocked)} until {self._heal_at}"
        )

    def _crash(self, node: SimMember, how: str) -> None:
        lost = node.crash()
        for client in [*self.clients, *([self._live] if self._live else [])]:
            if client.op is not None and client.op.node == node.id:
                client.op = None  # the connection broke: the op stays info, the client retires
                client.process = self._next_process
                self._next_process += 1
        self._restart_at[node.id] = self.tick + self.rng.randint(1, 30)
        self._log(f"crash {node.id} {how} until {self._restart_at[node.id]}; lost {lost}")

    def _restart_due(self) -> None:
        for node_id, at in list(self._restart_at.items()):
            if at <= self.tick:
                del self._restart_at[node_id]
                self.nodes[node_id].start()
                self._log(f"restart {node_id}")

    def _heal_everything(self) -> None:
        self._chaos_on = False
        self.network.heal()
        self.network.calm()
        for node in self.nodes.values():
            node.disk.crash_on_fsync = False
        for node_id in self._restart_at:
            self._restart_at[node_id] = self.tick
        self._live_ok = False
        self._log("healed: no partitions, no loss, every member restarts")
