"""The ``fleet-placement`` checker: from the last fleet snapshot a scenario recorded, every unit
wanted launched runs on a live machine, as its ``[X-Fleet]`` section allows (MachineMetadata,
MachineID, Conflicts), and systemd there reports it active. Not run by default."""

from __future__ import annotations

from typing import Any

from actors.fleet.client import unit_from_json
from actors.fleet.scheduler import has_conflict
from actors.fleet.xfleet import has_metadata, requirements
from emulator.checkers.registry import RunData, Verdict, register


def placement_problems(snapshot: dict[str, Any]) -> list[str]:
    machines = {m["id"]: m for m in snapshot.get("machines", [])}
    active = {(s["name"], s.get("machineID")): s.get("systemdActiveState")
              for s in snapshot.get("states", [])}  # fmt: skip
    placed: dict[str, dict[str, Any]] = {}  # machine -> {unit: requirements}
    problems = []
    for u in snapshot.get("units", []):
        name = u["name"]
        req = requirements(name, unit_from_json(u.get("options", [])))
        if req.is_global or u.get("desiredState") != "launched":
            continue
        where = u.get("machineID")
        if not where or where not in machines:
            problems.append(f"{name}: wanted launched, scheduled on {where or 'no machine'} "
                            "(not a live machine)")  # fmt: skip
            continue
        if u.get("currentState") != "launched":
            problems.append(f"{name}: wanted launched, is {u.get('currentState')} on {where[:8]}")
        if active.get((name, where)) != "active":
            problems.append(f"{name}: systemd on {where[:8]} says {active.get((name, where))}")
        if req.metadata and not has_metadata(machines[where].get("metadata", {}), req.metadata):
            problems.append(f"{name}: on {where[:8]} whose metadata does not match")
        if req.machine_id and not where.startswith(req.machine_id):
            problems.append(f"{name}: on {where[:8]}, required machine {req.machine_id}")
        here = placed.setdefault(where, {})
        other = has_conflict(here, name, req)
        if other is not None:
            problems.append(f"{name}: on {where[:8]} with {other}, which it conflicts with")
        here[name] = req
    return problems


@register(
    "fleet-placement", "units wanted launched run on live machines as [X-Fleet] allows", False
)
def check_fleet(data: RunData) -> Verdict:
    snaps = [e for e in data.history if e.get("type") == "fleet" and e.get("event") == "snapshot"]
    if not snaps:
        return Verdict("fleet-placement", "unknown", "no fleet snapshot recorded (fleet-snapshot)")
    snap = snaps[-1]
    wanted = [u for u in snap.get("units", []) if u.get("desiredState") == "launched"]
    problems = placement_problems(snap)
    details = {"units": {u["name"]: u.get("machineID") for u in snap.get("units", [])}}
    if problems:
        return Verdict("fleet-placement", False, f"{len(problems)} placement problem(s)",
                       details, problems)  # fmt: skip
    return Verdict("fleet-placement", True,
                   f"{len(wanted)} unit(s) launched on live machines as their constraints allow",
                   details)  # fmt: skip
