"""``python run.py <command>``: bring a cluster up, look at it, break it, read what happened."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from emulator import rundir
from emulator.faults import NODE_KINDS, PARTITION_MODES, FaultKind, parse_duration
from emulator.nodefaults import node_fault_mapping, protect_negative_offsets

DEFAULT_CONFIG = "configs/cluster.yaml"


def _run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", help="run dir or cluster name (default: runs/latest)")


def _resolve(arg: str | None) -> Path:
    try:
        return rundir.resolve_run(arg)
    except rundir.RunNotFound as exc:
        raise SystemExit(f"error: {exc}") from None


# --- up / down / status -------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from emulator import launcher

    return launcher.up(
        args.config,
        detach=args.detach,
        seed=args.seed,
        timeout=args.timeout,
        dashboard_port=None if args.no_dashboard else args.dashboard_port,
    )


def cmd_down(args: argparse.Namespace) -> int:
    from emulator import launcher

    return launcher.down(_resolve(args.run))


def cmd_status(args: argparse.Namespace) -> int:
    from emulator import launcher

    return launcher.status(_resolve(args.run), as_json=args.json, watch=args.watch)


# --- faults --------------------------------------------------------------------------------------
def fault_mapping(words: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """``partition core-01 core-02,core-03`` → the same mapping a config's faults: entry holds."""
    kind, rest = words[0], words[1:]
    fault: dict[str, Any] = {}
    if kind == FaultKind.PARTITION.value:
        if len(rest) == 1 and rest[0] in PARTITION_MODES:
            fault[kind] = rest[0]
        else:
            fault[kind] = rest
        if args.one_way:
            fault["one-way"] = True
    elif kind in (FaultKind.CLEAR.value,):
        fault[kind] = True
    elif kind in (k.value for k in NODE_KINDS):
        fault = node_fault_mapping(kind, rest, args)
    elif kind in (k.value for k in FaultKind):
        if not rest:
            raise SystemExit(
                f"error: fault {kind} needs an argument (see: python run.py fault --help)"
            )
        fault[kind] = rest[0] if kind in ("drop", "delay", "duplicate", "reorder") else rest
    else:
        kinds = ", ".join(k.value for k in FaultKind)
        raise SystemExit(f"error: unknown fault {kind!r} (one of: {kinds})")
    for key in ("nodes", "to", "jitter"):
        value = getattr(args, key)
        if value is not None:
            fault[key] = value
    if args.lose_unsynced:
        fault["lose-unsynced"] = True
    return fault


def cmd_fault(args: argparse.Namespace) -> int:
    from emulator.control import Failure, FaultCommand, FaultStarted
    from emulator.supervisor_client import SupervisorUnavailable, request

    words = list(args.words)
    run_arg = None
    if words and words[0] not in {k.value for k in FaultKind}:
        run_arg = words.pop(0)
    if not words:
        raise SystemExit("error: name a fault, e.g.: python run.py fault kill core-02")
    fault = fault_mapping(words, args)
    duration = None
    if args.duration:
        try:
            duration = parse_duration(args.duration)
        except ValueError as exc:
            raise SystemExit(f"error: --for: {exc}") from None
    run = _resolve(run_arg)
    try:
        reply = request(run, FaultCommand(fault, duration))
    except SupervisorUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if isinstance(reply, Failure):
        print(f"error: {reply.error}", file=sys.stderr)
        return 2
    if isinstance(reply, FaultStarted):
        until = f" for {args.duration}" if duration else ""
        print(
            f"fault #{reply.fault_id} started: {reply.description}{until} (nodes: {', '.join(reply.nodes)})"
        )
        return 0
    print(f"error: unexpected answer {reply!r}", file=sys.stderr)
    return 1


# --- node ----------------------------------------------------------------------------------------
def cmd_node(args: argparse.Namespace) -> int:
    from emulator import node

    argv = ["--config", args.config, "--node", args.node]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    return node.main(argv)


