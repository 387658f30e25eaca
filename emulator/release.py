"""``run.py release [RUN] publish | promote | group | status``: drive the run's update service.

::

    python run.py release publish --channel stable --version 1.1.0
    python run.py release publish --channel stable --version 1.2.0 --broken-boot
    python run.py release promote --from beta --to stable
    python run.py release group stable --resume            # after safe mode stopped a rollout
    python run.py release group stable --max-per-period 2 --period 10m --safe-mode off
    python run.py release status [--json]

It talks to the service's admin API (its URL is in the run's ``cluster.json``). Releases with
``--broken-boot``, ``--bad-signature`` or ``--corrupt`` are faults: the service records them in
the run's history. Exit codes: 0 ok, 1 refused or the service is unreachable, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from emulator.etcdctl_client import http_request
from emulator.machineid import MACHINE_ID_PATH
from emulator.rundir import RunNotFound, resolve_run

COMMANDS = ("publish", "promote", "group", "status")


class ReleaseError(Exception):
    pass


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Drive the run's update service: publish a release (optionally broken), promote it, "
        "change a group's rollout policy, show channels, groups and instances."
    )
    parser.add_argument(
        "release_argv",
        nargs=argparse.REMAINDER,
        metavar="[RUN] COMMAND ...",
        help="run dir or cluster name (default: latest), then publish | promote | group | status",
    )


def run(args: argparse.Namespace) -> int:
    return main(list(args.release_argv), sys.stdout, sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py release")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("publish", help="publish a new release on a channel")
    p.add_argument("--channel", required=True, choices=("alpha", "beta", "stable"))
    p.add_argument("--version", required=True)
    faults = p.add_mutually_exclusive_group()
    faults.add_argument("--broken-boot", action="store_true", help="the image fails to boot")
    faults.add_argument("--bad-signature", action="store_true", help="signed with another key")
    faults.add_argument("--corrupt", action="store_true", help="served bytes differ from the hash")
    p = sub.add_parser("promote", help="put one channel's release on another channel")
    p.add_argument("--from", dest="source", required=True)
    p.add_argument("--to", dest="target", required=True)
    p = sub.add_parser("group", help="change a group's rollout policy, or resume its rollout")
    p.add_argument("group")
    on_off = p.add_mutually_exclusive_group()
    on_off.add_argument("--enable", dest="updates_enabled", action="store_true", default=None)
    on_off.add_argument("--disable", dest="updates_enabled", action="store_false")
    p.add_argument("--max-per-period", type=int, dest="max_updates_per_period")
    p.add_argument("--period", help="e.g. 30s, 10m, 1h")
    p.add_argument("--update-timeout", help="e.g. 10m")
    p.add_argument("--safe-mode", choices=("on", "off"))
    p.add_argument("--resume", action="store_true", help="restart a rollout safe mode stopped")
    p = sub.add_parser("status", help="channels, groups and instances")
    p.add_argument("--json", action="store_true")
    return parser


def split_run(argv: list[str]) -> tuple[str | None, list[str]]:
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return argv[0], argv[1:]
    return None, argv


# --- talking to the service ---------------------------------------------------------------------
def service_url(run_dir: Path) -> str:
    try:
        url = json.loads((run_dir / "cluster.json").read_text()).get("update_service")
    except (OSError, ValueError) as exc:
        raise ReleaseError(
            f"cannot read {run_dir / 'cluster.json'} (is the cluster up?): {exc}"
        ) from None
    if not url:
        raise ReleaseError(f"{run_dir} has no update service (started before this version?)")
    return str(url)


def call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        reply = http_request(url + path, method, data, headers, timeout=10, body_timeout=10)
    except (OSError, http.client.HTTPException) as exc:
        raise ReleaseError(
            f"the update service at {url} does not answer ({exc}); "
            "is it down (python run.py fault update-service up)?"
        ) from None
    try:
        answer = json.loads(reply.body)
    except ValueError:
        raise ReleaseError(f"{url}{path}: not JSON (HTTP {reply.status})") from None
    if reply.status >= 400:
        raise ReleaseError(str(answer.get("error", answer)))
    return answer


def _seconds(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    from emulator.faults import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ReleaseError(f"{what}: {exc}") from None
    if value <= 0:
        raise ReleaseError(f"{what} must be more than zero")
    return value


# --- output -------------------------------------------------------------------------------------
def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def node_names(run_dir: Path) -> dict[str, str]:
    """machine id → node name, from the nodes' data dirs."""
    names = {}
    for path in sorted((run_dir / "nodes").glob(f"*/{MACHINE_ID_PATH}")):
        try:
            names[path.read_text().strip()] = path.parts[-3]
        except OSError:
            continue
    return names


