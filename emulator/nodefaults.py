"""Disk and clock faults: their words, the per-node state they compile to, and the node's end.

The words follow the link faults' pattern: the kind's value is the amount, ``nodes:`` says who
(any target: a name, ``leader``, ``random-follower`` ...); faults without an amount take the
target as their value, as ``kill`` does::

    disk-slow: 50ms      jitter: 20ms   nodes: leader     # every fsync takes at least 50 ms
    disk-full: core-02                                    # writes fail with ENOSPC
    disk-corrupt: core-02                                 # flip a byte in the WAL's synced part
    clock-skew: +30s     nodes: leader                    # the wall clock runs 30 s ahead
    clock-strobe: 200ms  period: 10ms   nodes: core-01    # jumps +200 ms and back every 10 ms
    clock-rate: 3x       nodes: core-03                   # ticks come 3 times as often
    kill: core-02        lose-unsynced: true              # and drop what was not fsynced

The supervisor keeps the active ones and compiles them (:func:`compile_node_faults`) into one
:class:`~emulator.disk.DiskFaults` and one :class:`~emulator.nodeclock.ClockFaults` per node,
pushed whole and versioned (:class:`~emulator.control.SetNodeFaults`), so a restarted node gets
them back. On the node, :class:`NodeFaultPort` installs them into the node's disk, wall clock and
ticker. ``disk-corrupt`` and ``lose-unsynced`` act on a node's files from the supervisor
(:mod:`emulator.disk`), since they play what happens to a disk, not to a running process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from emulator.disk import NO_FAULTS, DiskFaults
from emulator.faults import FaultError, FaultKind, FaultSpec, _names, parse_duration
from emulator.nodeclock import NO_CLOCK_FAULTS, ClockFaults

NODE_FAULTS_ACTOR = "faults"  # where the supervisor addresses SetNodeFaults on a node

_SIGNED = re.compile(r"^\s*([+-]?)\s*(.+)$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x?\s*$")


def parse_offset(value: Any) -> float:
    """``+5s``, ``-500ms``, ``30`` (seconds) → signed seconds."""
    m = _SIGNED.match(str(value)) if not isinstance(value, bool) else None
    if m is None:
        raise ValueError(f"expected an offset like +5s or -500ms, got {value!r}")
    try:
        seconds = parse_duration(m.group(2))
    except ValueError:
        raise ValueError(f"expected an offset like +5s or -500ms, got {value!r}") from None
    return -seconds if m.group(1) == "-" else seconds


def parse_rate(value: Any) -> float:
    """``3x``, ``0.5x`` or a bare factor → the tick rate factor (0.05..50)."""
    m = _RATE.match(str(value)) if not isinstance(value, bool) else None
    if m is None:
        raise ValueError(f"expected a rate like 3x or 0.5x, got {value!r}")
    rate = float(m.group(1))
    if not 0.05 <= rate <= 50:
        raise ValueError(f"rate must be within 0.05x..50x, got {value!r}")
    return rate


def parse_node_fault(
    kind: FaultKind, norm: Mapping[str, Any], known: Collection[str] | None
) -> FaultSpec:
    """The disk/clock kinds of :func:`emulator.faults.parse_fault` (modifiers already checked)."""
    value = norm[kind.value]
    allowed = {
        FaultKind.DISK_SLOW: ("nodes", "jitter"),
        FaultKind.CLOCK_SKEW: ("nodes",),
        FaultKind.CLOCK_STROBE: ("nodes", "period"),
        FaultKind.CLOCK_RATE: ("nodes",),
    }.get(kind, ())
    for key in ("nodes", "to", "one-way", "jitter", "period", "lose-unsynced"):
        if key in norm and key not in allowed:
            raise FaultError(key, f"{key!r} does not apply to {kind.value}")
    if kind in (FaultKind.DISK_FULL, FaultKind.DISK_CORRUPT):
        return FaultSpec(kind, targets=_names(value, kind.value, known))
    if "nodes" not in norm:
        raise FaultError(
            None, f"{kind.value} needs the node(s) it acts on: nodes: core-01 (or leader, ...)"
        )
    targets = _names(norm["nodes"], "nodes", known)
    if kind is FaultKind.DISK_SLOW:
        fsync = parse_duration(value, default_unit="ms")
        jitter = _duration(norm, "jitter")
        if fsync <= 0 and jitter <= 0:
            raise FaultError(kind.value, "a slow disk needs a time above 0, like 50ms")
        return FaultSpec(kind, targets=targets, delay_ms=fsync * 1000, jitter_ms=jitter * 1000)
    if kind is FaultKind.CLOCK_SKEW:
        return FaultSpec(kind, targets=targets, extra={"offset_s": parse_offset(value)})
    if kind is FaultKind.CLOCK_STROBE:
        delta = parse_duration(value, default_unit="ms")
        if "period" not in norm:
            raise FaultError(None, "clock-strobe needs period: (how often it jumps, like 10ms)")
        period = _duration(norm, "period")
        if period <= 0:
            raise FaultError("period", "the strobe period must be above 0, like 10ms")
        return FaultSpec(kind, targets=targets, extra={"delta_s": delta, "period_s": period})
    return FaultSpec(kind, targets=targets, extra={"rate": parse_rate(value)})


def _duration(norm: Mapping[str, Any], key: str) -> float:
    try:
        return parse_duration(norm.get(key, 0), default_unit="ms")
    except ValueError as exc:
        raise FaultError(key, str(exc)) from None


def describe_node_fault(spec: FaultSpec) -> str:
    who = ",".join(spec.targets)
    k, x = spec.kind, spec.extra
    if k is FaultKind.DISK_SLOW:
        jitter = f"+{spec.jitter_ms:g}" if spec.jitter_ms else ""
        return f"disk-slow {spec.delay_ms:g}{jitter}ms {who}"
    if k is FaultKind.CLOCK_SKEW:
        return f"clock-skew {x['offset_s']:+g}s {who}"
    if k is FaultKind.CLOCK_STROBE:
        return f"clock-strobe {x['delta_s'] * 1000:g}ms/{x['period_s'] * 1000:g}ms {who}"
    if k is FaultKind.CLOCK_RATE:
        return f"clock-rate {x['rate']:g}x {who}"
    return f"{k.value} {who}"


# --- the per-node state the active faults add up to ----------------------------------------------
NodeFaultState = tuple[DiskFaults, ClockFaults]


def compile_node_faults(
    active: Iterable[tuple[FaultSpec, Iterable[str]]],
) -> dict[str, NodeFaultState]:
    """Fold the active disk/clock faults (oldest first) into one state per affected node.

    A later fault of the same kind replaces an earlier one; skew and strobe add up (a skewed
    clock that also strobes), and so do a slow and a full disk.
    """
    disk: dict[str, dict[str, Any]] = {}
    clock: dict[str, dict[str, Any]] = {}
    for spec, nodes in active:
        for node in nodes:
            d, c = disk.setdefault(node, {}), clock.setdefault(node, {})
            if spec.kind is FaultKind.DISK_SLOW:
                d.update(slow_fsync_s=spec.delay_ms / 1000, jitter_s=spec.jitter_ms / 1000)
            elif spec.kind is FaultKind.DISK_FULL:
                d["full"] = True
            elif spec.kind is FaultKind.CLOCK_SKEW:
                c["offset_s"] = spec.extra["offset_s"]
            elif spec.kind is FaultKind.CLOCK_STROBE:
                c.update(
                    strobe_delta_s=spec.extra["delta_s"], strobe_period_s=spec.extra["period_s"]
                )
            elif spec.kind is FaultKind.CLOCK_RATE:
                c["rate"] = spec.extra["rate"]
    out = {}
    for node in disk:
        state = (DiskFaults(**disk[node]), ClockFaults(**clock[node]))
        if state != (NO_FAULTS, NO_CLOCK_FAULTS):
            out[node] = state
    return out


# --- the node's end ----------------------------------------------------------------------------
class NodeFaultPort:
    """Installs :class:`~emulator.control.SetNodeFaults` on a node (registered with the transport
    as actor ``faults``; ``tell`` runs in the transport thread and only swaps frozen values)."""

    def __init__(self, disk: Any, clock: Any, set_rate: Callable[[float], None], log: Any):
        self._disk = disk
        self._clock = clock
        self._set_rate = set_rate
        self._log = log
        self._lock = threading.Lock()
        self.version = 0

    def tell(self, envelope: Any) -> None:
        from emulator.control import SetNodeFaults

        msg = getattr(envelope, "message", envelope)
        if not isinstance(msg, SetNodeFaults):
            self._log.warning("faults.unexpected", type=type(msg).__name__)
            return
        try:  # this runs in the transport thread: never let an error end it
            self._install(msg)
        except Exception as exc:
            self._log.error("faults.install_failed", error=f"{type(exc).__name__}: {exc}")

    def _install(self, msg: Any) -> None:
        with self._lock:
            if msg.version <= self.version:
                return
            self.version = msg.version
            changed = (msg.disk, msg.clock) != (self._disk.faults, self._clock.faults)
            self._disk.faults = NO_FAULTS if msg.disk == NO_FAULTS else msg.disk
            self._clock.faults = NO_CLOCK_FAULTS if msg.clock == NO_CLOCK_FAULTS else msg.clock
            self._set_rate(msg.clock.rate)
        if changed:
            view = self.view(0.0)
            self._log(
                "faults.node_installed", version=msg.version, disk=view["disk"], clock=view["clock"]
            )

    def view(self, now: float) -> dict[str, Any]:
        """For the node's status: what is in force (empty dicts when nothing)."""
        d, c = self._disk.faults, self._clock.faults
        return {
            "version": self.version,
            "disk": {k: v for k, v in vars_of(d).items() if v != getattr(NO_FAULTS, k)},
            "clock": {k: v for k, v in vars_of(c).items() if v != getattr(NO_CLOCK_FAULTS, k)},
        }


