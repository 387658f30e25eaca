"""The loop both simulations run, and the faults they schedule alike.

:class:`SimDriver` is the base of :class:`~emulator.sim.memberrun.MemberSimulation` (whole etcd
members) and :class:`~emulator.sim.scenario.Simulation` (bare Raft cores with a state machine).
A run is a chaos phase of ``opts.ticks`` ticks, each one the subclass's ``_chaos`` then
:meth:`_one_tick`; then everything heals (no partition, no loss, every crashed node restarts)
and ticks go on until the subclass's liveness goal is reached, or ``opts.liveness_ticks`` pass
and the seed fails.

A tick ticks every live node, then runs ``opts.steps_per_tick`` network steps, each delivering
the messages that are due. What a node does on a tick or a message is the subclass's
(``_tick_node``, ``_deliver``); partitions healing on time, crashed nodes restarting on time and
the choice of a crash's victim (the leader, or any live node) are shared here.

Every random choice comes from ``self.rng`` in a fixed order, so a seed replays exactly; the
shared steps draw exactly what each simulation drew when it had them to itself.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from typing import Any

from emulator.sim.checker import SimulationFailure
from emulator.sim.network import SimNetwork
from emulator.sim.trace import Trace, describe_crash


class SimClock:
    """Virtual time shared by every simulated member: ``step`` counts network steps."""

    def __init__(self, steps_per_tick: int, tick_s: float = 0.1):
        self.step = 0
        self._step_s = tick_s / steps_per_tick

    def monotonic(self) -> float:
        return self.step * self._step_s

    def steps_in(self, seconds: float) -> int:
        """Whole steps to wait for ``seconds`` to pass (at least one)."""
        return max(1, math.ceil(seconds / self._step_s - 1e-9))

    def time_ns(self) -> int:
        return 1_700_000_000_000_000_000 + int(self.step * self._step_s * 1e9)


class SimDriver(ABC):
    node_noun = "node"  # in the trace: "every node restarts"
    liveness_goal = "progress"  # in a liveness failure: "no <goal> within N ticks of healing"

    # set by the simulation
    opts: Any  # ticks, liveness_ticks, steps_per_tick
    rng: random.Random
    tick: int
    trace: Trace
    clock: SimClock
    network: SimNetwork
    nodes: dict[str, Any]  # SimPeers
    p_partition: float
    _heal_at: int
    _restart_at: dict[str, int]
    _chaos_on: bool

    # -- running ----------------------------------------------------------------------------------
    @abstractmethod
    def _run(self) -> None:
        """The whole seed: :meth:`_drive`, then the checks made at the end."""

    def _run_checked(self) -> str | None:
        """Run the seed; the error that failed it, or None."""
        try:
            self._run()
        except Exception as exc:  # a broken property, or a bug in what the nodes run
            text = str(exc) if isinstance(exc, SimulationFailure) else describe_crash(exc)
            error = f"tick {self.tick}: {text}"
            self._log(f"FAILURE {error}")
            return error
        return None

    def _drive(self) -> None:
        """The chaos phase, healing, then ticks until the liveness goal is reached."""
        opts = self.opts
        for self.tick in range(opts.ticks):
            self._chaos()
            self._one_tick()
        self._heal_everything()
        for self.tick in range(opts.ticks, opts.ticks + opts.liveness_ticks):
            self._before_liveness_tick()
            self._one_tick()
            if self._liveness_reached():
                self._log("liveness reached")
                return
        raise SimulationFailure(self._liveness_failure())

    @abstractmethod
    def _before_liveness_tick(self) -> None:
        """Each tick after healing: restart what is due and work towards the liveness goal."""

    @abstractmethod
    def _liveness_reached(self) -> bool:
        """Whether the cluster has shown, since healing, that it makes progress again."""

    def _liveness_failure(self) -> str:
        ticks = self.opts.liveness_ticks
        return f"liveness: no {self.liveness_goal} within {ticks} ticks of healing"

    def _one_tick(self) -> None:
        steps = self.opts.steps_per_tick
        base = self.tick * steps
        self.clock.step = base
        for node in self.nodes.values():
            if node.up:
                self._tick_node(node, base)
        self._after_node_ticks()
        for step in range(steps):
            self.clock.step = now = base + step
            for msg in self.network.due(now):
                node = self.nodes.get(msg.to)
                if node is not None and node.up:
                    self._deliver(node, msg, now)
            self._after_step(now)

    def _after_step(self, now: int) -> None:  # noqa: B027 (a hook; most drivers need none)
        """After the messages due at step ``now`` (what a node finishes in the background)."""

    @abstractmethod
    def _tick_node(self, node: Any, now: int) -> None:
        """``node`` (up) ticks once, at step ``now``."""

    @abstractmethod
    def _after_node_ticks(self) -> None:
        """After every node ticked, before the network steps."""

    @abstractmethod
    def _deliver(self, node: Any, msg: Any, now: int) -> None:
        """``node`` (up) receives ``msg`` at step ``now``."""

    # -- the faults both schedule -----------------------------------------------------------------
    @abstractmethod
    def _chaos(self) -> None:
        """The faults and client actions of one chaos tick, before the nodes tick."""

    def _heal_partition_restart(self) -> None:
        """Each chaos tick first: heal a partition whose time is up, maybe start one, restart the
        nodes that are due."""
        if self._heal_at == self.tick:
            self.network.heal()
            self._log("partition healed")
        if not self.network.blocked and self.rng.random() < self.p_partition:
            self._partition()
        self._restart_due()

    @abstractmethod
    def _partition(self) -> None:
        """Block some links until ``self._heal_at``."""

    def _restart_due(self) -> None:
        for node_id, at in list(self._restart_at.items()):
            if at <= self.tick:
                del self._restart_at[node_id]
                node = self.nodes[node_id]
                if not node.removed and not node.up:
                    node.start()
                    self._log(f"restart {node_id}{self._restart_note(node)}")

    def _restart_note(self, node: Any) -> str:
        """What the trace says after ``restart <node>``."""
        return ""

    def _victim(self, up: list[Any], leader_share: float) -> Any:
        """The leader with chance ``leader_share`` (if there is one), else any of ``up``."""
        leader = self._leader()
        rng = self.rng
        return leader if leader is not None and rng.random() < leader_share else rng.choice(up)

    def _heal_everything(self) -> None:
        self._chaos_on = False
        self.network.heal()
        self.network.calm()
        for node_id in self._restart_at:
            self._restart_at[node_id] = self.tick
        self._log(f"healed: no partitions, no loss, every {self.node_noun} restarts")

    # -- helpers ----------------------------------------------------------------------------------
    def _leader(self) -> Any:
        """The live leader of the highest term, or None."""
        leaders = [n for n in self.nodes.values() if n.is_leader()]
        return max(leaders, key=lambda n: n.core.term) if leaders else None

    def _log(self, text: str) -> None:
        self.trace.log(self.tick, text)
