"""Starting a container: its ports bound, its command line and environment per image kind.

Errors are docker's own words (:class:`DockerError` carries the CLI's exit code, 125 for ``run``).
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from actors.docker.containers import Container
from actors.docker.images import Image, split_ref
from actors.systemd import children


class DockerError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message, self.code = message, code


def bind_ports(c: Container, wanted: list, default_addr: str) -> list[socket.socket]:
    """Bind and listen on each ``-p`` port (docker-proxy's job); docker's error when one can't."""
    socks: list[socket.socket] = []
    for addr, hport, cport in wanted:
        # the node's address stands for the machine's every address (nodes share one host)
        host = default_addr if addr in (None, "", "0.0.0.0", "::") else addr
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, hport))
            s.listen(128)
        except OSError as exc:
            s.close()
            for other in socks:
                other.close()
            why = (exc.strerror or str(exc)).lower()
            raise DockerError(
                f"docker: Error response from daemon: driver failed programming external "
                f"connectivity on endpoint {c.name} ({c.id}): Error starting userland proxy: "
                f"listen tcp4 {host}:{hport}: bind: {why}.",
                125,
            ) from None
        socks.append(s)
        c.ports.append((host, s.getsockname()[1], cport))
    return socks


def container_command(
    c: Container, image: Image, socks: list[socket.socket], node: str, address: str
) -> tuple[list[str], dict[str, str], tuple[int, ...]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": c.id[:12]}
    for item in c.env:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]  # -e NAME passes the caller's value in docker
    env.update(
        COREEMU_NODE=node, COREEMU_ADDRESS=address, COREEMU_CONTAINER=c.name,
        COREEMU_CONTAINER_ID=c.id, COREEMU_IMAGE=split_ref(c.image)[0],
        COREEMU_PORTS=",".join(f"{a}:{h}:{p}" for a, h, p in c.ports),
    )  # fmt: skip
    fds: tuple[int, ...] = ()
    if image.kind == "web":
        fds = tuple(s.fileno() for s in socks)
        env["COREEMU_WEB_FDS"] = ",".join(
            f"{fd}={a}:{h}->{p}/tcp" for fd, (a, h, p) in zip(fds, c.ports, strict=True)
        )
        env["PYTHONPATH"] = str(children.REPO_ROOT)
        return [sys.executable, "-m", "actors.docker.webimage", *c.cmd], env, fds
    if image.kind == "busybox":
        return (c.cmd or ["sh"]), env, fds
    return ["sh", "-c", image.command, image.repo, *c.cmd], env, fds


def default_cmd(c: Container) -> str:
    """What ``docker ps`` shows as COMMAND when the run gave none."""
    if "nginx" in c.image:
        return "nginx -g 'daemon off;'"
    return "httpd-foreground" if "apache" in c.image or "httpd" in c.image else "sh"


def parse_signal(name: str) -> int:
    """``KILL``, ``SIGTERM`` or ``15`` → the signal number."""
    name = name.upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        raise DockerError(f"Error response from daemon: Invalid signal: {name}") from None