def vars_of(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in type(obj)._wire_fields}


# --- the supervisor's end ------------------------------------------------------------------------
def node_faults_message(nemesis: Any, name: str) -> Any:
    """The whole disk/clock state for ``name`` (no faults: the defaults), at the current version."""
    from emulator.control import SetNodeFaults

    disk, clock = nemesis.node_faults.get(name, (NO_FAULTS, NO_CLOCK_FAULTS))
    return SetNodeFaults(nemesis.node_faults_version, disk, clock)


def node_faults_behind(status: Mapping[str, Any], nemesis: Any) -> bool:
    """Whether a node's status shows an older disk/clock state than the supervisor's."""
    if not nemesis.node_faults_version:
        return False
    seen = status.get("node_faults")
    version = seen.get("version", 0) if isinstance(seen, dict) else 0
    return version < nemesis.node_faults_version


def install_fault_port(ctx: Any, transport: Any) -> NodeFaultPort:
    """Give a node its end of the disk/clock faults: a port in its transport, a status view."""
    port = NodeFaultPort(ctx.disk, ctx.clock, ctx.ticker.set_rate, ctx.actor_log("faults"))
    transport.register(NODE_FAULTS_ACTOR, port)
    ctx.views["node_faults"] = port.view
    return port


# --- the command line ----------------------------------------------------------------------------
_NEGATIVE_DURATION = re.compile(r"^-\d+(?:\.\d+)?(?:ms|s|m|h)$")


