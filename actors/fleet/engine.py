"""fleet's engine: one leader in the cluster by a CAS + TTL lease, scheduling jobs onto machines.

Every engine-reconcile-interval each node's engine takes part (unless disable-engine): it renews
the lease ``lease/engine-leader`` if it holds it (CAS on the lease's modifiedIndex), else tries to
create it (prevExist=false). The lease lives 5 intervals, as in fleet, so a dead leader's lease
expires and another engine takes it. Only the holder reconciles: it reads the registry in one
request, asks the pure :func:`~actors.fleet.scheduler.reconcile` what to change and writes the
changes (schedule: create ``target`` if absent; unschedule: delete it if it still names the
machine). A watch on the registry wakes the leader early.

All etcd traffic is blocking HTTP from this actor's own thread; a slow etcd slows only this actor.
"""

from __future__ import annotations

from typing import Any

from actors.fleet.registry import Lease, Registry, Snapshot
from actors.fleet.scheduler import SCHEDULE, Job, Machine, reconcile
from actors.fleet.watcher import Wake
from actors.fleet.xfleet import requirements
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError
from emulator.nodectx import NodeActor, NodeContext
from emulator.ticker import Tick

LEASE_INTERVALS = 5  # fleet: leaseTTL = 5 × reconcile interval
ETCD_ERRORS = (EtcdError, ClusterError, ClientError, OSError)


def engine_wants(action: str, key: str) -> bool:
    """Registry changes that can change the schedule: jobs (not their heartbeats), machines
    joining or leaving (not their refreshes), machine metadata."""
    if key.startswith("job/"):
        return not key.endswith("/job-state")
    if key.startswith("machines/"):
        return action in ("create", "expire", "delete") or "/metadata/" in key
    return False


def jobs_of(snap: Snapshot) -> list[Job]:
    jobs = []
    for name, rec in snap.jobs.items():
        unit = snap.units.get(rec.unit_hash)
        if unit is not None:
            jobs.append(Job(name, requirements(name, unit), rec.target_state, rec.target))
    return jobs


class FleetEngine(NodeActor):
    actor_name = "fleet-engine"

    def __init__(self, ctx: NodeContext, registry: Registry, interval: float, status: Any):
        super().__init__(ctx)
        self.registry = registry
        self.interval = interval
        self.lease_ttl = LEASE_INTERVALS * interval
        self.status = status  # actors.fleet.part.FleetStatus
        self.lease: Lease | None = None
        self.leader_until = 0.0  # monotonic time our lease surely lasts until

    def on_start(self) -> None:
        self.ctx.ticker.subscribe(self.actor_ref, self.interval)
        self._round(renew=True)

    def on_stop(self) -> None:
        if self.lease is not None:  # hand over at once rather than after the TTL (fleet's Purge)
            try:
                self.registry.release_lease(self.lease)
            except ETCD_ERRORS:
                pass

    def on_tick(self, tick: Tick) -> None:
        self._round(renew=True)

    def on_local(self, message: Any) -> Any:
        if isinstance(message, Wake):
            message.taken()
            if self.lease is not None:
                self._round(renew=False)
            return None
        return super().on_local(message)

    def _round(self, renew: bool) -> None:
        """Renew or seek the lease (ticks only); the leader then reads the registry and acts.
        An engine that does not lead reads only the lease key: idle clusters stay cheap."""
        try:
            if renew:
                self._lead()
            if self.lease is None or self.ctx.clock.monotonic() >= self.leader_until:
                return
            snap = self.registry.snapshot()
            if not self.registry.ensure_engine_version(snap.engine_version):
                self._lost("cluster engine version is newer than ours")
                return
            self._reconcile(snap)
        except ETCD_ERRORS as exc:
            self.log.warning("fleet.engine_round_failed", error=str(exc))

    def _lead(self) -> None:
        me = self.ctx.machine_id
        started = self.ctx.clock.monotonic()
        if self.lease is None:
            current = self.registry.get_lease()
            if current is not None and current.machine_id != me:
                self.status.set_leader(current.machine_id)
                return
            if current is None:
                got = self.registry.acquire_lease(me, self.lease_ttl)
                if got is None:  # another engine was quicker
                    current = self.registry.get_lease()
                    self.status.set_leader(current.machine_id if current else None)
                    return
                self.lease = got
                self.leader_until = started + self.lease_ttl
                self.log("fleet.engine_leader_acquired", machine_id=me)
                self.status.set_leader(me)
                return
            self.lease = current  # held by this machine before a restart: renew it, as fleet does
        renewed = self.registry.renew_lease(self.lease, self.lease_ttl)
        if renewed is None:
            self._lost("renewal failed: the lease changed hands or expired")
            return
        self.lease = renewed
        self.leader_until = started + self.lease_ttl
        self.status.set_leader(me)

    def _lost(self, why: str) -> None:
        if self.lease is not None:
            self.log.warning("fleet.engine_leadership_lost", reason=why)
        self.lease = None
        self.leader_until = 0.0
        self.status.set_leader(None)

    def _reconcile(self, snap: Snapshot) -> None:
        machines = [Machine(m.id, dict(m.metadata)) for m in snap.machines.values()]
        for action in reconcile(machines, jobs_of(snap)):
            try:
                if action.kind == SCHEDULE:
                    self.registry.schedule(action.job, action.machine_id)
                else:
                    self.registry.unschedule(action.job, action.machine_id)
            except EtcdError as exc:  # someone changed it meanwhile: the next round sees it
                self.log.warning("fleet.engine_task_failed", task=action.kind, unit=action.job,
                                 error=str(exc))  # fmt: skip
                continue
            self.log(
                f"fleet.engine_{action.kind}",
                unit=action.job,
                machine_id=action.machine_id,
                reason=action.reason,
            )
