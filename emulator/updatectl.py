"""``run.py update-engine [RUN] --node N -status | -check_for_update | -reset_status``.

update_engine_client for a node of a run: the same flags and the same ``KEY=value`` status lines
(``LAST_CHECKED_TIME``, ``PROGRESS``, ``CURRENT_OP``, ``NEW_VERSION``, ``NEW_SIZE``). It reaches
the node's update_engine over its loopback control endpoint (the node's etcd client port + 5,
see :mod:`actors.update.part`). Exit codes: 0 done, 1 the node or its update_engine did not
answer, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from emulator.etcdctl_client import http_request
from emulator.rundir import RunNotFound, resolve_run

TIMEOUT_S = 8.0


def configure(parser: argparse.ArgumentParser) -> None:
    if not any(action.dest == "run" for action in parser._actions):
        parser.add_argument("run", nargs="?", help="run dir or cluster name (default: latest)")
    parser.add_argument("--node", help="the node to ask (default: the run's first node)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("-status", action="store_true", help="print the update status (default)")
    what.add_argument(
        "-check_for_update", action="store_true", help="check for an update now (and install it)"
    )
    what.add_argument(
        "-reset_status", action="store_true", help="back to UPDATE_STATUS_IDLE, undoing an install"
    )


def control_url(run_dir: Any, node: str | None) -> tuple[str, str]:
    """(node name, base URL of its update_engine control endpoint) from the run's cluster.json."""
    from actors.update.part import CONTROL_PATH, CONTROL_PORT_SHIFT

    nodes = json.loads((run_dir / "cluster.json").read_text())["nodes"]
    if not nodes:
        raise LookupError(f"no nodes in {run_dir}")
    chosen = nodes[0] if node is None else next((n for n in nodes if n["name"] == node), None)
    if chosen is None:
        names = ", ".join(n["name"] for n in nodes)
        raise LookupError(f"no node {node!r} in this run (nodes: {names})")
    client = urlsplit(chosen["client_url"])
    port = (client.port or 2379) + CONTROL_PORT_SHIFT
    return chosen["name"], f"http://{client.hostname}:{port}{CONTROL_PATH}"


def format_status(status: dict[str, Any]) -> str:
    """update_engine_client's -status lines."""
    return "\n".join(
        [
            f"LAST_CHECKED_TIME={int(status.get('last_checked') or 0)}",
            f"PROGRESS={float(status.get('progress') or 0):.6f}",
            f"CURRENT_OP={status.get('current_operation', 'UPDATE_STATUS_IDLE')}",
            f"NEW_VERSION={status.get('new_version', '0.0.0.0')}",
            f"NEW_SIZE={int(status.get('new_size') or 0)}",
        ]
    )


class _Refused(Exception):
    """update_engine answered with an error status."""


def _call(url: str, post: bool) -> dict[str, Any]:
    method, body = ("POST", b"") if post else ("GET", None)
    reply = http_request(url, method, body, timeout=TIMEOUT_S, body_timeout=TIMEOUT_S)
    if reply.status >= 400:
        raise _Refused(reply.status)
    return json.loads(reply.body)


def run(args: argparse.Namespace) -> int:
    try:
        run_dir = resolve_run(args.run)
        name, base = control_url(run_dir, args.node)
    except (RunNotFound, LookupError, OSError, ValueError, KeyError) as exc:
        print(f"update-engine: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, LookupError) else 1
    try:
        if args.check_for_update:
            print("Initiating update check and install.")
            _call(base + "check_for_update", post=True)
        elif args.reset_status:
            print("Setting Update Engine status to idle ...")
            _call(base + "reset_status", post=True)
            print("ResetStatus succeeded.")
        else:
            print(format_status(_call(base + "status", post=False)))
    except _Refused as exc:
        print(f"update-engine: {name}: update_engine answered {exc}", file=sys.stderr)
        return 1
    except (OSError, http.client.HTTPException, ValueError) as exc:
        print(
            f"update-engine: {name}: cannot reach update_engine at {base} ({exc})", file=sys.stderr
        )
        return 1
    return 0
