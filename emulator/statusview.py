"""The status table users see (``run.py status`` and the live view of ``run.py up``)."""

from __future__ import annotations

import sys
from typing import Any

from rich import box
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
    """``2/2 1.3ms`` when all answer (worst round trip), else the silent ones: ``0/2 ✗01 ✗03``."""
    if not peers:
        return Text("-", style="dim")
    ok = {n: p for n, p in peers.items() if p.get("reachable")}
    text = Text(f"{len(ok)}/{len(peers)}", style="green" if len(ok) == len(peers) else "red")
    rtts = [p["rtt_ms"] for p in ok.values() if p.get("rtt_ms") is not None]
    if len(ok) == len(peers) and rtts:
        text.append(f" {max(rtts):.1f}ms", style="dim")
    for name in sorted(set(peers) - set(ok)):
        text.append(f" ✗{name.rsplit('-', 1)[-1]}", style="red")
    return text


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _fleet_cells(node: dict[str, Any]) -> list[str]:
    """Machine id prefix, the engine leader ("self" when it is this machine), units loaded."""
    mid, leader = node.get("machine_id") or "", node.get("engine_leader")
    if "engine_leader" not in node:
        return [mid[:8] or "-", "-", "-"]
    engine = "-" if not leader else "self" if leader == mid else f"{leader[:8]}..."
    return [mid[:8] or "-", engine, str(node.get("units", 0))]


def _update_cells(node: dict[str, Any]) -> list[str]:
    """VERSION, PART (A/B) and UPDATE (update_engine's status, short: IDLE, DOWNLOADING 40%)."""
    op = str(node.get("update_status") or "-").removeprefix("UPDATE_STATUS_")
    if op == "DOWNLOADING" and node.get("progress") is not None:
        op += f" {float(node['progress']):.0%}"
    elif op in ("VERIFYING", "FINALIZING", "UPDATED_NEED_REBOOT"):
        op += f" {node.get('new_version') or ''}".rstrip()  # what the reboot will bring
    part = str(node.get("partition") or "-").removeprefix("USR-")
    return [str(node.get("version") or "-"), part, op]


def _table(title: str | None, columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for col in columns:
        table.add_column(col, no_wrap=True)
    return table


def render(report: dict[str, Any]) -> Group:
    """Two tables, so each fits a terminal: the runtime and etcd, then the machine's parts."""
    nodes = report["nodes"]
    columns = ["NODE", "ADDRESS", "PID", "STATE", "UPTIME", "PEERS", "REJECTED"]
    has_etcd = any("role" in n for n in nodes)
    if has_etcd:
        columns += ["ROLE", "TERM", "LEADER", "COMMIT", "APPLIED"]
    table = _table(f"cluster {report['cluster']}  ({report['run_dir']})", columns)
    for node in nodes:
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

    has_fleet = any("engine_leader" in n for n in nodes)
    has_update = any("update_status" in n for n in nodes)
    has_lock = any("lock_holder" in n for n in nodes)
    machine_columns = ["NODE"]
    if has_fleet:
        machine_columns += ["MACHINE", "ENGINE", "UNITS"]
    if has_update:
        machine_columns += ["VERSION", "PART", "UPDATE"]
    if has_lock:
        machine_columns += ["LOCK"]  # holds locksmith's reboot lock
    tables: list[Any] = [table]
    if len(machine_columns) > 1:
        machines = _table(None, machine_columns)
        for node in nodes:
            row = [node["name"]]
            if has_fleet:
                row += _fleet_cells(node)
            if has_update:
                row += _update_cells(node)
            if has_lock:
                row.append(Text("held", style="yellow") if node.get("lock_holder") else "-")
            machines.add_row(*row)
        tables.append(machines)
    parts: list[Any] = tables
    service = report.get("update_service")
    if service:
        parts.append(Text(f"update service: {service['url']} ({service['state']})", style="dim"))
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
    if console is None:
        # Not a terminal (a pipe, a log): do not squeeze the table into 80 columns.
        console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(render(report))
