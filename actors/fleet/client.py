"""fleet's client API over the registry: what fleet's API v1 serves and fleetctl's etcd driver does.

Units, machines and unit states in fleet's API schema (``schema/v1.json``: ``name``, ``options`` as
section/name/value, ``desiredState``, ``currentState``, ``machineID``; empty fields left out as Go's
``omitempty`` does), and the checks fleet makes before it writes (unit name, the unit file,
[X-Fleet] combinations, templates cannot be activated). A refused request changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.fleet import records as r
from actors.fleet.registry import Registry, Snapshot
from actors.fleet.xfleet import circular_replaces, requirements, validate_requirements
from actors.unitfile import UnitFile, UnitFileError, UnitOption, parse_unit, serialize
from actors.unitname import UnitNameError, parse_unit_name, validate_unit_name

_METADATA_PATH = re.compile(r"^/([^/]+)/metadata/([A-Za-z0-9_.-]+)$")


class FleetError(Exception):
    """A refused request: ``code`` is the HTTP status fleet's API answers with."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def options_json(unit: UnitFile) -> list[dict[str, str]]:
    return [{"section": o.section, "name": o.name, "value": o.value} for o in unit.options]


def unit_from_json(options: Any) -> UnitFile:
    if not isinstance(options, list):
        raise FleetError(400, "unable to decode body: options must be a list")
    out = []
    for i, o in enumerate(options):
        if not isinstance(o, Mapping):
            raise FleetError(400, f"unable to decode body: options[{i}] is not an object")
        out.append(UnitOption(str(o.get("section", "")), str(o.get("name", "")),
                              str(o.get("value", ""))))  # fmt: skip
    return UnitFile(tuple(out))


def _omit_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", None, [], {})}


def machine_json(ms: r.MachineState) -> dict[str, Any]:
    return _omit_empty({"id": ms.id, "primaryIP": ms.public_ip, "metadata": dict(ms.metadata)})


def validate_unit(name: str, unit: UnitFile, snap: Snapshot | None = None) -> list[str]:
    """Raise FleetError(400) for a unit fleet refuses; return warnings (unknown [X-Fleet] keys)."""
    try:
        validate_unit_name(name)
    except UnitNameError as exc:
        raise FleetError(400, str(exc)) from None
    try:  # the options must survive go-systemd's serialize → deserialize, as fleet checks
        parse_unit(serialize(unit.options), name, keep_continuations=True)
    except UnitFileError as exc:
        raise FleetError(400, f"unit {name}: {exc.message}") from None
    req = requirements(name, unit)
    problem = validate_requirements(name, req)
    if problem is None and snap is not None:
        others = {n: requirements(n, u) for n in snap.jobs if (u := snap.unit_of(n)) is not None}
        problem = circular_replaces(name, req, others)
    if problem is not None:
        raise FleetError(400, problem)
    return [f"unrecognized requirement in [X-Fleet] section: {k!r}" for k in req.unknown]


