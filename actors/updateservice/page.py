"""The service's status page: plain HTML from a state snapshot, every value escaped.

Machine ids, tracks and versions come from the network, so nothing reaches the page unescaped.
"""

from __future__ import annotations

import html
import time
from typing import Any


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _ago(now: float, then: float | None) -> str:
    if not then:
        return "-"
    return f"{max(0.0, now - then):.0f}s ago"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(snapshot: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    releases = snapshot["releases"]
    channels = [
        [c, releases[rid]["version"] if rid else "-", rid or "-",
         ", ".join(_faults(releases[rid])) if rid else ""]
        for c, rid in snapshot["channels"].items()
    ]  # fmt: skip
    groups = [
        [g["name"], g["channel"], "yes" if g["updates_enabled"] else "no",
         f"{g['max_updates_per_period']} / {g['period_s']:g}s", "on" if g["safe_mode"] else "off",
         f"{g['update_timeout_s']:g}s", g["stopped"] or "rolling"]
        for g in snapshot["groups"].values()
    ]  # fmt: skip
    instances = [
        [i["machine_id"], i["group"], i["version"], i["status"], i["target_version"] or "-",
         _ago(now, i["last_check"]), i["last_event"] or "-", i["error_code"] if i["error_code"]
         is not None else "-"]
        for i in sorted(snapshot["instances"].values(), key=lambda i: i["machine_id"])
    ]  # fmt: skip
    events = [
        [time.strftime("%H:%M:%S", time.gmtime(e["at"])), e["event"],
         " ".join(f"{k}={v}" for k, v in e.items() if k not in ("seq", "at", "event"))]
        for e in reversed(snapshot["events"][-30:])
    ]  # fmt: skip
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>coreemu update service</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:90%}}th{{background:#eee}}</style>
</head><body>
<h1>Update service</h1><p>Omaha endpoint: <code>{_e(snapshot["url"])}/v1/update/</code></p>
<h2>Channels</h2>{_table(["channel", "version", "release", "faults"], channels)}
<h2>Groups</h2>{_table(["group", "channel", "updates", "max per period", "safe mode", "timeout", "rollout"], groups)}
<h2>Instances</h2>{_table(["machine id", "group", "version", "status", "target", "last check", "last event", "error"], instances)}
<h2>Recent events</h2>{_table(["time (UTC)", "event", "details"], events)}
</body></html>
"""


def _faults(release: dict[str, Any]) -> list[str]:
    return [n.replace("_", "-") for n in ("broken_boot", "bad_signature", "corrupt") if release[n]]
