"""etcd discovery for a run: the service the supervisor runs (the join a node does at boot is in
:mod:`emulator.discovery_join`).

A node whose cloud-config says ``coreos.etcd2.discovery`` boots as CoreOS's etcd2 does: it asks
the discovery service for the cluster before starting etcd, registering itself and waiting until
``size`` members have registered; the first ``size`` are the members, the rest run as proxies
(:mod:`emulator.discovery_registry` holds the protocol; this module is its HTTP shell).

Which service:

* ``discovery: auto`` (or ``auto?size=N``): the supervisor serves a discovery service on
  127.0.0.1 at a random port and mints one token for the run, of size N (default: 3, or fewer
  when fewer nodes say ``auto``). Nodes learn its URL from ``COREEMU_DISCOVERY_URL``, set by the
  supervisor for the processes it starts, or from ``discovery.json`` in the run dir.
* ``discovery: http://127.0.0.1:4001/<token>`` (any loopback address): the supervisor serves that
  address and creates the token with a size of the number of nodes that name it.
* ``discovery: https://discovery.etcd.io/<token>`` (the public service CoreOS configs name): the
  supervisor stands in for it on 127.0.0.1 at a random port, with the token of size 3 as
  discovery.etcd.io/new gives (``?size=N`` on the URL sizes it); nodes map such URLs to it through
  ``COREEMU_DISCOVERY_PUBLIC`` or ``public_base`` in ``discovery.json``. Nothing reaches the internet.
* Any other URL is left to the node to reach.

The supervisor keeps the registry in memory and writes it to ``discovery.json`` in the run dir on
every change. A node writes what discovery decided to ``etcd-discovery.json`` in its data dir
and, like etcd with an existing data dir, does not ask again after a restart.
"""

from __future__ import annotations

import json
import os
import random
import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from actors.etcd.v2api import Response
from emulator.discovery_join import (  # noqa: F401  (the node's side, re-exported)
    ENV_PUBLIC,
    ENV_URL,
    NODE_FILE,
    RUN_FILE,
    DiscoveryJoin,
    DiscoveryStopped,
    discovery_url,
    resolve_bootstrap,
)
from emulator.discovery_registry import (
    DEFAULT_SIZE,
    AutoDiscovery,
    Bootstrap,
    BootstrapRole,
    DiscoveryError,
    DiscoveryRegistry,
    DiscoveryRequest,
    LiteralDiscovery,
    PendingWatch,
    parse_discovery,
)


# --- the service (supervisor side) ---------------------------------------------------------------
class SharedRegistry:
    """A DiscoveryRegistry shared by the HTTP threads: one lock, and a condition for watches."""

    def __init__(
        self, registry: DiscoveryRegistry, rng: random.Random, on_change: Callable[[], None]
    ):
        self.registry = registry
        self._rng = rng
        self._cond = threading.Condition()
        self._on_change = on_change
        self.closing = threading.Event()

    def handle(
        self, req: DiscoveryRequest, gone: Callable[[], bool] = lambda: False
    ) -> Response | None:
        """The reply; a watch blocks until it can be answered (None if the service stops or
        ``gone()`` says the client left)."""
        with self._cond:
            before = self.registry.index
            result = self.registry.handle(req, self._rng, time.time_ns())
            if self.registry.index != before:
                self._changed()
            if not isinstance(result, PendingWatch):
                return result
            while result.reply is None:
                if self.closing.is_set() or gone():
                    self.registry.cancel(result)
                    return None
                self._cond.wait(0.5)  # woken by every change; the timeout looks at gone()
            return result.reply

    def create_token(self, token: str, size: int) -> None:
        with self._cond:
            if self.registry.size(token) is None:
                self.registry.create_token(token, size)
                self._changed()

    def new_token(self, size: int) -> str:
        with self._cond:
            token = self.registry.new_token(size, self._rng)
            self._changed()
            return token

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return self.registry.snapshot()

    def close(self) -> None:
        self.closing.set()
        with self._cond:
            self._cond.notify_all()

    def _changed(self) -> None:
        self._cond.notify_all()
        self._on_change()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_PUT = do_DELETE = do_POST = do_HEAD = do_GET

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        host = self.headers.get("Host") or f"{self.server.host}:{self.server.port}"
        req = DiscoveryRequest(
            self.command,
            urllib.parse.unquote(url.path),
            url.query,
            self.rfile.read(length) if length else b"",
            self.headers.get("Content-Type"),
            base_url=f"http://{host}",
        )
        reply = self.server.shared.handle(req, lambda: _client_gone(self.connection))
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the registry file shows what happened; access logs would only be noise


def _client_gone(sock: socket.socket) -> bool:
    """Has the client of a held watch closed its end? (A long poll that timed out does.)"""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, shared: SharedRegistry):
        self.shared = shared
        super().__init__((host, port), _Handler)
        self.host, self.port = self.server_address[:2]


