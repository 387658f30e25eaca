"""The report's figures, drawn with matplotlib into inline SVG text."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: draw to memory
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from emulator.report.timeline import FaultPeriod, NodeEvent, Segment  # noqa: E402

STATE_COLORS = {
    "up": "#d9ead3",
    "starting": "#fff2cc",
    "rebooting": "#9fc5e8",
    "paused": "#b4a7d6",
    "down": "#444444",
    "unknown": "#eeeeee",
}
ROLE_COLORS = {"leader": "#e69138", "candidate": "#cc0000", "pre-candidate": "#f6b26b",
               "follower": "#93c47d"}  # fmt: skip
OUTCOME_COLORS = {"ok": "#38761d", "fail": "#cc0000", "info": "#e69138"}
FAULT_COLOR = "#f4cccc"
LOCK_COLOR = "#741b47"
EVENT_MARKERS = {"killed": "X", "stopped": "s", "paused": "|", "resumed": "|",
                 "restarted": "^", "rebooting": "o", "exited": "x"}  # fmt: skip
WIDTH_IN = 13.5


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG sits inside HTML


def _shade_faults(ax: plt.Axes, faults: Sequence[FaultPeriod], label: bool) -> None:
    for f in faults:
        ax.axvspan(f.start, f.end, color=FAULT_COLOR, alpha=0.55, zorder=0, lw=0)
        if label:
            ax.text((f.start + f.end) / 2, 1.005, f.text, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="#990000",
                    rotation=0 if f.end - f.start > 4 else 30)  # fmt: skip


def timeline_svg(
    segments: dict[str, list[Segment]],
    faults: Sequence[FaultPeriod],
    events: Sequence[NodeEvent],
    phases: Sequence[tuple[float, str]],
    end: float,
    locks: Sequence[FaultPeriod] = (),
) -> str:
    """One row per node: its state (background), its Raft role and term (inner bar), its OS
    version (where it changes), faults shaded across all rows, process events marked, phases
    as dashed lines."""
    names = sorted(segments)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.75 * len(names) + 1.6))
    _shade_faults(ax, faults, label=True)
    for row, name in enumerate(names):
        y = len(names) - 1 - row
        for s in segments[name]:
            ax.broken_barh([(s.start, s.end - s.start)], (y - 0.38, 0.76),
                           color=STATE_COLORS.get(s.state, "#eeeeee"), lw=0)  # fmt: skip
            if s.role in ROLE_COLORS and s.state == "up":
                ax.broken_barh([(s.start, s.end - s.start)], (y - 0.16, 0.32),
                               color=ROLE_COLORS[s.role], lw=0)  # fmt: skip
                if s.role == "leader" and s.end - s.start > end / 40:
                    ax.text((s.start + s.end) / 2, y, f"leader · term {s.term}", ha="center",
                            va="center", fontsize=8, color="white", weight="bold")  # fmt: skip
            if s.state in ("down", "paused", "rebooting") and s.end - s.start > end / 40:
                ax.text((s.start + s.end) / 2, y + 0.27, s.state, ha="center", va="center",
                        fontsize=7, color="white" if s.state == "down" else "black")  # fmt: skip
        for f in faults:  # a red band on the rows of the nodes a fault touched
            if name in f.nodes:
                ax.broken_barh([(f.start, f.end - f.start)], (y + 0.3, 0.08), color="#cc0000",
                               lw=0, zorder=3)  # fmt: skip
        for lock in locks:  # holding locksmith's reboot lock: a dark bar just under the row
            if name in lock.nodes:
                ax.broken_barh([(lock.start, lock.end - lock.start)], (y - 0.52, 0.1),
                               color=LOCK_COLOR, lw=0, zorder=3)  # fmt: skip
        shown = None
        for s in segments[name]:  # the OS version, written where it changes
            if s.version and s.version != shown and s.state == "up":
                ax.text(s.start, y - 0.3, f" {s.version}", fontsize=7, va="center",
                        color="#1c4587")  # fmt: skip
                shown = s.version
        for e in events:
            if e.node == name:
                ax.plot([e.at], [y + 0.42], marker=EVENT_MARKERS.get(e.event, "."),
                        color="black", ms=6, ls="none")  # fmt: skip
    for i, (t, phase) in enumerate(phases):  # labels staggered: phases can be close together
        ax.axvline(t, color="#666666", ls="--", lw=0.8)
        ax.text(t, -0.75 + 0.22 * (i % 3), f" {phase}", fontsize=8, color="#444444", va="bottom")
    ax.set_yticks(range(len(names)), list(reversed(names)))
    ax.set_ylim(-0.8, len(names) - 0.4)
    ax.set_xlim(0, end)
    ax.set_xlabel("seconds since the run started")
    states = ("up", "starting", "paused", "rebooting", "down")
    handles = [Patch(color=STATE_COLORS[k], label=k) for k in states]
    roles = ("leader", "follower", "pre-candidate", "candidate")
    handles += [Patch(color=ROLE_COLORS[k], label=k) for k in roles]
    handles.append(Patch(color=FAULT_COLOR, label="fault active"))
    if locks:
        handles.append(Patch(color=LOCK_COLOR, label="holds reboot lock"))
    below = -0.12 - 0.5 / (len(names) + 2)  # under the axis label, whatever the row count
    ax.legend(handles=handles, ncol=len(handles), loc="upper center", bbox_to_anchor=(0.5, below),
              fontsize=8, frameon=False)  # fmt: skip
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    return _svg(fig)


def latency_svg(
    points: Sequence[tuple[float, float, str]], faults: Sequence[FaultPeriod], end: float
) -> str:
    """Each op: invoke time against latency (ms, log scale), coloured by outcome."""
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.2))
    _shade_faults(ax, faults, label=False)
    for outcome, color in OUTCOME_COLORS.items():
        xs = [p[0] for p in points if p[2] == outcome]
        ys = [max(p[1], 0.05) for p in points if p[2] == outcome]
        ax.scatter(xs, ys, s=4, color=color, label=f"{outcome} ({len(xs)})", alpha=0.6, lw=0)
    ax.set_yscale("log")
    ax.set_xlim(0, end)
    ax.set_ylabel("latency (ms)")
    ax.set_xlabel("invoke time (s)")
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    ax.grid(color="#eeeeee", lw=0.5)
    return _svg(fig)


def throughput_svg(
    per_second: dict[str, list[int]], faults: Sequence[FaultPeriod], end: float
) -> str:
    """Ops completed per second, stacked by outcome."""
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.6))
    _shade_faults(ax, faults, label=False)
    bottom = [0] * len(per_second["ok"])
    xs = list(range(len(bottom)))
    for outcome in ("ok", "info", "fail"):
        ys = per_second[outcome]
        ax.bar(xs, ys, width=1.0, align="edge", bottom=bottom, color=OUTCOME_COLORS[outcome],
               label=outcome, lw=0)  # fmt: skip
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    ax.set_xlim(0, end)
    ax.set_ylabel("ops/s")
    ax.set_xlabel("seconds")
    ax.legend(loc="upper right", fontsize=8)
    return _svg(fig)


def ops_svg(ops: Sequence[dict], highlight: set[int]) -> str:
    """The ops around a linearizability violation, one row per client, as in Knossos's
    pictures: a bar from invoke to complete; the counterexample's ops in red."""
    procs = sorted({o["process"] for o in ops})
    row = {p: i for i, p in enumerate(procs)}
    t0 = min(o["invoke"] for o in ops)
    t1 = max((o["complete"] or o["invoke"]) for o in ops)
    span = max(t1 - t0, 1e-3)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.45 * len(procs) + 1.2))
    for o in ops:
        y = len(procs) - 1 - row[o["process"]]
        end = o["complete"] if o["complete"] is not None else t1 + span * 0.05
        hot = o["id"] in highlight
        color = "#cc0000" if hot else OUTCOME_COLORS.get(o["outcome"], "#999999")
        ax.broken_barh([((o["invoke"] - t0) * 1000, max((end - o["invoke"]) * 1000, span * 2))],
                       (y - 0.3, 0.6), color=color, alpha=0.9 if hot else 0.45, lw=0)  # fmt: skip
        if o["f"] == "cas":
            what = f"cas {o['value'][0]}→{o['value'][1]}"
        elif o["f"] == "write":
            what = f"w {o['value']}"
        else:
            what = f"r {o['value']}"
        ax.text((o["invoke"] - t0) * 1000, y, f" #{o['id']} {what}", va="center", fontsize=7,
                weight="bold" if hot else "normal")  # fmt: skip
    ax.set_yticks(range(len(procs)), [f"client {p}" for p in reversed(procs)])
    ax.set_xlabel(f"ms after {t0:.4f}s")
    ax.grid(axis="x", color="#eeeeee", lw=0.5)
    return _svg(fig)
