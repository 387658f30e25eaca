"""The fault schedule of a member simulation (:mod:`emulator.sim.memberrun`): partitions from the
runtime's link rules, power cuts (also mid-fsync), failing fsyncs, one voter removed and added back,
restarts, and healing before the liveness phase. Healing partitions and restarting on time, and
choosing a crash's victim, are the :class:`~emulator.sim.driver.SimDriver`'s, shared with the
Raft-core simulation; this adds what only whole members have.
"""

from __future__ import annotations

from typing import Any

from actors.etcd.requests import ClientConfChange
from actors.raft.entries import ConfChangeOp
from emulator.disk import DiskFaults
from emulator.faults import FaultKind, FaultSpec
from emulator.netrules import compile_fault
from emulator.sim.driver import SimDriver
from emulator.sim.member import SimMember

PARTITIONS = ("sides", "one-way", "bridge", "majorities-ring", "random-halves", "leader")


class MemberFaults(SimDriver):
    node_noun = "member"

    # set by MemberSimulation
    clients: list[Any]

    # -- faults ----------------------------------------------------------------------------------
    def _chaos(self) -> None:
        rng = self.rng
        self._heal_partition_restart()
        if self.tick >= self.membership_at >= 0:
            self._membership()
        up = [n for n in self.nodes.values() if n.up]
        if up and rng.random() < self.p_crash:
            self._crash(self._victim(up, 0.5), "")
        if up and rng.random() < self.p_crash_in_fsync:
            self._victim(up, 0.7).disk.crash_on_fsync = True
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

    def _heal_everything(self) -> None:
        for node in self.nodes.values():
            node.disk.crash_on_fsync = False
        self._live_ok = False
        super()._heal_everything()
