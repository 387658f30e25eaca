"""The status table users see (``run.py status`` and the live view of ``run.py up``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

_STATE_STYLE = {
    "up": "green",
    "down": "red",
    "paused": "yellow",
    "rebooting": "cyan",
    "starting": "cyan",
}


def _peers_cell(peers: dict[str, Any]) -> Text:
    if not peers:
        return Text("-", style="dim")
    text = Text()
    for i, (name, info) in enumerate(sorted(peers.items())):
        if i:
            text.append("  ")
        short = name.rsplit("-", 1)[-1]
        if info.get("reachable"):
            rtt = info.get("rtt_ms")
            text.append(f"{short} {rtt:.1f}ms" if rtt is not None else f"{short} ok", style="green")
        else:
            text.append(f"{short} ✗", style="red")
    return text


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def render(report: dict[str, Any]) -> Group:
    table = Table(title=f"cluster {report['cluster']}  ({report['run_dir']})", title_justify="left")
    for col in ("NODE", "ADDRESS", "PID", "STATE", "UPTIME", "PEERS (reachable, rtt)", "REJECTED"):
        table.add_column(col)
    has_etcd = any("role" in n for n in report["nodes"])
    if has_etcd:
        for col in ("ROLE", "TERM", "LEADER", "COMMIT", "APPLIED"):
            table.add_column(col)
    for node in report["nodes"]:
        state = node["state"]
        row = [
            node["name"],
            node["address"],
            str(node["pid"] or "-"),
            Text(state, style=_STATE_STYLE.get(state, "")),
            _uptime(node.get("uptime_s")),
            _peers_cell(node.get("peers", {})),
            str(node.get("rejected_frames", 0)),
        ]
        if has_etcd:
            row += [
                str(node.get(k) if node.get(k) is not None else "-")
                for k in ("role", "term", "leader", "commit_index", "applied_index")
            ]
        table.add_row(*row)
    parts: list[Any] = [table]
    faults = report.get("active_faults") or []
    if faults:
        parts.append(
            Text(
                "active faults: " + "; ".join(f"#{f['id']} {f['fault']}" for f in faults),
                style="yellow",
            )
        )
    return Group(*parts)


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    (console or Console()).print(render(report))
