"""fleetctl's unit arguments: files, templates from the registry or disk, placement checks."""

from __future__ import annotations

import pytest

from actors.fleet import records as r
from actors.fleet.client import FleetError
from actors.fleet.registry import JobRecord, Snapshot
from actors.unitfile import parse_unit
from emulator.fleetctl_units import Plan, UnitSource, check_schedulable

TEMPLATE = "[Service]\nExecStart=/bin/echo %i\n[X-Fleet]\nConflicts=web@*.service\n"


def snap_with(name=None, text=TEMPLATE, machines=()):
    snap = Snapshot()
    for m in machines:
        snap.machines[m.id] = m
    if name:
        unit = parse_unit(text)
        snap.units[r.unit_hash(unit)] = unit
        snap.jobs[name] = JobRecord(name, r.unit_hash(unit))
    return snap


def test_local_file(tmp_path):
    (tmp_path / "web@.service").write_text(TEMPLATE)
    plan = UnitSource(Snapshot(), print).plan(str(tmp_path / "web@.service"))
    assert plan.name == "web@.service" and plan.unit == parse_unit(TEMPLATE)


def test_instance_from_the_registry_template(tmp_path):
    plan = UnitSource(snap_with("web@.service"), print).plan(str(tmp_path / "web@1.service"))
    assert plan == Plan("web@1.service", parse_unit(TEMPLATE))


def test_instance_from_a_template_file_beside_it(tmp_path):
    (tmp_path / "web@.service").write_text(TEMPLATE)
    plan = UnitSource(Snapshot(), print).plan(str(tmp_path / "web@2"))
    assert plan.name == "web@2.service" and plan.unit is not None


def test_missing_unit_and_template(tmp_path):
    with pytest.raises(FleetError, match="unable to find Unit"):
        UnitSource(Snapshot(), print).plan(str(tmp_path / "nope.service"))
    with pytest.raises(FleetError, match=r"unable to find template Unit\(web@.service\)"):
        UnitSource(Snapshot(), print).plan(str(tmp_path / "web@3.service"))


def test_existing_unit_is_kept_and_a_changed_file_warned_about(tmp_path):
    (tmp_path / "web@.service").write_text(TEMPLATE + "# changed\nDescription=x\n")
    warnings = []
    plan = UnitSource(snap_with("web@.service"), warnings.append).plan(
        str(tmp_path / "web@.service")
    )
    assert plan.unit is None and "differs from local unit file" in warnings[0]
    replaced = UnitSource(snap_with("web@.service"), print).plan(
        str(tmp_path / "web@.service"), replace=True
    )
    assert replaced.unit is not None


def test_malformed_file_names_its_line(tmp_path):
    (tmp_path / "bad.service").write_text("[Service]\nExecStart\n")
    with pytest.raises(FleetError, match=r"bad.service:2: expected 'Name=Value'"):
        UnitSource(Snapshot(), print).plan(str(tmp_path / "bad.service"))


def test_schedulable_checks():
    ms = [r.MachineState("a" * 32, "", {"region": "w"}), r.MachineState("b" * 32, "", {})]
    snap = snap_with(machines=ms)

    def plan(xfleet):
        return [
            Plan("x.service", parse_unit(f"[Service]\nExecStart=/bin/true\n[X-Fleet]\n{xfleet}\n"))
        ]

    assert check_schedulable(plan("MachineMetadata=region=w"), snap) is None
    assert "MachineMetadata region=e" in check_schedulable(plan("MachineMetadata=region=e"), snap)
    assert check_schedulable(plan("MachineID=bbbbbbbb"), snap) is None
    assert "MachineID=cccc" in check_schedulable(plan("MachineID=cccc"), snap)
    assert check_schedulable(plan("Global=true\nMachineMetadata=region=e"), snap) is None
