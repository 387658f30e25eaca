"""The emulated ``docker`` command: parse as docker does, ask the node's daemon, print as docker does.

Run by the node's systemd for Exec lines whose program is ``docker`` or ``/usr/bin/docker``, as
``python -m actors.docker ARGS…`` with ``DOCKER_HOST=tcp://ADDR:PORT`` naming the node's daemon.
An attached ``docker run`` prints the container's output and exits with its exit code; a signal
it gets (systemd stopping the unit) is passed on to the container, as docker's ``--sig-proxy``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator

from actors.docker.cliargs import UsageError, parse
from actors.docker.containers import ps_table


class DaemonUnreachable(Exception):
    pass


def _connect() -> socket.socket:
    host = os.environ.get("DOCKER_HOST", "")
    if not host.startswith("tcp://"):
        raise DaemonUnreachable(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
            "Is the docker daemon running?"
        )
    addr, _, port = host[6:].rpartition(":")
    try:
        return socket.create_connection((addr, int(port)), timeout=5)
    except OSError:
        raise DaemonUnreachable(
            f"Cannot connect to the Docker daemon at {host}. Is the docker daemon running?"
        ) from None


def request(req: dict) -> Iterator[dict]:
    """Send one request; yield the daemon's reply lines."""
    sock = _connect()
    sock.settimeout(None)
    with sock, sock.makefile("rwb") as f:
        f.write(json.dumps(req).encode() + b"\n")
        f.flush()
        for line in f:
            yield json.loads(line)


def run(argv: list[str]) -> int:
    try:
        req = parse(argv)
    except UsageError as exc:
        print(exc.message, file=sys.stderr if exc.code else sys.stdout)
        return exc.code
    if req["op"] == "run" and not req.get("detach"):
        _proxy_signals(req)
    code = 0
    try:
        for reply in request(req):
            if "error" in reply:
                print(reply["error"], file=sys.stderr)
                return reply.get("code", 1)
            if reply.get("err"):
                sys.stderr.write(reply["err"])
                sys.stderr.flush()
            if "out" in reply:
                sys.stdout.write(reply["out"])
                sys.stdout.flush()
            if "id" in reply:
                req["id"] = reply["id"]
                if req.get("detach"):
                    print(reply["id"])
            if "rows" in reply:
                _print_ps(req, reply)
            if "exit" in reply:
                code = reply["exit"]
    except DaemonUnreachable as exc:
        print(exc, file=sys.stderr)
        return 125 if req["op"] == "run" else 1
    except (ConnectionError, json.JSONDecodeError):
        print("error during connect: the Docker daemon went away", file=sys.stderr)
        return 125 if req["op"] == "run" else 1
    return code


def _print_ps(req: dict, reply: dict) -> None:
    if req.get("quiet"):
        for row in reply["rows"]:
            print(row["id"] if req.get("no_trunc") else row["id"][:12])
    else:
        print(ps_table(reply["rows"], reply["now"], bool(req.get("no_trunc"))))


def _proxy_signals(req: dict) -> None:
    """Pass SIGTERM/SIGINT/SIGHUP on to the container once it exists (docker's sig-proxy)."""

    def forward(signum, frame) -> None:
        cid = req.get("id")
        if cid is None:
            sys.exit(128 + signum)  # no container yet: nothing to hand the signal to

        def send() -> None:
            try:
                for _ in request({"op": "kill", "args": [cid], "signal": str(signum)}):
                    pass
            except Exception:
                pass  # the container may be gone already

        threading.Thread(target=send, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
