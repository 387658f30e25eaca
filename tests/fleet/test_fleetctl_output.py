"""fleetctl's listings, byte for byte as fleet's own fleetctl printed them for the same state."""

from __future__ import annotations

import argparse
import io

from fleet_fakes import FakeRegistry

from actors.fleet import records as r
from actors.fleet.client import FleetClient
from actors.fleet.registry import JobRecord
from actors.unitfile import parse_unit
from emulator.fleetctl import Command
from emulator.fleetctl_format import DEFAULT_FIELDS

M1, M2 = "23442c0725c1434ab3f6d34f9b0a1c3e", "c661ca7f0cbd4b8e8d2f86a5e4e0b7a1"
HELLO = (
    "[Unit]\nDescription=Hello from %i\n\n[Service]\nExecStart=/bin/sh -c 'while true; do echo "
    '"hello from %n"; sleep 1; done\'\n\n[X-Fleet]\nConflicts=hello@*.service\n'
)
MONITOR = (
    "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\nMachineMetadata=region=us-west\n"
)


def listing(command: str, **flags) -> str:
    reg = FakeRegistry()
    snap = reg.snap
    snap.machines[M1] = r.MachineState(M1, "127.0.61.5", {"region": "us-east"})
    snap.machines[M2] = r.MachineState(M2, "127.0.61.4", {"region": "us-west", "disk": "ssd"})
    hello, monitor = parse_unit(HELLO), parse_unit(MONITOR)
    for unit in (hello, monitor):
        snap.units[r.unit_hash(unit)] = unit
    h = r.unit_hash(hello)
    snap.jobs["hello@.service"] = JobRecord("hello@.service", h)
    snap.jobs["hello@1.service"] = JobRecord("hello@1.service", h, "launched", M1, M1)
    snap.jobs["west-monitor.service"] = JobRecord(
        "west-monitor.service", r.unit_hash(monitor), "launched"
    )
    for name, mid, uh in (("hello@1.service", M1, h), ("west-monitor.service", M2, "x" * 40)):
        snap.states[(name, mid)] = r.UnitState(name, mid, "loaded", "active", "running", uh)
    out = io.StringIO()
    ns = argparse.Namespace(fields=DEFAULT_FIELDS[command], full=False, no_legend=False, **flags)
    getattr(Command(FleetClient(reg), None, out, io.StringIO()), command.replace("-", "_"))(ns)
    return out.getvalue()


def test_list_unit_files():
    assert listing("list-unit-files") == (
        "UNIT\t\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\n"
        "hello@.service\t\te522a02\tinactive\tinactive\t-\n"
        "hello@1.service\t\te522a02\tlaunched\tlaunched\t23442c07.../127.0.61.5\n"
        "west-monitor.service\t"
        + r.unit_hash(parse_unit(MONITOR))[:7]
        + "\tlaunched\t-\t\tglobal\n"
    )


def test_list_units():
    assert listing("list-units") == (
        "UNIT\t\t\tMACHINE\t\t\tACTIVE\tSUB\n"
        "hello@1.service\t\t23442c07.../127.0.61.5\tactive\trunning\n"
        "west-monitor.service\tc661ca7f.../127.0.61.4\tactive\trunning\n"
    )


def test_list_machines():
    assert listing("list-machines") == (
        "MACHINE\t\tIP\t\tMETADATA\n"
        "23442c07...\t127.0.61.5\tregion=us-east\n"
        "c661ca7f...\t127.0.61.4\tdisk=ssd,region=us-west\n"
    )