class FleetClient:
    def __init__(self, registry: Registry):
        self.registry = registry

    def snapshot(self) -> Snapshot:
        return self.registry.snapshot()

    # --- reads ----------------------------------------------------------------------------
    def units(self, snap: Snapshot | None = None) -> list[dict[str, Any]]:
        snap = snap or self.snapshot()
        return [u for n in snap.jobs if (u := self.unit(n, snap, listing=True)) is not None]

    def unit(self, name: str, snap: Snapshot | None = None, listing=False) -> dict[str, Any] | None:
        snap = snap or self.snapshot()
        job, unit = snap.jobs.get(name), snap.unit_of(name)
        if job is None or unit is None:
            return None
        is_global = requirements(name, unit).is_global
        out: dict[str, Any] = {
            "name": name,
            "options": options_json(unit),
            "desiredState": job.target_state,
        }
        if not is_global:
            out["currentState"] = job.current_state(snap.states)
            out["machineID"] = job.target
        elif listing:  # fleet's list carries the (always inactive) schedule of a global unit
            out["currentState"] = r.INACTIVE
        return _omit_empty(out)

    def machines(self, snap: Snapshot | None = None) -> list[dict[str, Any]]:
        snap = snap or self.snapshot()
        return [machine_json(m) for m in snap.machines.values()]

    def unit_states(
        self, snap: Snapshot | None = None, machine_id: str = "", unit_name: str = ""
    ) -> list[dict[str, Any]]:
        snap = snap or self.snapshot()
        out = []
        for (name, _mid), st in sorted(snap.states.items()):
            if (machine_id and machine_id != st.machine_id) or (unit_name and unit_name != name):
                continue
            out.append(_omit_empty({
                "name": name, "hash": st.unit_hash, "machineID": st.machine_id,
                "systemdLoadState": st.load_state, "systemdActiveState": st.active_state,
                "systemdSubState": st.sub_state,
            }))  # fmt: skip
        return out

    # --- writes ---------------------------------------------------------------------------
    def put_unit(self, name: str, body: Mapping[str, Any]) -> int:
        """fleet's ``PUT /units/<name>``: create, replace or set the desired state; the status."""
        body_name = body.get("name") or name
        if body_name != name:
            raise FleetError(
                400, f"name in URL {name!r} differs from unit name in request body {body_name!r}"
            )
        try:
            validate_unit_name(name)
        except UnitNameError as exc:
            raise FleetError(400, str(exc)) from None
        desired = str(body.get("desiredState") or "")
        if desired and desired not in r.JOB_STATES:
            raise FleetError(400, f"invalid value {desired!r} for JobState")
        snap = self.snapshot()
        existing = snap.unit_of(name)
        options = body.get("options") or []
        new = existing is None
        if existing is None and not options:
            raise FleetError(409, "unit does not exist and options field empty")
        unit = unit_from_json(options) if options else existing
        if existing is not None and options:
            new = r.unit_hash(unit) != r.unit_hash(existing)
        if new:
            validate_unit(name, unit, snap)
            self.registry.create_unit(name, unit, desired or r.INACTIVE)
            return 201
        if not desired:
            raise FleetError(409, "must provide DesiredState to update existing unit")
        if parse_unit_name(name).is_template and desired != r.INACTIVE:
            raise FleetError(400, f"cannot activate template {name!r}")
        self.registry.set_target_state(name, desired)
        return 204

    def create_unit(self, name: str, unit: UnitFile, desired: str = r.INACTIVE) -> list[str]:
        """Validate and store a unit (fleetctl submit); returns warnings."""
        warnings = validate_unit(name, unit, self.snapshot())
        self.registry.create_unit(name, unit, desired)
        return warnings

    def set_target_state(self, name: str, state: str) -> None:
        if parse_unit_name(name).is_template and state != r.INACTIVE:
            raise FleetError(400, f"cannot activate template {name!r}")
        self.registry.set_target_state(name, state)

    def patch_machines(self, ops: Any) -> None:
        """fleet's ``PATCH /machines``: set or remove machines' dynamic metadata; all checked first."""
        if not isinstance(ops, list):
            raise FleetError(
                400, "json: cannot unmarshal object into Go value of type []api.machineMetadataOp"
            )
        changes = []
        for op in ops:
            kind = op.get("op") if isinstance(op, Mapping) else None
            if kind not in ("add", "remove", "replace"):
                raise FleetError(400, "invalid op: expect add, remove, or replace")
            match = _METADATA_PATH.match(str(op.get("path", "")))
            if match is None:
                raise FleetError(400, "machine metadata path invalid")
            value = op.get("value") or op.get("Value") or {}
            value = str(value.get("value", "") if isinstance(value, Mapping) else "")
            if kind != "remove" and not value:
                raise FleetError(400, "invalid value: add and replace require a value")
            changes.append((match.group(1), match.group(2), "" if kind == "remove" else value))
        for machine_id, key, value in changes:  # "" removes: fleet's mergeMetadata drops it
            self.registry.set_machine_metadata(machine_id, key, value)

    def destroy_unit(self, name: str) -> None:
        if not self.registry.destroy_unit(name):
            raise FleetError(404, "unit does not exist")


@dataclass(frozen=True)
class PageToken:
    """fleet's page token: little-endian uint16 limit and page, URL-safe base64."""

    limit: int
    page: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(struct.pack("<HH", self.limit, self.page)).decode()

    @classmethod
    def decode(cls, text: str, limit: int) -> PageToken:
        try:
            lim, page = struct.unpack("<HH", base64.urlsafe_b64decode(text.encode()))
        except (binascii.Error, struct.error, ValueError):
            raise FleetError(400, "illegal base64 data or short page token") from None
        if lim != limit:
            raise FleetError(400, f"token limit must be {limit}")
        if page == 0:
            raise FleetError(400, "token page must be greater than zero")
        return cls(lim, page)


def page(items: list[Any], token: PageToken) -> tuple[list[Any], str]:
    """One page of ``items`` and the next page's token ("" on the last page)."""
    start, stop = (token.page - 1) * token.limit, token.page * token.limit
    if start >= len(items):
        return [], ""
    # as fleet: a page that ends exactly at the last item still names a (empty) next page
    nxt = PageToken(token.limit, token.page + 1).encode() if stop <= len(items) else ""
    return items[start:stop], nxt
