"""fleetctl's output: its tables (Go's tabwriter padding with tabs), machine legends and columns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.fleet.client import unit_from_json
from actors.fleet.records import unit_hash
from actors.fleet.xfleet import requirements
from actors.unitfile import UnitFile

TAB_WIDTH = 8


def tab_table(rows: list[list[str]]) -> str:
    """Rows as fleetctl prints them: ``tabwriter.NewWriter(out, 0, 8, 1, '\\t', 0)``.

    Every column but the last is padded with tabs to the widest cell + 1, rounded up to a tab
    stop, so the columns line up in a terminal and the text still splits on tabs.
    """
    if not rows:
        return ""
    cols = max(len(r) for r in rows)
    widths = []
    for c in range(cols - 1):
        widest = max((len(r[c]) for r in rows if c < len(r) - 1), default=0)
        widths.append(-(-(widest + 1) // TAB_WIDTH) * TAB_WIDTH)
    lines = []
    for r in rows:
        parts = []
        for c, cell in enumerate(r):
            if c < len(r) - 1:
                parts.append(cell + "\t" * -(-(widths[c] - len(cell)) // TAB_WIDTH))
            else:
                parts.append(cell)
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def machine_id_legend(machine_id: str, full: bool) -> str:
    return machine_id if full else f"{machine_id[:8]}..."


def machine_full_legend(machine_id: str, machines: Mapping[str, Any], full: bool) -> str:
    """``<id prefix>.../<ip>``, or the full id with -l/--full."""
    legend = machine_id_legend(machine_id, full)
    ms = machines.get(machine_id)
    ip = ms.get("primaryIP", "") if ms else ""
    return f"{legend}/{ip}" if ip else legend


def format_metadata(metadata: Mapping[str, str]) -> str:
    return ",".join(f"{k}={metadata[k]}" for k in sorted(metadata)) if metadata else "-"


def _unit_file(u: Mapping[str, Any]) -> UnitFile:
    return unit_from_json(u.get("options") or [])


def is_global(u: Mapping[str, Any]) -> bool:
    return requirements(u["name"], _unit_file(u)).is_global


Field = Callable[[Any, Mapping[str, Any], bool], str]

MACHINE_FIELDS: dict[str, Field] = {
    "machine": lambda m, _ms, full: machine_id_legend(m["id"], full),
    "ip": lambda m, _ms, full: m.get("primaryIP") or "-",
    "metadata": lambda m, _ms, full: format_metadata(m.get("metadata") or {}),
}

STATE_FIELDS: dict[str, Field] = {
    "unit": lambda s, _ms, full: s.get("name") or "-",
    "load": lambda s, _ms, full: s.get("systemdLoadState") or "-",
    "active": lambda s, _ms, full: s.get("systemdActiveState") or "-",
    "sub": lambda s, _ms, full: s.get("systemdSubState") or "-",
    "machine": lambda s, ms, full: (
        machine_full_legend(s["machineID"], ms, full) if s.get("machineID") else "-"
    ),
    "hash": lambda s, _ms, full: (s.get("hash") or "-") if full else (s.get("hash") or "-")[:7],
}


def _target(u: Mapping[str, Any], ms: Mapping[str, Any], full: bool) -> str:
    if is_global(u):
        return "global"
    return machine_full_legend(u["machineID"], ms, full) if u.get("machineID") else "-"


def _hash(u: Mapping[str, Any], _ms: Mapping[str, Any], full: bool) -> str:
    h = unit_hash(_unit_file(u))
    return h if full else h[:7]


UNIT_FILE_FIELDS: dict[str, Field] = {
    "unit": lambda u, _ms, full: u["name"],
    "global": lambda u, _ms, full: "true" if is_global(u) else "false",
    "dstate": lambda u, _ms, full: u.get("desiredState") or "-",
    "target": _target,
    "tmachine": _target,
    "state": lambda u, _ms, full: (
        "-" if is_global(u) or not u.get("currentState") else u["currentState"]
    ),
    "hash": _hash,
    "desc": lambda u, _ms, full: _unit_file(u).first("Unit", "Description") or "-",
}

DEFAULT_FIELDS = {
    "list-machines": "machine,ip,metadata",
    "list-units": "unit,machine,active,sub",
    "list-unit-files": "unit,hash,dstate,state,target",
}


def systemctl_status(name: str, status: Mapping[str, Any], journal: list[str]) -> str:
    """A ``systemctl status`` rendering of what the node's systemd reports for a unit."""
    st = status.get("status") or {}
    dot = "●" if status.get("activeState") in ("active", "activating", "failed") else "○"
    desc = st.get("description")
    lines = [f"{dot} {name}" + (f" - {desc}" if desc else "")]
    lines.append(
        f"   Loaded: {status.get('loadState', '-')} (/run/fleet/units/{name}; linked-runtime)"
    )
    active = f"{status.get('activeState', '-')} ({status.get('subState', '-')})"
    lines.append(f"   Active: {active}")
    if st.get("main_pid"):
        lines.append(f" Main PID: {st['main_pid']}")
    if journal:
        lines.append("")
        lines.extend(journal)
    return "\n".join(lines) + "\n"
