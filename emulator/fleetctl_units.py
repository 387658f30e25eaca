"""fleetctl's unit arguments: which file or template a name means, and whether it can be placed.

``hello@1.service`` with no such file is an instance of ``hello@.service``, taken from the registry
or else from the same directory, as fleetctl does. A unit already in the registry is left as it is
(with a warning when the local file differs) unless ``--replace``. Before a load or start writes
anything, :func:`check_schedulable` refuses a unit whose MachineID or MachineMetadata no machine
of the cluster meets — real fleet would accept it and leave it unscheduled for ever.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actors.fleet.client import FleetError, validate_unit
from actors.fleet.records import unit_hash
from actors.fleet.registry import Snapshot
from actors.fleet.xfleet import has_metadata, requirements
from actors.unitfile import UnitFile, UnitFileError, parse_unit
from actors.unitname import UNIT_TYPES, parse_unit_name


def append_default_type(arg: str) -> str:
    """fleetctl's maybeAppendDefaultUnitType: ``hello`` → ``hello.service``."""
    return arg if arg.rsplit(".", 1)[-1] in UNIT_TYPES and "." in arg else arg + ".service"


def unit_name_mangle(arg: str) -> str:
    return os.path.basename(append_default_type(arg))


@dataclass(frozen=True)
class Plan:
    name: str
    unit: UnitFile | None  # None: already in the registry, nothing to submit


def _read(path: Path) -> UnitFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetError(400, f"failed getting Unit({path}) from file: {exc.strerror}") from None
    try:
        return parse_unit(text, str(path), keep_continuations=True)
    except UnitFileError as exc:
        raise FleetError(400, f"failed getting Unit({path}) from file: {exc}") from None


class UnitSource:
    def __init__(self, snap: Snapshot, warn: Callable[[str], None]):
        self.snap = snap
        self.warn = warn

    def plan(self, arg: str, replace: bool = False) -> Plan:
        path = Path(append_default_type(arg))
        name = path.name
        existing = self.snap.unit_of(name)
        if existing is not None:
            local = self._local(path, name)
            if local is not None and unit_hash(local) != unit_hash(existing):
                if replace:
                    validate_unit(name, local, self.snap)
                    return Plan(name, local)
                self.warn(
                    f"WARNING: Unit {name} in registry differs from local unit file {path}. "
                    "Add --replace to override."
                )
            return Plan(name, None)
        unit = self._local(path, name)
        if unit is None:
            raise FleetError(404, f"unable to find Unit({name}) in Registry or on filesystem")
        validate_unit(name, unit, self.snap)
        return Plan(name, unit)

    def _local(self, path: Path, name: str) -> UnitFile | None:
        """The unit file for ``name``: the file itself, else its template (registry, then disk)."""
        if path.exists():
            return _read(path)
        try:
            info = parse_unit_name(name)
        except ValueError:
            return None
        if not info.is_instance:
            return None
        template = self.snap.unit_of(info.template)
        if template is not None:
            return template
        tpath = path.parent / info.template
        if tpath.exists():
            return _read(tpath)
        raise FleetError(
            404, f"unable to find template Unit({info.template}) in Registry or on filesystem"
        )


def check_schedulable(plans: list[Plan], snap: Snapshot) -> str | None:
    """Why one of the units can never be placed on the cluster's machines, or None."""
    for plan in plans:
        unit = plan.unit or snap.unit_of(plan.name)
        if unit is None:
            continue
        req = requirements(plan.name, unit)
        if req.is_global:
            continue
        if req.machine_id is not None:
            ids = [m.id for m in snap.machines.values()]
            if not any(req.machine_id in (i, i[:8]) for i in ids):
                return (
                    f"unit {plan.name} requires MachineID={req.machine_id}, "
                    f"and no machine of the cluster has that id (fleetctl list-machines -l)"
                )
        if req.metadata and not any(
            has_metadata(m.metadata, req.metadata) for m in snap.machines.values()
        ):
            wanted = " ".join(f"{k}={'|'.join(sorted(v))}" for k, v in sorted(req.metadata.items()))
            return (
                f"unit {plan.name} requires MachineMetadata {wanted}, "
                f"and no machine of the cluster has it (fleetctl list-machines)"
            )
    return None
