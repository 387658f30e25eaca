"""[X-Fleet] requirements of a unit and the checks fleet makes of them.

Read as fleet's ``job`` package reads them: every value may hold several quoted values
(``MachineMetadata="a=1" "b=2"``), the specifiers ``%n %N %p %i`` are expanded with the unit's
own name, ``Conflicts`` values split on whitespace, the last ``Global`` wins, and the deprecated
``X-Condition…`` spellings still count. :func:`validate_requirements` refuses the combinations
fleet's API refuses (``api.ValidateOptions``) plus a Replaces that names the unit itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from actors.unitfile import UnitFile
from actors.unitname import UnitNameError, parse_unit_name

SECTION = "X-Fleet"
KNOWN_KEYS = frozenset(
    {
        "MachineID",
        "X-ConditionMachineID",
        "X-ConditionMachineBootID",
        "X-ConditionMachineOf",
        "MachineOf",
        "X-Conflicts",
        "Conflicts",
        "X-ConditionMachineMetadata",
        "MachineMetadata",
        "Global",
        "Replaces",
    }
)
_TRUE = ("true", "yes", "1", "on", "t")


def split_multivalue(line: str) -> list[str]:
    """``"a=1" "b=2"`` → [a=1, b=2]; anything not wholly quoted stays one value."""
    if not (len(line) >= 2 and line.startswith('"') and line.endswith('"')):
        return [line]
    values, current, quoted = [], [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
    values.append("".join(current))
    return values


def _printf(value: str, name: str) -> str:
    try:
        info = parse_unit_name(name)
    except UnitNameError:
        return value
    for spec, repl in (("%n", info.full), ("%N", info.name), ("%p", info.prefix)):
        value = value.replace(spec, repl)
    return value.replace("%i", info.instance)


def glob_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match`` for unit names (no '/' in them): * ? and [...] classes."""
    return fnmatchcase(name, pattern)


@dataclass(frozen=True)
class Requirements:
    machine_id: str | None = None
    peers: tuple[str, ...] = ()  # MachineOf
    metadata: Mapping[str, frozenset[str]] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    is_global: bool = False
    unknown: tuple[str, ...] = ()  # [X-Fleet] keys fleet does not know (a warning)

    def conflicts_with(self, other: str) -> bool:
        return any(glob_match(p, other) for p in self.conflicts)

    def replaces_unit(self, other: str) -> bool:
        return any(glob_match(p, other) for p in self.replaces)


def requirements(name: str, unit: UnitFile) -> Requirements:
    """The [X-Fleet] requirements of the unit called ``name``."""
    values: dict[str, list[str]] = {}
    for opt in unit.options:
        if opt.section == SECTION:
            expanded = [_printf(v, name) for v in split_multivalue(opt.value)]
            values.setdefault(opt.name, []).extend(expanded)

    def get(*keys: str) -> list[str]:
        return [v for k in keys for v in values.get(k, [])]

    machine_id = next(
        (
            vs[0]
            for k in ("MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID")
            if (vs := values.get(k))
        ),
        None,
    )
    metadata: dict[str, set[str]] = {}
    for pair in get("X-ConditionMachineMetadata", "MachineMetadata"):
        parts = pair.split("=")
        if len(parts) == 2 and parts[0] and parts[1]:
            metadata.setdefault(parts[0], set()).add(parts[1])
    conflicts = [w for v in get("X-Conflicts", "Conflicts") for w in v.split()]
    glob = values.get("Global", [])
    return Requirements(
        machine_id=machine_id,
        peers=tuple(get("X-ConditionMachineOf", "MachineOf")),
        metadata={k: frozenset(v) for k, v in metadata.items()},
        conflicts=tuple(conflicts),
        replaces=tuple(get("Replaces")),
        is_global=bool(glob) and glob[-1].lower() in _TRUE,
        unknown=tuple(sorted(k for k in values if k not in KNOWN_KEYS)),
    )


def validate_requirements(name: str, req: Requirements) -> str | None:
    """Why fleet refuses this unit's [X-Fleet] combination, or None when it is acceptable."""
    for peer in req.peers:
        for conflict in req.conflicts:
            if glob_match(conflict, peer):
                return f"unresolvable requirements: peer {peer!r} matches conflict {conflict!r}"
        for replace in req.replaces:
            if glob_match(replace, peer):
                return f"unresolvable requirements: peer {peer!r} matches replace {replace!r}"
    target = req.machine_id is not None
    rules = (
        (target and bool(req.peers), "MachineID cannot be used with Peers"),
        (target and bool(req.conflicts), "MachineID cannot be used with Conflicts"),
        (target and req.is_global, "MachineID cannot be used with Global"),
        (target and bool(req.replaces), "MachineID cannot be used with Replaces"),
        (req.is_global and bool(req.peers), "Global cannot be used with Peers"),
        (req.is_global and bool(req.replaces), "Global cannot be used with Replaces"),
        (bool(req.conflicts) and bool(req.replaces), "Conflicts cannot be used with Replaces"),
    )
    for broken, message in rules:
        if broken:
            return message
    if name and req.replaces_unit(name):
        return f"unresolvable requirements: {name} replaces itself"
    return None


def circular_replaces(
    name: str, req: Requirements, others: Mapping[str, Requirements]
) -> str | None:
    """A Replaces loop between ``name`` and a unit already in the registry, or None."""
    for other, oreq in sorted(others.items()):
        if other != name and req.replaces_unit(other) and oreq.replaces_unit(name):
            return f"circular Replaces: {name} replaces {other}, which replaces {name}"
    return None


def has_metadata(machine_metadata: Mapping[str, str], wanted: Mapping[str, Iterable[str]]) -> bool:
    """Every required key present with one of its allowed values (keys AND, values OR)."""
    return all(machine_metadata.get(k) in set(vs) for k, vs in wanted.items())