def _check_loopback(host: str) -> None:
    try:
        infos = {ai[4][0] for ai in socket.getaddrinfo(host, None, socket.AF_INET)}
    except OSError as exc:
        raise DiscoveryError(f"cannot resolve discovery host {host!r}: {exc}") from None
    if not infos or not all(a.startswith("127.") for a in infos):
        raise DiscoveryError(f"the discovery service binds loopback only, not {host!r}")


class DiscoveryService:
    """The run's discovery service: one registry, served on each address the config needs."""

    def __init__(self, run_dir: Path | None, seed: int, log: Callable[..., Any] | None = None):
        self.run_dir = run_dir
        self.log = log or (lambda *a, **k: None)
        self.shared = SharedRegistry(
            DiscoveryRegistry(), random.Random(f"discovery-{seed}"), self._write
        )
        self.servers: list[_Server] = []
        self.auto_url: str | None = None
        self.public_base: str | None = None

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the registry on ``host:port`` (0: a free port); returns ``http://host:port``."""
        _check_loopback(host)
        server = _Server(host, port, self.shared)
        threading.Thread(
            target=server.serve_forever, name=f"discovery-{host}:{server.port}", daemon=True
        ).start()
        self.servers.append(server)
        return f"http://{host}:{server.port}"

    @classmethod
    def for_config(
        cls, cfg: Any, run_dir: Path, log: Callable[..., Any]
    ) -> DiscoveryService | None:
        """Start what ``cfg`` needs (None if no node uses discovery). Problems are logged."""
        autos: list[AutoDiscovery] = []
        literals: dict[str, tuple[LiteralDiscovery, int]] = {}
        for spec in cfg.nodes:
            text = spec.cloud_config.etcd2.discovery
            if not text:
                continue
            try:
                found = parse_discovery(text)
            except DiscoveryError as exc:
                log("discovery.bad_url", level="error", target=spec.name, error=str(exc))
                continue
            if isinstance(found, AutoDiscovery):
                autos.append(found)
            else:
                seen = literals.get(found.url)
                literals[found.url] = (found, (seen[1] if seen else 0) + 1)
        if not autos and not literals:
            return None
        service = cls(run_dir, cfg.seed, log)
        if autos:
            sizes = [a.size for a in autos if a.size is not None]
            size = sizes[0] if sizes else min(DEFAULT_SIZE, len(autos))
            base = service.serve()
            service.auto_url = f"{base}/{service.shared.new_token(size)}"
            os.environ[ENV_URL] = service.auto_url  # inherited by the node processes
            log("discovery.serving", url=service.auto_url, size=size, nodes=len(autos))
        bound: dict[tuple[str, int], str] = {}
        for url, (lit, count) in literals.items():
            if lit.public:
                service._serve_public(lit, count, log)
                continue
            if not lit.loopback:
                log("discovery.not_served", level="warning", url=url,
                    hint="only loopback discovery URLs are served by the run")  # fmt: skip
                continue
            try:
                if (lit.host, lit.port) not in bound:
                    bound[(lit.host, lit.port)] = service.serve(lit.host, lit.port)
                size = lit.size or count
                service.shared.create_token(lit.token, size)
                log("discovery.serving", url=url, size=size, nodes=count)
            except (OSError, DiscoveryError) as exc:
                log("discovery.serve_failed", level="error", url=url, error=str(exc))
        service._write()
        return service

    def _serve_public(self, lit: LiteralDiscovery, count: int, log: Callable[..., Any]) -> None:
        """Stand in for discovery.etcd.io: its tokens are served on one local address."""
        if self.public_base is None:
            self.public_base = self.serve()
            os.environ[ENV_PUBLIC] = self.public_base  # inherited by the node processes
        size = lit.size or DEFAULT_SIZE
        self.shared.create_token(lit.token, size)
        log("discovery.serving", url=lit.url, local=f"{self.public_base}/{lit.token}",
            size=size, nodes=count, stands_in_for=lit.host)  # fmt: skip
        if count < size:
            log("discovery.short", level="warning", url=lit.url, size=size, nodes=count,
                hint="fewer nodes name this token than its size: they wait for the rest")  # fmt: skip

    def stop(self) -> None:
        self.shared.close()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        if self.auto_url and os.environ.get(ENV_URL) == self.auto_url:
            del os.environ[ENV_URL]
        if self.public_base and os.environ.get(ENV_PUBLIC) == self.public_base:
            del os.environ[ENV_PUBLIC]

    def _write(self) -> None:
        if self.run_dir is None:
            return
        data = {
            "auto_url": self.auto_url,
            "public_base": self.public_base,
            "served": [f"http://{s.host}:{s.port}" for s in self.servers],
            **self.shared.registry.snapshot(),  # called with the registry's lock held
        }
        tmp = self.run_dir / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.run_dir / RUN_FILE)


__all__ = [
    "ENV_URL",
    "Bootstrap",
    "BootstrapRole",
    "DiscoveryError",
    "DiscoveryJoin",
    "DiscoveryService",
    "DiscoveryStopped",
    "discovery_url",
    "resolve_bootstrap",
]
