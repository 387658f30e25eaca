"""What the report draws, worked out from a run's files (pure: lists in, segments out).

Times are seconds since the history began (its first line's monotonic time), the same clock
the ops use. Node states and roles come from the status samples the runner took every half
second; process events (killed, paused, restarted, rebooting) and fault periods from the
history, to the millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    state: str  # up | down | paused | rebooting | starting
    role: str | None  # leader | follower | candidate | None
    term: int | None
    version: str | None


@dataclass(frozen=True)
class FaultPeriod:
    start: float
    end: float
    text: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class NodeEvent:
    at: float
    node: str
    event: str


def node_segments(
    samples: Sequence[dict[str, Any]], origin: float, end: float
) -> dict[str, list[Segment]]:
    """Per node, runs of samples with the same state, role, term and version, merged."""
    out: dict[str, list[Segment]] = {}
    for i, sample in enumerate(samples):
        t0 = float(sample["mono"]) - origin
        t1 = float(samples[i + 1]["mono"]) - origin if i + 1 < len(samples) else end
        for name, info in sample.get("nodes", {}).items():
            state = info.get("state") or "unknown"
            up = state == "up"
            seg = Segment(t0, t1, state, info.get("role") if up else None,
                          info.get("term") if up else None, info.get("version"))  # fmt: skip
            segs = out.setdefault(name, [])
            last = segs[-1] if segs else None
            if last and (last.state, last.role, last.term, last.version) == (
                seg.state, seg.role, seg.term, seg.version,
            ):  # fmt: skip
                segs[-1] = Segment(last.start, t1, last.state, last.role, last.term, last.version)
            else:
                segs.append(seg)
    return out


def fault_periods(
    history: Sequence[dict[str, Any]], origin: float, end: float
) -> list[FaultPeriod]:
    """Every fault from its start to its end (or the run's end), clear commands left out."""
    open_: dict[Any, dict[str, Any]] = {}  # ids: numbers, or names (update-service faults)
    out = []
    for e in history:
        if e.get("type") != "fault":
            continue
        if e.get("phase") == "start" and e.get("kind") != "clear":
            open_[e.get("id")] = e
        elif e.get("phase") == "end" and e.get("id") in open_:
            s = open_.pop(e.get("id"))
            out.append(_period(s, float(e["mono"]) - origin, origin))
    out += [_period(s, end, origin) for s in open_.values()]
    return sorted(out, key=lambda f: f.start)


def _period(start: dict[str, Any], end: float, origin: float) -> FaultPeriod:
    return FaultPeriod(float(start["mono"]) - origin, end, str(start.get("fault", "")),
                       tuple(start.get("nodes", ())))  # fmt: skip


def node_events(history: Sequence[dict[str, Any]], origin: float) -> list[NodeEvent]:
    keep = {"killed", "stopped", "paused", "resumed", "restarted", "rebooting", "exited"}
    return [
        NodeEvent(float(e["mono"]) - origin, str(e["node"]), str(e["event"]))
        for e in history
        if e.get("type") == "node" and e.get("event") in keep
    ]


def run_span(history: Sequence[dict[str, Any]], origin: float) -> float:
    return max((float(e["mono"]) - origin for e in history), default=1.0)


def phases(history: Sequence[dict[str, Any]], origin: float) -> list[tuple[float, str]]:
    return [
        (float(e["mono"]) - origin, str(e["name"])) for e in history if e.get("type") == "phase"
    ]


def throughput(
    completes: Sequence[tuple[float, str]], end: float, bucket: float = 1.0
) -> dict[str, list[int]]:
    """Ops completed per ``bucket`` seconds, per outcome."""
    n = int(end / bucket) + 1
    out = {k: [0] * n for k in ("ok", "fail", "info")}
    for t, outcome in completes:
        i = int(t / bucket)
        if 0 <= i < n and outcome in out:
            out[outcome][i] += 1
    return out


def lock_spans(history: Sequence[dict[str, Any]], origin: float, end: float) -> list[FaultPeriod]:
    """Spans (start, end, "reboot lock", (node,)) while a node was among the semaphore's holders."""
    since: dict[str, float] = {}
    out = []
    for e in history:
        if e.get("type") != "lock":
            continue
        t = float(e["mono"]) - origin
        now = set(e.get("nodes") or e.get("holders") or [])
        for node in list(since):
            if node not in now:
                out.append(FaultPeriod(since.pop(node), t, "reboot lock", (node,)))
        for node in now:
            since.setdefault(node, t)
    out += [FaultPeriod(t, end, "reboot lock", (node,)) for node, t in since.items()]
    return sorted(out, key=lambda p: p.start)
