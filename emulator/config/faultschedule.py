"""The fault schedule of a cluster file: its ``faults:`` list read into timed fault entries.

Each entry is a mapping with ``at`` (when the fault starts, counted from when the cluster is up)
and at most one of ``for`` (how long it lasts) and ``until`` (when it ends); the rest of the
mapping is the fault itself, checked by :func:`emulator.faults.parse_fault` against the node
names. Problems go to the :class:`ProblemLog` with the line of the key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Kind, Loc, ProblemLog, YNode
from emulator.faults import FaultError, FaultSpec, parse_fault


@dataclass(frozen=True)
class FaultEntry:
    at: float  # seconds after the cluster is up
    duration: float | None  # seconds; None: until cleared or for good
    spec: FaultSpec
    line: int | None

    @property
    def end(self) -> float | None:
        return None if self.duration is None else self.at + self.duration


def read_faults(node: YNode | None, names: list[str] | None, log: ProblemLog) -> list[FaultEntry]:
    """The ``faults:`` list, each entry checked; a bad entry is logged and left out."""
    if node is None or node.is_null:
        return []
    if node.kind is not Kind.SEQ:
        log.error(node, f"expected a list of faults, got {node.describe()}")
        return []
    return [f for f in (_fault(item, names, log) for item in node.items) if f is not None]


def _fault(item: YNode, names: list[str] | None, log: ProblemLog) -> FaultEntry | None:
    if item.kind is not Kind.MAP:
        log.error(
            item, f"a fault is a mapping like {{at: 20s, kill: core-02}}, got {item.describe()}"
        )
        return None
    at = duration = None
    at_e, for_e, until_e = item.get("at"), item.get("for"), item.get("until")
    if at_e is None:
        log.error(item, "'at' is required (when the fault starts, like 5s)")
    else:
        at = _seconds(at_e.node, log, positive=False)
    if for_e is not None and until_e is not None:
        log.error(until_e, "give 'for' or 'until', not both")
    elif for_e is not None:
        duration = _seconds(for_e.node, log, positive=True)
    elif until_e is not None:
        until = _seconds(until_e.node, log, positive=False)
        if until is not None and at is not None:
            if until <= at:
                log.error(until_e.node, f"until ({until:g}s) must be after at ({at:g}s)")
            else:
                duration = until - at
    rest = {
        e.key: e.node.to_plain()
        for e in item.entries
        if ys.norm(e.key) not in ("at", "for", "until")
    }
    try:
        spec = parse_fault(rest, names)
    except FaultError as exc:
        entry = item.get(exc.key) if exc.key else None
        log.error(
            entry or Loc(item.line, ys.child_path(item.path, exc.key) if exc.key else item.path),
            exc.message,
        )
        return None
    if at is None:
        return None
    return FaultEntry(at, duration, spec, item.line)


def _seconds(node: YNode, log: ProblemLog, *, positive: bool) -> float | None:
    try:
        return ys.seconds(node, positive=positive)
    except ValueError as exc:
        log.error(node, str(exc))
        return None
