"""etcd's proxy mode (``proxy: on``): a non-member node forwards client requests to members.

The proxy serves with the same small HTTP server as members (:mod:`actors.etcd.httpserver`) and
forwards each request over a fresh asyncio connection to a member's client URL, in turn; a member
that refuses the connection is skipped for this request. Answers with a length are relayed whole,
chunked ones (streamed watches) chunk by chunk until either side goes away. No HTTP library is
loaded for this: a proxy is most of the nodes of a large cluster, so its footprint matters.
It cannot use the project's etcd client (:mod:`emulator.etcdctl_client`): that client blocks its
thread for a whole exchange, and here one event loop serves every connection of the node.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from actors.etcd.http1 import Request
from actors.etcd.httpserver import Exchange, HttpServer
from emulator.nodelog import ActorLog

MAX_REQUEST_BYTES = 1536 * 1024  # etcd's --max-request-bytes default (1.5 MiB)
CONNECT_TIMEOUT_S = 2.0
REFRESH_S = 30.0  # etcd's --proxy-refresh-interval default
_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class UpstreamError(Exception):
    """The member's answer could not be read."""


class ProxyMembers:
    """The member client URLs a proxy forwards to, re-read from ``/v2/members`` every
    ``interval_s`` as etcd's proxy does (``proxy-refresh-interval``, 30 s by default), so it
    follows members removed and added back. Call it for the list now."""

    def __init__(
        self,
        urls: list[str],
        interval_s: float = REFRESH_S,
        on_change: Callable[[list[str]], None] | None = None,
    ):
        self.urls = list(urls)
        self.interval_s = interval_s
        self._on_change = on_change

    def __call__(self) -> list[str]:
        return self.urls

    async def refresh_forever(self, log: ActorLog) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.refresh(log)

    async def refresh(self, log: ActorLog) -> bool:
        """Ask the members in turn for the member list; True when it changed."""
        for base in list(self.urls):
            try:
                found = await asyncio.wait_for(_member_client_urls(base), CONNECT_TIMEOUT_S)
            except (OSError, ValueError, KeyError, TypeError, asyncio.TimeoutError):
                continue  # that member is down or removed: ask the next
            if not found:
                continue
            if sorted(found) != sorted(self.urls):
                log("proxy.members_refreshed", before=self.urls, after=found, source=base)
                self.urls = found
                if self._on_change is not None:
                    self._on_change(found)
                return True
            return False
        log.warning("proxy.refresh_failed", members=self.urls)
        return False


async def _member_client_urls(base: str) -> list[str]:
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    try:
        writer.write(
            f"GET /v2/members HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ValueError(f"{base}/v2/members: {head[:40]!r}")
    members = json.loads(body)["members"]
    return [u for m in members for u in m.get("clientURLs") or ()]


class Proxy:
    def __init__(self, endpoints: Callable[[], list[str]], log: ActorLog):
        self._endpoints = endpoints
        self._log = log
        self._next = 0
        self._tasks: set[asyncio.Task] = set()

    def handle(self, request: Request, exchange: Exchange) -> None:
        task = asyncio.get_running_loop().create_task(self._forward(request, exchange))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        exchange.on_close(task.cancel)  # the client went away (e.g. a watch): stop relaying

    async def _forward(self, request: Request, exchange: Exchange) -> None:
        endpoints = self._endpoints()
        for attempt in range(len(endpoints)):
            base = endpoints[(self._next + attempt) % len(endpoints)]
            url = urlsplit(base)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(url.hostname, url.port or 80), CONNECT_TIMEOUT_S
                )
            except (OSError, asyncio.TimeoutError) as exc:
                self._log.warning(
                    "proxy.member_unreachable", member=base, error=str(exc) or type(exc).__name__
                )
                continue
            try:
                await self._relay(request, exchange, reader, writer, url.netloc)
                self._next = (self._next + attempt) % len(endpoints)
                return
            except (OSError, UpstreamError, asyncio.IncompleteReadError, ValueError) as exc:
                self._log.warning(
                    "proxy.member_failed", member=base, error=str(exc) or type(exc).__name__
                )
                if exchange.done or exchange.streaming:
                    exchange.end_stream()  # part of the answer went out already: just end it
                    return
            finally:
                writer.close()
        body = {"message": "proxy: no etcd member reachable", "members": endpoints}
        exchange.respond(
            503, {"Content-Type": "application/json"}, json.dumps(body).encode() + b"\n"
        )

    async def _relay(
        self,
        request: Request,
        exchange: Exchange,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        netloc: str,
    ) -> None:
        target = quote(request.path, safe=_PATH_SAFE) + (
            "?" + request.query if request.query else ""
        )
        lines = [f"{request.method} {target} HTTP/1.1", f"Host: {netloc}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in request.headers.items() if k not in _HOP_HEADERS]
        lines.append(f"Content-Length: {len(request.body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
        await writer.drain()

        status_line = await reader.readline()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise UpstreamError(f"bad status line {status_line[:60]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        raw: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            raw[name.strip().lower()] = value.strip()
            if name.strip().lower() not in _HOP_HEADERS and name.strip().lower() != "date":
                headers[name.strip()] = value.strip()
        if request.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            exchange.respond(status, headers, b"")
        elif "chunked" in raw.get("transfer-encoding", "").lower():
            exchange.start_stream(status, headers)
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                data = await reader.readexactly(size)
                await reader.readexactly(2)
                if not exchange.send_chunk(data):
                    return
            exchange.end_stream()
        elif "content-length" in raw:
            exchange.respond(status, headers, await reader.readexactly(int(raw["content-length"])))
        else:
            exchange.respond(status, headers, await reader.read())


async def serve_proxy(
    host: str, port: int, endpoints: Callable[[], list[str]], log: ActorLog
) -> Callable[[], Awaitable[None]]:
    """Start the proxy on the running loop; returns the coroutine function that stops it."""
    proxy = Proxy(endpoints, log)
    server = HttpServer(proxy.handle, max_body=MAX_REQUEST_BYTES, log=log, wall=log.clock.time)
    await server.start(host, port)
    refresher = None
    if isinstance(endpoints, ProxyMembers):
        refresher = asyncio.get_running_loop().create_task(endpoints.refresh_forever(log))

    async def close() -> None:
        if refresher is not None:
            refresher.cancel()
        for task in list(proxy._tasks):
            task.cancel()
        await server.close()

    return close