# Commands that live in a module of their own: (name, module, help). The module has
# ``configure(parser)`` to add its arguments and ``run(args) -> exit code``.
DELEGATED: tuple[tuple[str, str, str], ...] = (
    ("logs", "emulator.logview", "all nodes' logs merged in time order, with filters"),
    ("run", "emulator.scenario.cli", "run a scenario: load, faults, checks, report (exit 0/1/2)"),
    ("check", "emulator.checkers.cli", "re-check a stored scenario run: results.json, report"),
    (
        "etcdctl",
        "emulator.etcdctl",
        "an etcdctl (v2) for the cluster: get, set, ls, watch, member ...",
    ),
    ("locksmithctl", "emulator.locksmithctl", "the reboot lock: status, lock, unlock, set-max"),
    ("release", "emulator.release", "the run's update service: publish, promote, group, status"),
    ("update-engine", "emulator.updatectl", "update_engine_client: -status, -check_for_update"),
    ("fleetctl", "emulator.fleetctl", "fleetctl: submit, start, stop, list-units, journal ..."),
)


def _delegate(module: str):
    def run(args: argparse.Namespace) -> int:
        return importlib.import_module(module).run(args)

    return run


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``command``, only that delegated command's module is
    imported to add its arguments (each ``run.py`` call then starts in a fraction of the time)."""
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="coreemu: emulate a CoreOS Container Linux cluster on this machine.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")

    p = sub.add_parser("up", help="bring a cluster up from a config and show its status")
    p.add_argument(
        "config",
        nargs="?",
        default=DEFAULT_CONFIG,
        help=f"cluster config (default {DEFAULT_CONFIG})",
    )
    p.add_argument(
        "-d",
        "--detach",
        action="store_true",
        help="return once the cluster is up; it keeps running",
    )
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for every node to be up"
    )
    p.add_argument(
        "--dashboard-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve the live dashboard on 127.0.0.1:PORT (default: a free port)",
    )
    p.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop a run's nodes and supervisor; leaves no process behind")
    _run_arg(p)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser(
        "status", help="per node: address, pid, state, uptime, peers, rejected frames"
    )
    _run_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output (stable shape)")
    p.add_argument("--watch", action="store_true", help="refresh every second until Ctrl-C")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "fault",
        help="inject a fault now: partition, drop, delay, duplicate, reorder, kill, stop, pause, resume, restart, disk-slow, disk-full, disk-corrupt, clock-skew, clock-strobe, clock-rate, update-service, clear",
        description="Examples: fault partition core-01 core-02,core-03 | fault partition random-halves | "
        "fault drop 30%% --nodes core-01 | fault delay 200ms --jitter 50ms | fault kill core-02 | "
        "fault pause random --for 10s | fault disk-slow leader 50ms | fault disk-full core-02 | "
        "fault kill core-02 --lose-unsynced | fault disk-corrupt core-02 | "
        "fault clock-skew leader +30s | fault clock-strobe core-01 --delta 200ms --period 10ms | "
        "fault clock-rate core-03 3x | fault update-service down (up) | fault clear.  "
        "Targets: node names, all, random, leader, "
        "random-follower, minority, majority.",
    )
    p.add_argument("words", nargs="+", metavar="[RUN] KIND ARG", help="the fault and its arguments")
    p.add_argument("--for", dest="duration", help="end the fault after this long (e.g. 10s)")
    p.add_argument(
        "--one-way", action="store_true", help="partition: only the first side's frames are lost"
    )
    p.add_argument("--nodes", help="link faults: the sending nodes (default all)")
    p.add_argument("--to", help="link faults: the receiving nodes (default all)")
    p.add_argument("--jitter", help="delay: ± this much (e.g. 20ms); disk-slow: up to this more")
    p.add_argument("--delta", help="clock-strobe: how far the clock jumps (e.g. 200ms)")
    p.add_argument("--period", help="clock-strobe: how often it jumps (e.g. 10ms)")
    p.add_argument(
        "--lose-unsynced", action="store_true", help="kill: also drop what was not fsynced"
    )
    p.set_defaults(func=cmd_fault)

    for name, module, help_text in DELEGATED:
        p = sub.add_parser(name, help=help_text)
        if command in (None, name):
            importlib.import_module(module).configure(p)
        p.set_defaults(func=_delegate(module))

    p = sub.add_parser(
        "node", help="run one node in the foreground (to place nodes on other hosts)"
    )
    p.add_argument("--config", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_node)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = protect_negative_offsets(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command=argv[0] if argv else "")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
