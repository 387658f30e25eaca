"""The machine's presence in fleet: ``machines/<id>/object`` rewritten with a TTL of agent-ttl.

An actor of its own (fleet runs it as a goroutine of its own) so that a slow reconcile of the
agent never delays it: when a machine stops heartbeating (killed, paused, cut off from etcd) its
key expires and the engine moves its units, and only then. It beats every agent-ttl/3 — fleet
beats every ttl/2; the extra margin keeps a busy 2-core host from expiring live machines.
On a clean stop it withdraws the object, as fleetd does, so the engine reschedules at once.
A failed beat (etcd has no leader yet at boot, or is cut off) is retried every second rather
than a whole beat period later, so a machine shows up in fleet as soon as etcd can take it.
"""

from __future__ import annotations

from actors.fleet.engine import ETCD_ERRORS
from actors.fleet.records import MachineState
from actors.fleet.registry import Registry
from emulator.nodectx import NodeActor, NodeContext
from emulator.ticker import Tick

BEATS_PER_TTL = 3
RETRY_S = 1.0  # after a failed beat


class MachineHeartbeat(NodeActor):
    actor_name = "fleet-heartbeat"

    def __init__(self, ctx: NodeContext, registry: Registry, machine: MachineState, ttl: float):
        super().__init__(ctx)
        self.registry = registry
        self.machine = machine
        self.ttl = ttl
        self.failing = False
        self.period = self.ttl / BEATS_PER_TTL
        self.tick_s = min(RETRY_S, self.period)
        self.since_beat = 0.0  # seconds of ticks since the last successful beat

    def on_start(self) -> None:
        self.ctx.ticker.subscribe(self.actor_ref, self.tick_s)
        self._beat()

    def on_tick(self, tick: Tick) -> None:
        self.since_beat += self.tick_s
        if self.failing or self.since_beat >= self.period - self.tick_s / 2:
            self._beat()

    def on_stop(self) -> None:
        try:
            self.registry.remove_machine(self.machine.id)
        except ETCD_ERRORS:
            pass

    def _beat(self) -> None:
        try:
            self.registry.heartbeat_machine(self.machine, self.ttl)
        except ETCD_ERRORS as exc:
            if not self.failing:  # once per outage, not once per beat
                self.log.warning("fleet.heartbeat_failed", error=str(exc))
            self.failing = True
            return
        if self.failing:
            self.log("fleet.heartbeat_restored")
        self.failing = False
        self.since_beat = 0.0
