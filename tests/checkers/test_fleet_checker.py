"""fleet-placement verdicts from hand-made fleet snapshots."""

from __future__ import annotations

from emulator.checkers.fleet import check_fleet, placement_problems
from emulator.checkers.registry import RunData

HELLO = [{"section": "X-Fleet", "name": "Conflicts", "value": "hello@*.service"},
         {"section": "Service", "name": "ExecStart", "value": "/bin/true"}]  # fmt: skip
WEST = [{"section": "X-Fleet", "name": "MachineMetadata", "value": "region=us-west"},
        {"section": "Service", "name": "ExecStart", "value": "/bin/true"}]  # fmt: skip


def snapshot(placement: dict[str, tuple[str, list]], states=None, machines=("m1", "m2")):
    units = [{"name": n, "options": opts, "desiredState": "launched", "currentState": "launched",
              "machineID": m} for n, (m, opts) in placement.items()]  # fmt: skip
    meta = {"m1": {"region": "us-east"}, "m2": {"region": "us-west"}}
    return {
        "units": units,
        "machines": [{"id": m, "metadata": meta.get(m, {})} for m in machines],
        "states": states
        if states is not None
        else [
            {"name": n, "machineID": m, "systemdActiveState": "active"}
            for n, (m, _) in placement.items()
        ],
    }


def test_units_spread_by_their_conflicts_are_valid():
    snap = snapshot({"hello@1.service": ("m1", HELLO), "hello@2.service": ("m2", HELLO)})
    assert placement_problems(snap) == []
    data = RunData([{"type": "fleet", "event": "snapshot", **snap}], [], {}, [], [], {})
    assert check_fleet(data).valid is True


def test_two_conflicting_units_on_one_machine_are_reported():
    snap = snapshot({"hello@1.service": ("m1", HELLO), "hello@2.service": ("m1", HELLO)})
    assert any("conflicts" in p for p in placement_problems(snap))


def test_metadata_dead_machines_and_inactive_units_are_reported():
    assert placement_problems(snapshot({"w.service": ("m2", WEST)})) == []
    assert any("metadata" in p for p in placement_problems(snapshot({"w.service": ("m1", WEST)})))
    dead = snapshot({"hello@1.service": ("m9", HELLO)})
    assert any("not a live machine" in p for p in placement_problems(dead))
    failed = snapshot({"hello@1.service": ("m1", HELLO)}, states=[
        {"name": "hello@1.service", "machineID": "m1", "systemdActiveState": "failed"}])  # fmt: skip
    assert any("failed" in p for p in placement_problems(failed))


def test_no_snapshot_is_unknown():
    assert check_fleet(RunData([], [], {}, [], [], {})).valid == "unknown"