def print_status(snap: dict[str, Any], names: dict[str, str], out: TextIO) -> None:
    releases = snap["releases"]
    rows = [["CHANNEL", "VERSION", "RELEASE", "FAULTS"]]
    for channel, rid in snap["channels"].items():
        rel = releases.get(rid) if rid else None
        faults = [f.replace("_", "-") for f in ("broken_boot", "bad_signature", "corrupt")
                  if rel and rel[f]]  # fmt: skip
        rows.append([channel, rel["version"] if rel else "-", rid or "-", ",".join(faults) or "-"])
    _table(rows, out)
    out.write("\n")
    rows = [["GROUP", "CHANNEL", "UPDATES", "MAX/PERIOD", "SAFE MODE", "TIMEOUT", "ROLLOUT"]]
    for g in snap["groups"].values():
        rows.append([g["name"], g["channel"], "enabled" if g["updates_enabled"] else "disabled",
                     f"{g['max_updates_per_period']}/{g['period_s']:g}s",
                     "on" if g["safe_mode"] else "off", f"{g['update_timeout_s']:g}s",
                     g["stopped"] or "rolling"])  # fmt: skip
    _table(rows, out)
    out.write("\n")
    rows = [["NODE", "MACHINE ID", "GROUP", "VERSION", "STATUS", "TARGET", "LAST CHECK", "LAST EVENT"]]  # fmt: skip
    now = time.time()
    for mid, i in sorted(snap["instances"].items(), key=lambda kv: names.get(kv[0], kv[0])):
        ago = f"{max(0, now - i['last_check']):.0f}s ago" if i["last_check"] else "-"
        rows.append([names.get(mid, "-"), mid, i["group"], i["version"], i["status"],
                     i["target_version"] or "-", ago, i["last_event"] or "-"])  # fmt: skip
    if len(rows) == 1:
        out.write("no instance has checked in yet\n")
    else:
        _table(rows, out)


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    run_arg, rest = split_run(argv)
    try:
        ns = _parser().parse_args(rest)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        run_dir = resolve_run(run_arg)
        url = service_url(run_dir)
        if ns.command == "publish":
            body = {"channel": ns.channel, "version": ns.version, "broken_boot": ns.broken_boot,
                    "bad_signature": ns.bad_signature, "corrupt": ns.corrupt,
                    "origin": "run.py release"}  # fmt: skip
            rel = call(url, "POST", "/api/v1/releases", body)
            faults = f"; fault: {', '.join(rel['faults'])}" if rel["faults"] else ""
            out.write(f"published {rel['version']} on {rel['channel']} (release {rel['id']}, "
                      f"{rel['size']} bytes, sha256 {rel['sha256'][:16]}…){faults}\n")  # fmt: skip
        elif ns.command == "promote":
            rel = call(url, "POST", "/api/v1/promote", {"from": ns.source, "to": ns.target})
            out.write(f"promoted {rel['version']} (release {rel['id']}) from {ns.source} to {ns.target}\n")  # fmt: skip
        elif ns.command == "group":
            changes: dict[str, Any] = {}
            if ns.updates_enabled is not None:
                changes["updates_enabled"] = ns.updates_enabled
            if ns.max_updates_per_period is not None:
                changes["max_updates_per_period"] = ns.max_updates_per_period
            if ns.safe_mode is not None:
                changes["safe_mode"] = ns.safe_mode == "on"
            for key, text, what in (("period_s", ns.period, "--period"),
                                    ("update_timeout_s", ns.update_timeout, "--update-timeout")):  # fmt: skip
                value = _seconds(text, what)
                if value is not None:
                    changes[key] = value
            if ns.resume:
                changes["resume"] = True
            if not changes:
                err.write("error: nothing to change (see: python run.py release group --help)\n")
                return 2
            g = call(url, "POST", f"/api/v1/groups/{quote(ns.group, safe='')}", changes)
            out.write(f"group {g['name']}: updates {'enabled' if g['updates_enabled'] else 'disabled'}, "
                      f"max {g['max_updates_per_period']} per {g['period_s']:g}s, safe mode "
                      f"{'on' if g['safe_mode'] else 'off'}, {g['stopped'] or 'rolling'}\n")  # fmt: skip
        else:
            snap = call(url, "GET", "/api/v1/status")
            if ns.json:
                out.write(json.dumps(snap, indent=2) + "\n")
            else:
                print_status(snap, node_names(run_dir), out)
    except (ReleaseError, RunNotFound) as exc:
        err.write(f"error: {exc}\n")
        return 1
    return 0
