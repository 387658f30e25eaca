"""fleet's agent: this machine's share of the units (its presence is :mod:`.heartbeat`).

- Reconcile (every round, and early when the watch sees a job change): read the registry, let the
  pure :mod:`actors.fleet.agentcore` decide which units belong here and in which state, and carry
  out its tasks through the node's systemd (load, start, stop, unload).
- Report: ``states/<name>/<machine>`` (TTL agent-ttl) with systemd's load/active/sub state, on
  every change systemd reports and refreshed every agent-ttl/2; ``job/<name>/job-state`` holding this
  machine's id while a unit is launched here.

On a clean stop the agent unloads its units, as fleetd does when it shuts down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.fleet import agentcore as core
from actors.fleet.agentcore import Current, RegistryUnit
from actors.fleet.engine import ETCD_ERRORS
from actors.fleet.records import LAUNCHED, MachineState, UnitState, unit_text
from actors.fleet.registry import Registry, Snapshot
from actors.fleet.watcher import Wake
from actors.fleet.xfleet import requirements
from actors.unitfile import UnitFileError
from emulator.nodectx import NodeActor, NodeContext
from emulator.ticker import Tick


def agent_wants(action: str, key: str) -> bool:
    """Job changes (not job heartbeats) and metadata changes can change what runs here."""
    if key.startswith("machines/"):
        return "/metadata/" in key
    return key.startswith("job/") and not key.endswith("/job-state")


@dataclass(frozen=True)
class UnitChanged:
    """systemd reported a new state for a unit (told from systemd's thread)."""

    name: str
    status: Any


class FleetAgent(NodeActor):
    actor_name = "fleet-agent"

    def __init__(
        self,
        ctx: NodeContext,
        registry: Registry,
        systemd: Any,
        machine: MachineState,
        ttl: float,
        interval: float,
        status: Any,
        report_leader: bool = False,
    ):
        super().__init__(ctx)
        self.registry = registry
        self.systemd = systemd
        self.machine = machine
        self.ttl = ttl
        self.interval = interval
        self.status = status  # actors.fleet.part.FleetStatus
        self.report_leader = report_leader  # no engine on this machine (disable-engine)
        self.current: dict[str, Current] = {}
        self.next_refresh = 0.0
        self.next_reconcile = 0.0

    def on_start(self) -> None:
        self.systemd.subscribe(self._systemd_changed)
        self.ctx.ticker.subscribe(self.actor_ref, min(self.interval, self.ttl / 4))
        self._reconcile()

    def on_stop(self) -> None:
        for name in list(self.current):
            self._run(core.Task(core.UNLOAD, name, "agent stopping"), None)

    def _systemd_changed(self, name: str, status: Any) -> None:
        # systemd's thread: only hand over; the agent's thread does the etcd writes
        if name in self.current:
            try:
                self.actor_ref.tell(UnitChanged(name, status))
            except Exception:  # the agent is stopping
                pass

    def on_tick(self, tick: Tick) -> None:
        now = self.ctx.clock.monotonic()
        if now >= self.next_refresh:
            self._refresh()
        if now >= self.next_reconcile:
            self._reconcile()

    def on_local(self, message: Any) -> Any:
        if isinstance(message, Wake):
            message.taken()
            self._reconcile()
        elif isinstance(message, UnitChanged):
            if message.name in self.current:
                self._publish(message.name, message.status)
        else:
            return super().on_local(message)
        return None

    # --- refresh what this agent reported (TTL agent-ttl) --------------------------------
    def _refresh(self) -> None:
        self.next_refresh = self.ctx.clock.monotonic() + self.ttl / 2
        try:
            for name, cur in self.current.items():
                self._publish(name, self.systemd.status(name))
                if cur.state == LAUNCHED:
                    self.registry.job_heartbeat(name, self.machine.id, self.ttl)
        except ETCD_ERRORS as exc:
            self.log.warning("fleet.state_refresh_failed", error=str(exc))

    # --- reconcile ------------------------------------------------------------------------
    def _reconcile(self) -> None:
        self.next_reconcile = self.ctx.clock.monotonic() + self.interval
        try:
            snap = self.registry.snapshot()
        except ETCD_ERRORS as exc:
            self.log.warning("fleet.agent_read_failed", error=str(exc))
            return
        if self.report_leader:  # no engine here to say who leads: read it from the registry
            self.status.set_leader(snap.lease.machine_id if snap.lease else None)
        # the registry's view of this machine holds metadata changed at run time too
        known = snap.machines.get(self.machine.id)
        metadata = known.metadata if known is not None else self.machine.metadata
        units = [
            RegistryUnit(
                name, job.unit_hash, requirements(name, unit), job.target_state, job.target
            )
            for name, job in snap.jobs.items()
            if (unit := snap.units.get(job.unit_hash)) is not None
        ]
        desired = core.desired_units(self.machine.id, metadata, units)
        for task in core.plan(desired, self.current):
            want = desired.get(task.name)
            self._run(task, snap, want.unit_hash if want else "")
        self.status.set_units(len(self.current))

    def _run(self, task: core.Task, snap: Snapshot | None, unit_hash: str = "") -> None:
        name, me = task.name, self.machine.id
        self.log("fleet.agent_task", task=task.kind, unit=name, reason=task.reason)
        try:
            if task.kind == core.LOAD:
                unit = snap.units.get(unit_hash) if snap is not None else None
                if unit is None:
                    return
                try:
                    self.systemd.load(name, unit_text(unit))
                except UnitFileError as exc:
                    self.log.error("fleet.unit_load_failed", unit=name, error=str(exc))
                core.apply(self.current, task, unit_hash)
                self._publish(name, self.systemd.status(name))
            elif task.kind == core.START:
                self.systemd.start(name)
                core.apply(self.current, task)
                self.registry.job_heartbeat(name, me, self.ttl)
            elif task.kind == core.STOP:
                self.systemd.stop(name)
                core.apply(self.current, task)
                self.registry.clear_job_heartbeat(name, me)
            elif task.kind == core.UNLOAD:
                self.systemd.unload(name)
                core.apply(self.current, task)
                self.registry.clear_job_heartbeat(name, me)
                self.registry.remove_state(name, me)
        except ETCD_ERRORS as exc:
            self.log.warning("fleet.agent_report_failed", unit=name, error=str(exc))

    def _publish(self, name: str, status: Any) -> None:
        cur = self.current.get(name)
        if cur is None:
            return
        state = UnitState(
            name=name,
            machine_id=self.machine.id,
            load_state=status.load_state,
            active_state=status.active_state,
            sub_state=status.sub_state,
            unit_hash=cur.unit_hash,
        )
        try:
            self.registry.save_state(state, self.machine, self.ttl)
        except ETCD_ERRORS as exc:
            self.log.warning("fleet.state_publish_failed", unit=name, error=str(exc))
