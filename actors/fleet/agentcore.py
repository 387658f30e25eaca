"""The agent's reconciler as pure functions: what should run here, and the tasks to get there.

Theory of operation (coreos/fleet ``agent/reconcile.go``):

- Desired: every job scheduled to this machine, plus every Global unit whose MachineMetadata this
  machine has — skipping a unit that conflicts with one already taken (units in name order).
- Current: what the agent itself loaded into systemd, with the unit hash and state it reached
  (loaded or launched).
- Tasks per unit: not desired (or desired inactive) → unload; not loaded → load (and start if
  launched is wanted); loaded with another hash → unload, load (and start); loaded but launched
  wanted → start; launched but loaded wanted → stop.
- Unloads and stops come before loads and starts across all units, so a unit leaving this machine
  frees its resources (ports, container names) before a replacement starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from actors.fleet.records import INACTIVE, LAUNCHED, LOADED
from actors.fleet.scheduler import has_conflict
from actors.fleet.xfleet import Requirements, has_metadata

LOAD, UNLOAD, START, STOP = "load", "unload", "start", "stop"
_ORDER = {UNLOAD: 0, STOP: 1, LOAD: 2, START: 3}


@dataclass(frozen=True)
class RegistryUnit:
    name: str
    unit_hash: str
    req: Requirements
    target_state: str
    target: str = ""  # machine id it is scheduled to (non-global units)


@dataclass(frozen=True)
class Desired:
    name: str
    unit_hash: str
    target_state: str


@dataclass(frozen=True)
class Current:
    unit_hash: str
    state: str  # LOADED | LAUNCHED


@dataclass(frozen=True)
class Task:
    kind: str  # LOAD | UNLOAD | START | STOP
    name: str
    reason: str


def desired_units(
    machine_id: str, metadata: Mapping[str, str], units: list[RegistryUnit]
) -> dict[str, Desired]:
    """The units this machine should have, with the state each should reach."""
    taken: dict[str, Requirements] = {}
    out: dict[str, Desired] = {}
    for u in sorted(units, key=lambda u: u.name):
        if u.req.is_global:
            if not has_metadata(metadata, u.req.metadata):
                continue
        elif u.target != machine_id:
            continue
        if has_conflict(taken, u.name, u.req) is not None:
            continue
        taken[u.name] = u.req
        out[u.name] = Desired(u.name, u.unit_hash, u.target_state)
    return out


def plan(desired: Mapping[str, Desired], current: Mapping[str, Current]) -> list[Task]:
    """The systemd tasks that take ``current`` to ``desired``, stops and unloads first."""
    tasks: list[Task] = []
    for name in sorted(set(desired) | set(current)):
        want, have = desired.get(name), current.get(name)
        if want is None or want.target_state == INACTIVE:
            if have is not None:
                tasks.append(Task(UNLOAD, name, "loaded but not scheduled here"))
            continue
        launch = want.target_state == LAUNCHED
        if have is None or have.unit_hash != want.unit_hash:
            if have is not None:
                tasks.append(Task(UNLOAD, name, "loaded unit's hash differs"))
            tasks.append(Task(LOAD, name, "scheduled here but not loaded"))
            if launch:
                tasks.append(Task(START, name, "loaded, desired state launched"))
        elif have.state == LOADED and launch:
            tasks.append(Task(START, name, "loaded, desired state launched"))
        elif have.state == LAUNCHED and want.target_state == LOADED:
            tasks.append(Task(STOP, name, "launched, desired state loaded"))
    return sorted(tasks, key=lambda t: _ORDER[t.kind])  # stable: name order within a kind


def apply(current: dict[str, Current], task: Task, unit_hash: str = "") -> None:
    """Record in ``current`` what a finished task changed."""
    if task.kind == UNLOAD:
        current.pop(task.name, None)
    elif task.kind == LOAD:
        current[task.name] = Current(unit_hash, LOADED)
    elif task.kind == START:
        current[task.name] = Current(current[task.name].unit_hash, LAUNCHED)
    elif task.kind == STOP:
        current[task.name] = Current(current[task.name].unit_hash, LOADED)
