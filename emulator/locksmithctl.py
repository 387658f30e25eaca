"""``run.py locksmithctl [RUN] status | lock [ID] | unlock [ID] | set-max N``: locksmithctl for a run.

The same commands and output as CoreOS's ``locksmithctl`` (``Available: 1`` / ``Max: 1`` and the
``MACHINE ID`` list; ``Old-Max:``/``Max:``; ``Error locking: semaphore is at 0``), over the
cluster's etcd v2 API: by default every node of the run in order, or ``--endpoint``. ``lock`` and
``unlock`` take a machine id — or, as there is no "this machine" here, a node name of the run,
whose ``/etc/machine-id`` is read from its data dir. ``--group`` works on a group's semaphore.
Exit codes: 0 ok, 1 an error (as locksmithctl).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TextIO

from actors.locksmith.etcdlock import EtcdLock
from actors.locksmith.semaphore import BadSemaphore, LockError, RebootSemaphore
from emulator.etcdctl import EndpointError, resolve_endpoints
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError, V2Client
from emulator.machineid import MACHINE_ID_PATH
from emulator.rundir import RunNotFound, resolve_run

COMMANDS = ("status", "lock", "unlock", "set-max")
_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
ETCD_ERRORS = (ClusterError, ClientError, EtcdError, BadSemaphore, OSError)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "locksmith's reboot lock in the cluster's etcd, as locksmithctl shows and changes it: "
        "status, lock [ID|NODE], unlock [ID|NODE], set-max N."
    )
    parser.add_argument(
        "--endpoint",
        dest="locksmith_endpoint",
        metavar="NODE_OR_URL",
        help="etcd endpoint(s): node names of the run or URLs, comma-separated (default: all nodes)",
    )
    parser.add_argument(
        "--group", dest="locksmith_group", metavar="GROUP", help="the reboot group's semaphore"
    )
    parser.add_argument(
        "locksmith_argv",
        nargs=argparse.REMAINDER,
        metavar="[RUN] COMMAND ...",
        help="run dir or cluster name (default: latest), then status | lock [ID] | unlock [ID] | "
        "set-max N",
    )


def run(args: argparse.Namespace) -> int:
    return main(
        list(args.locksmith_argv),
        endpoint=args.locksmith_endpoint,
        group=args.locksmith_group,
        out=sys.stdout,
        err=sys.stderr,
    )


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py locksmithctl")
    parser.add_argument("--endpoint", default=argparse.SUPPRESS)
    parser.add_argument("--group", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("status", help="the number of locks held and available, and the holders")
    for name, what in (("lock", "Lock"), ("unlock", "Unlock")):
        p = sub.add_parser(name, help=f"{what} a machine id (or a node of the run) for reboot")
        p.add_argument("id", nargs="?", metavar="MACHINE_ID_OR_NODE")
    p = sub.add_parser("set-max", help="the maximum number of machines rebooting at a time")
    p.add_argument("max", nargs="?")
    return parser


def split_run(argv: list[str]) -> tuple[str | None, list[str]]:
    """``[RUN] [options] COMMAND ...`` → (RUN or None, the rest)."""
    for i, word in enumerate(argv):
        if word in ("--endpoint", "--group") or (i and argv[i - 1] in ("--endpoint", "--group")):
            continue
        if word.startswith("-"):
            continue
        if word in COMMANDS:
            return None, argv
        return word, argv[:i] + argv[i + 1 :]
    return None, argv


def machine_id_of(word: str, run_arg: str | None) -> str:
    """A machine id as given, or the machine id of the run's node called ``word``."""
    if _MACHINE_ID.match(word):
        return word
    try:
        run_dir = resolve_run(run_arg)
    except RunNotFound:
        return word  # not a node name we can look up: locksmith takes any id
    path = Path(run_dir) / "nodes" / word / MACHINE_ID_PATH
    try:
        return path.read_text().strip() or word
    except OSError:
        return word


def print_status(sem: RebootSemaphore, out: TextIO) -> None:
    out.write(f"Available: {sem.semaphore}\nMax: {sem.max}\n")
    if sem.holders:
        out.write("\nMACHINE ID\n")
        for holder in sem.holders:
            out.write(holder + "\n")


def main(
    argv: list[str],
    endpoint: str | None = None,
    group: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    run_arg, rest = split_run(argv)
    try:
        ns = _command_parser().parse_args(rest)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    try:
        urls = resolve_endpoints(getattr(ns, "endpoint", None) or endpoint, run_arg)
    except EndpointError as exc:
        err.write(f"locksmithctl: {exc}\n")
        return 1
    lock = EtcdLock(V2Client(urls), getattr(ns, "group", None) or group)
    try:
        if ns.command == "status":
            print_status(lock.get(), out)
            return 0
        if ns.command == "set-max":
            if ns.max is None:
                err.write("New maximum value must be set.\n")
                return 1
            try:
                new_max = int(ns.max)
            except ValueError:
                err.write(f"Invalid maximum value: {ns.max}\n")
                return 1
            try:
                before, after = lock.set_max(new_max)
            except LockError as exc:
                err.write(f"Error setting value: {exc}\n")
                return 1
            out.write(f"Old-Max: {before.max}\nMax: {after.max}\n")
            return 0
        if ns.id is None:
            err.write(
                "Cannot read machine-id: give a machine id or a node name "
                "(python run.py status --json shows each node's machine_id)\n"
            )
            return 1
        mid = machine_id_of(ns.id, run_arg)
        verb = "locking" if ns.command == "lock" else "unlocking"
        try:
            if ns.command == "lock":
                lock.lock(mid)
            else:
                lock.unlock(mid)
        except LockError as exc:
            err.write(f"Error {verb}: {exc}\n")
            return 1
        return 0
    except ETCD_ERRORS as exc:
        err.write(f"Error: {exc}\n")
        return 1
