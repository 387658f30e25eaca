"""The engine's reconciler as a pure function: cluster state in, scheduling actions out.

Theory of operation (coreos/fleet ``engine/reconciler.go``, ``engine/state.go``,
``agent/state.go``):

- A machine's load is the number of units on it: the non-inactive jobs scheduled to it plus every
  Global unit whose MachineMetadata it meets (and that conflicts with nothing there).
- Pass 1, over scheduled jobs: a job is *unscheduled* when its target state is inactive, its
  machine went away, or the machine no longer fits it (MachineID, MachineMetadata, MachineOf,
  Conflicts). A job that fits but Replaces a unit on its machine pushes that unit elsewhere.
- Pass 2, over unscheduled jobs that should run: each goes to the least-loaded machine (ties by
  machine id) that meets every constraint; none fits → it stays unscheduled, tried next round.
- Each action updates the working state at once, so later decisions see earlier ones — two
  conflicting units never land on one machine in the same round.

Jobs are visited in name order (fleet walks a Go map, i.e. randomly) so a round is reproducible.
Two departures from fleet, both so that one round never leaves a placement that breaks a rule:
pass 1 repeats until it unschedules nothing (a unit whose MachineOf peer was unscheduled later in
the sweep goes too), and a unit pushed away by Replaces only goes to a machine that meets its own
constraints (fleet's ``DecideReschedule`` takes any other machine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from actors.fleet.records import INACTIVE
from actors.fleet.xfleet import Requirements, has_metadata

SCHEDULE, UNSCHEDULE, RESCHEDULE = "schedule", "unschedule", "reschedule"


@dataclass(frozen=True)
class Machine:
    id: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    def matches_id(self, wanted: str) -> bool:
        return wanted in (self.id, self.id[:8])


@dataclass(frozen=True)
class Job:
    name: str
    req: Requirements
    target_state: str
    target: str = ""  # the machine it is scheduled to ("" when unscheduled)


@dataclass(frozen=True)
class Action:
    kind: str  # SCHEDULE | UNSCHEDULE
    job: str
    machine_id: str
    reason: str


Load = dict[str, dict[str, Requirements]]  # machine id → units there (name → requirements)


def has_conflict(units: Mapping[str, Requirements], name: str, req: Requirements) -> str | None:
    """The unit already on a machine that conflicts with ``name`` (either way round), or None."""
    for other, oreq in units.items():
        if other != name and (oreq.conflicts_with(name) or req.conflicts_with(other)):
            return other
    return None


def replaced_unit(units: Mapping[str, Requirements], name: str, req: Requirements) -> str | None:
    """A unit on the machine that ``name`` replaces (a mutual pair is ignored, as fleet does)."""
    for other, oreq in sorted(units.items()):
        if other != name and req.replaces_unit(other) and not oreq.replaces_unit(name):
            return other
    return None


def replaced_by(units: Mapping[str, Requirements], name: str, req: Requirements) -> str | None:
    """A unit on the machine that replaces ``name`` (so ``name`` must go elsewhere)."""
    for other, oreq in sorted(units.items()):
        if other != name and oreq.replaces_unit(name) and not req.replaces_unit(other):
            return other
    return None


def able_to_run(machine: Machine, units: Mapping[str, Requirements], job: Job) -> tuple[str, str]:
    """(SCHEDULE | UNSCHEDULE | RESCHEDULE, reason) for ``job`` on ``machine`` holding ``units``."""
    req = job.req
    if req.machine_id is not None and not machine.matches_id(req.machine_id):
        return UNSCHEDULE, f"agent ID {machine.id!r} does not match required {req.machine_id!r}"
    if req.metadata and not has_metadata(machine.metadata, req.metadata):
        return UNSCHEDULE, "local Machine metadata insufficient"
    for peer in req.peers:
        if peer not in units:
            return UNSCHEDULE, f"required peer Unit({peer}) is not scheduled locally"
    conflict = has_conflict(units, job.name, req)
    if conflict is not None:
        return UNSCHEDULE, f"found conflict with locally-scheduled Unit({conflict})"
    replacer = replaced_by(units, job.name, req)
    if replacer is not None:
        return UNSCHEDULE, f"replaced by locally-scheduled Unit({replacer})"
    replaced = replaced_unit(units, job.name, req)
    if replaced is not None:
        return RESCHEDULE, f"found replace with locally-scheduled Unit({replaced})"
    return SCHEDULE, ""


class _Cluster:
    """The working state of one round."""

    def __init__(self, machines: Iterable[Machine], jobs: Iterable[Job]):
        self.machines = {m.id: m for m in machines}
        self.jobs: dict[str, Job] = {}
        self.globals: dict[str, Requirements] = {}
        for j in sorted(jobs, key=lambda j: j.name):
            if j.req.is_global:
                self.globals[j.name] = j.req
            else:
                self.jobs[j.name] = j

    def load(self) -> Load:
        units: Load = {mid: {} for mid in self.machines}
        for j in self.jobs.values():
            if j.target and j.target_state != INACTIVE and j.target in units:
                units[j.target][j.name] = j.req
        for name, req in self.globals.items():
            for mid, here in units.items():
                if not has_metadata(self.machines[mid].metadata, req.metadata):
                    continue
                if has_conflict(here, name, req) is None:
                    here[name] = req
        return units

    def by_load(self, load: Load) -> list[Machine]:
        return sorted(self.machines.values(), key=lambda m: (len(load[m.id]), m.id))

    def set_target(self, name: str, machine_id: str) -> None:
        self.jobs[name] = replace(self.jobs[name], target=machine_id)


def reconcile(machines: Iterable[Machine], jobs: Iterable[Job]) -> list[Action]:
    """The actions that bring the schedule in line with the jobs and the live machines."""
    cluster = _Cluster(machines, jobs)
    actions: list[Action] = []

    # until a sweep unschedules nothing (a unit may lose its peer late in a sweep); each sweep
    # that acts unschedules a job for good or moves a replaced one away from its replacer, so
    # len(jobs) + 1 sweeps always suffice
    for _ in range(len(cluster.jobs) + 1):
        swept = _unschedule_sweep(cluster)
        actions += swept
        if not swept:
            break

    for name in list(cluster.jobs):
        job = cluster.jobs[name]
        if job.target or job.target_state == INACTIVE:
            continue
        target = _decide(cluster, job)
        if target is not None:
            reason = f"target state {job.target_state} and unit not scheduled"
            actions.append(Action(SCHEDULE, name, target, reason))
            cluster.set_target(name, target)
            here = cluster.load()[target]
            if able_to_run(cluster.machines[target], here, cluster.jobs[name])[0] == RESCHEDULE:
                actions += _push_away(cluster, cluster.jobs[name], here)
    return actions


def _unschedule_sweep(cluster: _Cluster) -> list[Action]:
    """Pass 1 once over the scheduled jobs: unschedule what no longer fits, push away what a
    job replaces."""
    actions: list[Action] = []
    for name in list(cluster.jobs):
        job = cluster.jobs[name]
        if not job.target:
            continue
        if job.target_state == INACTIVE:
            kind, reason = UNSCHEDULE, "target state inactive"
        elif job.target not in cluster.machines:
            kind, reason = UNSCHEDULE, f"target Machine({job.target}) went away"
        else:
            load = cluster.load()
            kind, why = able_to_run(cluster.machines[job.target], load[job.target], job)
            reason = f"target Machine({job.target}) unable to run unit: {why}"
            if kind == RESCHEDULE:
                actions += _push_away(cluster, job, load[job.target])
                continue
        if kind == UNSCHEDULE:
            actions.append(Action(UNSCHEDULE, name, job.target, reason))
            cluster.set_target(name, "")
    return actions


def _decide(cluster: _Cluster, job: Job, avoid: str = "") -> str | None:
    load = cluster.load()
    for machine in cluster.by_load(load):
        if machine.id == avoid:
            continue
        if able_to_run(machine, load[machine.id], job)[0] != UNSCHEDULE:
            return machine.id
    return None


def _push_away(cluster: _Cluster, job: Job, here: Mapping[str, Requirements]) -> list[Action]:
    """``job`` replaces a unit on its machine: move that unit to another machine that fits it."""
    victim = replaced_unit(here, job.name, job.req)
    if victim is None or victim not in cluster.jobs:
        return []  # a Global unit cannot be pushed away
    reason = f"{job.name} replaces {victim} on Machine({job.target})"
    actions = [Action(UNSCHEDULE, victim, job.target, reason)]
    cluster.set_target(victim, "")
    target = _decide(cluster, cluster.jobs[victim], avoid=job.target)
    if target is not None:
        actions.append(Action(SCHEDULE, victim, target, reason))
        cluster.set_target(victim, target)
    return actions