def protect_negative_offsets(argv: list[str]) -> list[str]:
    """``fault clock-skew core-01 -5s``: argparse would take ``-5s`` for an option; a leading
    space makes it a positional word (parse_offset ignores the space)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command != "fault":
        return argv
    return [" " + a if _NEGATIVE_DURATION.match(a) else a for a in argv]


def node_fault_mapping(kind: str, rest: list[str], args: Any) -> dict[str, Any]:
    """``disk-slow NODE 50ms`` / ``clock-skew NODE +5s`` / ``clock-strobe NODE --delta 200ms
    --period 10ms`` / ``disk-full NODE`` → the mapping a config's faults: entry holds."""
    usage = {
        "disk-slow": "disk-slow NODE 50ms [--jitter 20ms]",
        "disk-full": "disk-full NODE",
        "disk-corrupt": "disk-corrupt NODE",
        "clock-skew": "clock-skew NODE +5s",
        "clock-strobe": "clock-strobe NODE --delta 200ms --period 10ms",
        "clock-rate": "clock-rate NODE 3x",
    }[kind]
    if kind in ("disk-full", "disk-corrupt"):
        if len(rest) != 1:
            raise SystemExit(f"error: usage: fault {usage}")
        return {kind: rest[0]}
    amount = getattr(args, "delta", None) if kind == "clock-strobe" else None
    if len(rest) == 2 and amount is None:
        amount = rest[1]
    elif len(rest) != 1 or amount is None:
        raise SystemExit(f"error: usage: fault {usage}")
    out: dict[str, Any] = {kind: amount.strip(), "nodes": rest[0]}
    if getattr(args, "period", None) is not None:
        out["period"] = args.period
    return out
