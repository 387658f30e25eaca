"""The fault vocabulary: one description for config files and for ``run.py fault`` alike.

A fault is a mapping with exactly one kind key and optional modifiers::

    partition: [core-01, "core-02,core-03"]   # sides; or a mode: random-halves, bridge, majorities-ring
    one-way: true                             # partition: only the first side's sends are lost
    drop: 30%        nodes: [core-01]   to: [core-02]
    delay: 200ms     jitter: 50ms
    duplicate: 10%   reorder: 20%
    kill | stop | pause | resume | restart: core-02      # or all, random, leader, ...
    lose-unsynced: true                       # kill: also drop what the node had not fsynced
    disk-slow: 50ms  jitter: 20ms  nodes: leader         # disk and clock faults: see
    disk-full | disk-corrupt: core-02                    # emulator.nodefaults
    clock-skew: +30s | clock-strobe: 200ms period: 10ms | clock-rate: 3x   nodes: core-01
    clear: true

:func:`parse_fault` checks the shape and names and returns a :class:`FaultSpec`; nothing here
resolves selectors such as ``random`` or ``leader`` — that happens when the fault starts
(:mod:`emulator.netrules` for links, the supervisor for processes).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class FaultKind(str, Enum):
    PARTITION = "partition"
    DROP = "drop"
    DELAY = "delay"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    KILL = "kill"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"
    DISK_SLOW = "disk-slow"
    DISK_FULL = "disk-full"
    DISK_CORRUPT = "disk-corrupt"
    CLOCK_SKEW = "clock-skew"
    CLOCK_STROBE = "clock-strobe"
    CLOCK_RATE = "clock-rate"
    UPDATE_SERVICE = "update-service"  # the run's update service: down | up
    CLEAR = "clear"


NETWORK_KINDS = frozenset(
    {FaultKind.PARTITION, FaultKind.DROP, FaultKind.DELAY, FaultKind.DUPLICATE, FaultKind.REORDER}
)
PROCESS_KINDS = frozenset(
    {FaultKind.KILL, FaultKind.STOP, FaultKind.PAUSE, FaultKind.RESUME, FaultKind.RESTART}
)
# Disk and clock faults act on one node's own disk layer and clocks (emulator.nodefaults).
NODE_KINDS = frozenset(
    {
        FaultKind.DISK_SLOW,
        FaultKind.DISK_FULL,
        FaultKind.DISK_CORRUPT,
        FaultKind.CLOCK_SKEW,
        FaultKind.CLOCK_STROBE,
        FaultKind.CLOCK_RATE,
    }
)
PARTITION_MODES = ("groups", "random-halves", "bridge", "majorities-ring")
# Selectors resolved when a fault starts; leader-based ones need etcd's view of the cluster.
SELECTORS = ("all", "random", "leader", "random-follower", "minority", "majority")
MODIFIERS = ("nodes", "to", "one-way", "jitter", "period", "lose-unsynced")


class FaultError(ValueError):
    """A fault description is wrong; ``key`` names the offending key (None: the whole entry)."""

    def __init__(self, key: str | None, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class FaultSpec:
    kind: FaultKind
    targets: tuple[str, ...] = ()  # process faults: who; link faults: senders (default all)
    peers: tuple[str, ...] = ()  # link faults: receivers (default all)
    sides: tuple[tuple[str, ...], ...] = ()  # partition groups
    mode: str = "groups"
    one_way: bool = False
    probability: float = 0.0  # drop/duplicate/reorder, 0..1
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_network(self) -> bool:
        return self.kind in NETWORK_KINDS

    def describe(self) -> str:
        """A short human text, used in logs and history."""
        k = self.kind.value
        if self.kind is FaultKind.PARTITION:
            if self.mode != "groups":
                return f"partition {self.mode}"
            text = " | ".join(",".join(s) for s in self.sides)
            return f"partition {text}" + (" (one-way)" if self.one_way else "")
        if self.kind in (FaultKind.DROP, FaultKind.DUPLICATE, FaultKind.REORDER):
            return f"{k} {self.probability * 100:g}%{self._links()}"
        if self.kind is FaultKind.DELAY:
            jitter = f"±{self.jitter_ms:g}" if self.jitter_ms else ""
            return f"delay {self.delay_ms:g}{jitter}ms{self._links()}"
        if self.kind is FaultKind.CLEAR:
            return "clear"
        if self.kind is FaultKind.UPDATE_SERVICE:
            return f"update-service {self.mode}"
        if self.kind in NODE_KINDS:
            from emulator.nodefaults import describe_node_fault

            return describe_node_fault(self)
        lose = " (losing unsynced writes)" if self.extra.get("lose_unsynced") else ""
        return f"{k} {','.join(self.targets)}{lose}"

    def _links(self) -> str:
        src = ",".join(self.targets) or "all"
        dst = ",".join(self.peers) or "all"
        return "" if (src, dst) == ("all", "all") else f" {src}->{dst}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any, *, default_unit: str = "s") -> float:
    """``10s``, ``500ms``, ``2m``, ``1h`` or a bare number (in ``default_unit``) → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 10s or 500ms, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value) * _UNIT_SECONDS[default_unit]
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"expected a duration like 10s or 500ms, got {value!r}")
        unit = m.group(2) or default_unit
        seconds = float(m.group(1)) * _UNIT_SECONDS[unit]
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def parse_percent(value: Any) -> float:
    """``30``, ``30%`` or ``0.3``-style fractions are not guessed: numbers are percents → 0..1."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage like 30%, got {value!r}")
    text = str(value).strip().rstrip("%").strip()
    try:
        pct = float(text)
    except ValueError:
        raise ValueError(f"expected a percentage like 30%, got {value!r}") from None
    if not 0 <= pct <= 100:
        raise ValueError(f"percentage must be within 0..100, got {value!r}")
    return pct / 100.0


def _names(value: Any, key: str, known: Collection[str] | None) -> tuple[str, ...]:
    """A node list: ``core-01``, ``"core-01,core-02"`` or a YAML list of those."""
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        items = []
        for v in value:
            if not isinstance(v, str):
                raise FaultError(key, f"expected node names, got {v!r}")
            items.extend(x.strip() for x in v.split(",") if x.strip())
    else:
        raise FaultError(key, f"expected a node name or a list of them, got {value!r}")
    if not items:
        raise FaultError(key, "names no node")
    for name in items:
        if name in SELECTORS:
            continue
        if known is not None and name not in known:
            hint = ", ".join(sorted(known)) if known else "none"
            raise FaultError(
                key, f"unknown node {name!r} (nodes: {hint}; or one of {', '.join(SELECTORS)})"
            )
    return tuple(items)


def parse_fault(data: Mapping[str, Any], node_names: Collection[str] | None = None) -> FaultSpec:
    """Check a fault mapping (without its ``at``/``for``/``until``) and build a FaultSpec."""
    if not isinstance(data, Mapping):
        raise FaultError(None, f"a fault is a mapping like {{kill: core-02}}, got {data!r}")
    norm = {str(k).replace("_", "-"): v for k, v in data.items()}
    kinds = [k for k in norm if k in FaultKind._value2member_map_]
    unknown = [k for k in norm if k not in FaultKind._value2member_map_ and k not in MODIFIERS]
    if unknown:
        raise FaultError(
            unknown[0],
            f"unknown fault key {unknown[0]!r} (kinds: {', '.join(k.value for k in FaultKind)}; modifiers: {', '.join(MODIFIERS)})",
        )
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise FaultError(None, f"a fault names exactly one kind, found {found}")
    kind = FaultKind(kinds[0])
    value = norm[kind.value]

    def names(key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        return _names(norm[key], key, node_names) if key in norm else default

    def check_modifiers(allowed: tuple[str, ...]) -> None:
        for key in MODIFIERS:
            if key in norm and key not in allowed:
                raise FaultError(key, f"{key!r} does not apply to {kind.value}")

    try:
        if kind is FaultKind.PARTITION:
            check_modifiers(("one-way",))
            one_way = bool(norm.get("one-way", False))
            if isinstance(value, str) and value in PARTITION_MODES[1:]:
                return FaultSpec(kind, mode=value, one_way=one_way)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or not value:
                raise FaultError(
                    kind.value,
                    f"expected sides (lists of nodes) or a mode ({', '.join(PARTITION_MODES[1:])}), got {value!r}",
                )
            sides = tuple(_names(side, kind.value, node_names) for side in value)
            seen: set[str] = set()
            for side in sides:
                for name in side:
                    if name in seen:
                        raise FaultError(kind.value, f"node {name!r} is on two sides")
                    seen.add(name)
            return FaultSpec(kind, sides=sides, one_way=one_way)
        if kind in (FaultKind.DROP, FaultKind.DUPLICATE, FaultKind.REORDER):
            check_modifiers(("nodes", "to"))
            return FaultSpec(
                kind, targets=names("nodes"), peers=names("to"), probability=parse_percent(value)
            )
        if kind is FaultKind.DELAY:
            check_modifiers(("nodes", "to", "jitter"))
            delay = parse_duration(value, default_unit="ms") * 1000
            jitter = parse_duration(norm.get("jitter", 0), default_unit="ms") * 1000
            return FaultSpec(
                kind, targets=names("nodes"), peers=names("to"), delay_ms=delay, jitter_ms=jitter
            )
        if kind is FaultKind.CLEAR:
            check_modifiers(())
            return FaultSpec(kind)
        if kind is FaultKind.UPDATE_SERVICE:
            check_modifiers(())
            word = value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value
            if word not in ("down", "up"):
                raise FaultError(kind.value, f"expected down or up, got {word!r}")
            return FaultSpec(kind, mode=word)
        if kind in NODE_KINDS:
            from emulator.nodefaults import parse_node_fault

            return parse_node_fault(kind, norm, node_names)
        if kind is FaultKind.KILL and "lose-unsynced" in norm:
            check_modifiers(("lose-unsynced",))
            lose = norm["lose-unsynced"]
            if not isinstance(lose, bool):
                raise FaultError("lose-unsynced", f"expected true or false, got {lose!r}")
            targets = _names(value, kind.value, node_names)
            return FaultSpec(kind, targets=targets, extra={"lose_unsynced": lose})
        check_modifiers(())
        return FaultSpec(kind, targets=_names(value, kind.value, node_names))
    except ValueError as exc:
        if isinstance(exc, FaultError):
            raise
        raise FaultError(kind.value, str(exc)) from None
