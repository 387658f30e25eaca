"""``run.py etcdctl [RUN] [--endpoint NODE_OR_URL] <command>``: etcdctl (API v2) for a run.

For users without etcdctl: the same commands, output, errors and exit codes as
``ETCDCTL_API=2 etcdctl`` 3.4 (0 ok, 1 bad arguments, 2 no endpoint reachable, 4 an error
from etcd, 5 cluster not healthy), over the v2 HTTP API. The endpoint is a node name looked up
in the run's ``cluster.json``, a URL, or by default every node of the run in order (the first
that answers serves the command). The commands live in ``etcdctl_commands``,
formatting in ``etcdctl_format``, HTTP in ``etcdctl_client``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, TextIO

from emulator.etcdctl_client import V2Client
from emulator.etcdctl_commands import (
    EXIT_BAD_ARGS,
    EXIT_OK,
    Ctx,
    cmd_cluster_health,
    cmd_dir,
    cmd_get,
    cmd_ls,
    cmd_member,
    cmd_mk,
    cmd_rm,
    cmd_rmdir,
    cmd_set,
    cmd_update,
    cmd_watch,
)
from emulator.etcdctl_format import OUTPUTS
from emulator.rundir import RunNotFound, resolve_run

COMMANDS = (
    "get", "set", "mk", "mkdir", "setdir", "rm", "rmdir", "ls", "update", "updatedir", "watch",
    "cluster-health", "member",
)  # fmt: skip
_GLOBAL_WITH_VALUE = ("--endpoint", "-o", "--output")
_HOST_PORT = re.compile(r"[\w.-]+:\d+|\[[0-9a-fA-F:]+\]:\d+")


class EndpointError(Exception):
    pass


# --- command line ---------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        dest="etcdctl_endpoint",
        metavar="NODE_OR_URL",
        help="a node name of the run, a URL or host:port (comma-separated for several); "
        "default: every node of the run, first that answers",
    )
    parser.add_argument(
        "-o", "--output", dest="etcdctl_output", choices=OUTPUTS, help="simple, extended or json"
    )
    parser.add_argument(
        "etcdctl_argv",
        nargs=argparse.REMAINDER,
        metavar="[RUN] COMMAND ...",
        help="run dir or cluster name (default: latest), then one of: " + ", ".join(COMMANDS),
    )


def run(args: argparse.Namespace) -> int:
    return main(
        list(args.etcdctl_argv),
        endpoint=args.etcdctl_endpoint,
        output=args.etcdctl_output,
        out=sys.stdout,
        err=sys.stderr,
        stdin=sys.stdin,
    )


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py etcdctl", add_help=True)
    parser.add_argument("--endpoint", default=argparse.SUPPRESS)
    parser.add_argument("-o", "--output", choices=OUTPUTS, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help: str, func, *args: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        for positional in args:
            p.add_argument(positional, nargs="?")
        p.set_defaults(func=func)
        return p

    p = add("get", "retrieve the value of a key", cmd_get, "key")
    p.add_argument("--sort", action="store_true")
    p.add_argument("--quorum", "-q", action="store_true")
    p = add("ls", "retrieve a directory", cmd_ls, "key")
    p.add_argument("--sort", action="store_true")
    p.add_argument("--recursive", "-r", action="store_true")
    p.add_argument("-p", dest="slash", action="store_true", help="append / to directories")
    p.add_argument("--quorum", "-q", action="store_true")
    p = add("set", "set the value of a key", cmd_set, "key", "value")
    p.add_argument("--ttl", type=int, default=0)
    p.add_argument("--swap-with-value", default="")
    p.add_argument("--swap-with-index", type=int, default=0)
    p = add("mk", "make a new key with a given value", cmd_mk, "key", "value")
    p.add_argument("--ttl", type=int, default=0)
    p.add_argument("--in-order", action="store_true")
    p = add("update", "update an existing key with a given value", cmd_update, "key", "value")
    p.add_argument("--ttl", type=int, default=0)
    for name, help, prev_exist in (
        ("mkdir", "make a new directory", False),
        ("setdir", "create a new directory or update an existing directory TTL", None),
        ("updatedir", "update an existing directory", True),
    ):
        p = add(name, help, cmd_dir, "key")
        p.add_argument("--ttl", type=int, default=0)
        p.set_defaults(prev_exist=prev_exist)
    p = add("rm", "remove a key or a directory", cmd_rm, "key")
    p.add_argument("--dir", action="store_true")
    p.add_argument("--recursive", "-r", action="store_true")
    p.add_argument("--with-value", default="")
    p.add_argument("--with-index", type=int, default=0)
    add("rmdir", "remove the key if it is an empty directory or a key-value pair", cmd_rmdir, "key")
    p = add("watch", "watch a key for changes", cmd_watch, "key")
    p.add_argument("--forever", "-f", action="store_true")
    p.add_argument("--after-index", type=int, default=0)
    p.add_argument("--recursive", "-r", action="store_true")
    p = add("cluster-health", "check the health of the etcd cluster", cmd_cluster_health)
    p.add_argument("--forever", "-f", action="store_true")
    p = add("member", "member list | add NAME PEER_URL | remove ID", cmd_member)
    p.add_argument("words", nargs="*")
    return parser


def split_run(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take the optional RUN out of ``[RUN] [global options] COMMAND ...``."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _GLOBAL_WITH_VALUE:
            i += 2
        elif word.startswith("-"):
            i += 1
        elif word in COMMANDS or not any(w in COMMANDS for w in argv[i + 1 :]):
            break  # no command after it: leave it for the "invalid choice" message
        else:
            return word, argv[:i] + argv[i + 1 :]
    return None, argv


def resolve_endpoints(spec: str | None, run_arg: str | None) -> list[str]:
    """URLs for ``--endpoint`` (node names, URLs, host:port) or every node of the run."""
    items = [s.strip() for s in spec.split(",") if s.strip()] if spec else []
    urls, names = [], []
    for item in items:
        if "://" in item:
            urls.append(item.rstrip("/"))
        elif _HOST_PORT.fullmatch(item):
            urls.append("http://" + item)
        else:
            names.append(item)
    if items and not names:
        return urls
    nodes = _cluster_nodes(run_arg)
    if not items:
        return [n["client_url"] for n in nodes]
    by_name = {n["name"]: n["client_url"] for n in nodes}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise EndpointError(
            f"no node {missing[0]!r} in this run (nodes: {', '.join(by_name) or 'none'}); "
            "or give a URL such as http://127.0.10.1:2379"
        )
    return [item if item not in by_name else by_name[item] for item in items if item]


def _cluster_nodes(run_arg: str | None) -> list[dict[str, Any]]:
    try:
        run_dir = resolve_run(run_arg)
    except RunNotFound as exc:
        raise EndpointError(f"{exc}; or give --endpoint URL") from None
    path = run_dir / "cluster.json"
    try:
        data = json.loads(path.read_text())
        nodes = [n for n in data["nodes"] if n.get("name") and n.get("client_url")]
    except FileNotFoundError:
        raise EndpointError(f"no {path} (is the cluster up?); or give --endpoint URL") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EndpointError(f"{path}: not a cluster description ({exc})") from None
    if not nodes:
        raise EndpointError(f"{path} lists no nodes")
    return nodes


def main(
    argv: list[str],
    endpoint: str | None = None,
    output: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stdin: TextIO | None = None,
) -> int:
    """Run one etcdctl command line; returns etcdctl's exit code."""
    run_arg, rest = split_run(argv)
    try:
        ns = _command_parser().parse_args(rest)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_ARGS
    try:
        urls = resolve_endpoints(getattr(ns, "endpoint", None) or endpoint, run_arg)
    except EndpointError as exc:
        err.write(f"etcdctl: {exc}\n")
        return EXIT_BAD_ARGS
    output = getattr(ns, "output", None) or output or "simple"
    ctx = Ctx(V2Client(urls), output, out, err, stdin)
    try:
        return ns.func(ctx, ns)
    except KeyboardInterrupt:
        return EXIT_OK  # as etcdctl: Ctrl-C ends a watch with 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="etcdctl")
    configure(_parser)
    sys.exit(run(_parser.parse_args()))
