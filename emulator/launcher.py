"""``run.py up``, ``down`` and ``status``: start a supervisor for a run, wait for it, stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from emulator import rundir
from emulator.control import ClusterStatus, ClusterStatusQuery, Shutdown
from emulator.supervisor_client import SupervisorUnavailable, pid_alive, request, supervisor_info


def _err(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def check_config(path: str, seed: int | None):
    """Load and validate; print every problem (exit 2) or the warnings."""
    # imported here, as in up(): status and down, run many times a second by scripts and
    # tests, then start without the config parser and the supervisor's imports
    from emulator.config import ConfigErrors, load_cluster_config

    if not Path(path).is_file():
        _err(f"no config file at {path}")
        return None
    try:
        cfg = load_cluster_config(path, seed=seed)
    except ConfigErrors as exc:
        count = len(exc.problems)
        print(
            f"error: {count} problem{'s' if count != 1 else ''} in {path}; nothing launched:",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None
    for warning in cfg.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return cfg


def cluster_status(run: Path, timeout: float = 5.0) -> dict[str, Any]:
    reply = request(run, ClusterStatusQuery(), timeout=timeout)
    if not isinstance(reply, ClusterStatus):
        raise SupervisorUnavailable(f"unexpected answer {reply!r}")
    return reply.report


def _failed_nodes(report: dict[str, Any], run: Path) -> list[str]:
    """Nodes whose process exited on its own during start-up, each with its last error line."""
    out = []
    for n in report["nodes"]:
        if n["state"] == "down" and n.get("last_exit") not in (None, 0):
            stderr = run / "nodes" / n["name"] / "stderr.log"
            lines = (
                stderr.read_text(errors="replace").strip().splitlines() if stderr.exists() else []
            )
            out.append(f"{n['name']}: exit {n['last_exit']}: {lines[-1] if lines else 'no output'}")
    return out


def _etcd_settled(report: dict[str, Any]) -> bool:
    members = [n for n in report["nodes"] if n.get("role") not in (None, "proxy")]
    return not members or all(n.get("leader") for n in members)


def _fleet_settled(report: dict[str, Any]) -> bool:
    """Every node running fleet knows its engine leader (so fleetctl finds the machines)."""
    return all(n.get("engine_leader") for n in report["nodes"] if "engine_leader" in n)


def _all_up(report: dict[str, Any]) -> bool:
    return all(n["state"] == "up" for n in report["nodes"])


def _all_reachable(report: dict[str, Any]) -> bool:
    return all(
        p.get("reachable") for n in report["nodes"] for p in n.get("peers", {}).values()
    ) and all(len(n.get("peers", {})) == len(report["nodes"]) - 1 for n in report["nodes"])


def up(
    config: str,
    *,
    detach: bool,
    seed: int | None,
    timeout: float,
    dashboard_port: int | None = 0,
) -> int:
    """Start a run; ``dashboard_port`` None: no dashboard, 0: on any free port."""
    cfg = check_config(config, seed)
    if cfg is None:
        return 2
    run = rundir.create_run_dir(cfg.name)
    (run / rundir.CONFIG_NAME).write_text(cfg.raw_text)
    (run / "seed").write_text(f"{cfg.seed}\n")
    out = open(run / "supervisor.out", "ab")
    cmd = [
        sys.executable,
        "-m",
        "emulator.supervisor",
        "--run-dir",
        str(run),
        "--seed",
        str(cfg.seed),
    ]
    cmd += (
        ["--no-dashboard"] if dashboard_port is None else ["--dashboard-port", str(dashboard_port)]
    )
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        start_new_session=True,
        close_fds=True,
    )
    out.close()
    print(f"cluster {cfg.name}: {len(cfg.nodes)} nodes, run dir {run}")
    deadline = time.monotonic() + timeout
    report = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _err(f"the supervisor exited with code {proc.returncode}; see {run / 'supervisor.out'}")
            return 1
        if supervisor_info(run):
            try:
                report = cluster_status(run, timeout=2)
            except SupervisorUnavailable:
                report = None
            if report and _all_up(report):
                break
            failed = _failed_nodes(report, run) if report else []
            if failed:
                _err("node(s) failed to start; stopping:")
                for line in failed:
                    print(f"  {line}", file=sys.stderr)
                down(run)
                return 1
        time.sleep(0.2)
    else:
        _err(
            f"not every node came up within {timeout:g} s; stopping (see python run.py logs {run})"
        )
        if report:
            _print(report)
        down(run)
        return 1
    # peers answering and, where etcd and fleet run, an etcd leader and a fleet engine elected
    settle = time.monotonic() + 10
    while (
        not (_all_reachable(report) and _etcd_settled(report) and _fleet_settled(report))
        and time.monotonic() < settle
    ):
        time.sleep(0.25)
        report = cluster_status(run)
    _print(report)
    if report.get("dashboard"):
        print(f"dashboard: {report['dashboard']}")
    elif dashboard_port is not None:
        _err(f"the dashboard did not start; see {run / 'supervisor.log'}")
    if detach:
        print(f"supervisor pid {proc.pid}; stop with: python run.py down")
        return 0
    try:
        _watch(run)
    finally:
        down(run)
    return 0


def _print(report: dict[str, Any]) -> None:
    from emulator.statusview import print_report

    print_report(report)


def _watch(run: Path) -> None:
    from rich.console import Console
    from rich.live import Live

    from emulator.statusview import render

    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print("[dim]live status; Ctrl-C stops the cluster[/dim]")
    try:
        with Live(render(cluster_status(run)), console=console, refresh_per_second=2) as live:
            while True:
                time.sleep(1)
                live.update(render(cluster_status(run)))
    except KeyboardInterrupt:
        pass
    except SupervisorUnavailable as exc:
        _err(str(exc))


def status(run: Path, *, as_json: bool, watch: bool) -> int:
    if watch and not as_json:
        _watch(run)
        return 0
    try:
        report = cluster_status(run)
    except SupervisorUnavailable as exc:
        if as_json:
            print(
                json.dumps({"cluster": None, "run_dir": str(run), "nodes": [], "error": str(exc)})
            )
        else:
            _err(str(exc))
        return 1
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0


def node_pids(run: Path) -> list[int]:
    """Processes of this run's nodes and supervisor, found by their command lines."""
    marker = str(run)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [c.decode(errors="replace") for c in cmdline]
        if any(marker in c for c in text) and any(
            m in text for m in ("emulator.node", "emulator.supervisor", "actors.updateservice")
        ):
            pids.append(int(entry.name))
    return pids


def down(run: Path) -> int:
    info = supervisor_info(run)
    if info and pid_alive(int(info["pid"])):
        try:
            request(run, Shutdown(), timeout=5)
        except SupervisorUnavailable:
            os.kill(int(info["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + 15
        while pid_alive(int(info["pid"])) and time.monotonic() < deadline:
            time.sleep(0.1)
    leftover = node_pids(run)
    for pid in leftover:  # a supervisor that died uncleanly, or a stuck node
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while node_pids(run) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = node_pids(run)
    if left:
        _err(f"processes still running after down: {left}")
        return 1
    print(
        f"cluster stopped ({run})"
        + (f"; killed {len(leftover)} leftover process(es)" if leftover else "")
    )
    return 0
