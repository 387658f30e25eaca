"""A small HTTP/1.1 server on asyncio (uvloop where installed): the etcd client port's sockets.

Theory of operation. Each connection is an :class:`asyncio.Protocol` that feeds its bytes to an
:class:`~actors.etcd.http1.RequestParser` and serves requests strictly one after another, as Go's
server does: the next request (pipelined or not) is only parsed once the current one has been
answered, so answers always leave in request order. Serving a request means calling the
handler with the :class:`~actors.etcd.http1.Request` and an :class:`Exchange`; the handler
answers at once or later (from the loop's thread) with :meth:`Exchange.respond`, or starts a
chunked stream. If the client goes away first, the exchange's ``on_close`` callbacks run
(watches use that to stop).

Protocol errors answer with the error's status and close; a handler that raises costs its
request a 500, never the server. Connections idle between requests for ``idle_timeout`` seconds
are closed by a sweep (one timer for the whole server, none per request).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any

from actors.etcd import http1
from actors.etcd.http1 import HttpError, Request

Handler = Callable[[Request, "Exchange"], None]
READ_PAUSE_BYTES = 4 << 20  # stop reading a connection that has this much unserved input
STREAM_MAX_BUFFER = 8 << 20  # a stream whose client reads nothing is cut off past this
DISCARD_SECONDS = 5.0  # how long to swallow an over-large body before closing


class _Clock:
    """The ``Date`` header, formatted once a second, from the node's wall clock (a clock fault
    shows in it, as a skewed machine's clock shows in Go's ``Date``)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._second = -1
        self._text = ""

    def date(self) -> str:
        now = int(self._wall())
        if now != self._second:
            self._second, self._text = now, formatdate(now, usegmt=True)
        return self._text


class Exchange:
    """One request's answer: :meth:`respond` once, or :meth:`start_stream` then chunks."""

    __slots__ = (
        "_conn", "head", "keep_alive", "http10", "done", "streaming", "_on_close", "arrived",
    )  # fmt: skip

    def __init__(self, conn: _Connection, request: Request, arrived: float = 0.0):
        self._conn = conn
        self.arrived = arrived  # time.monotonic() when its parse began (a write's stage times)
        self.head = request.method == "HEAD"
        self.keep_alive = request.keep_alive
        self.http10 = request.http10
        self.done = False
        self.streaming = False
        self._on_close: list[Callable[[], None]] | None = None

    @property
    def closed(self) -> bool:
        """The client is gone (or the answer is complete): nothing more can be sent."""
        return self.done or self._conn.lost

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` if the connection closes before this exchange is answered."""
        if self._on_close is None:
            self._on_close = []
        self._on_close.append(fn)

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        if self.done:
            return
        self.done = True
        conn = self._conn
        if conn.lost:
            return
        close = not self.keep_alive or conn.eof
        conn.write(
            http1.render(
                status,
                conn.server.with_defaults(headers),
                body,
                date=conn.server.clock.date(),
                head=self.head,
                close=close,
            )
        )
        conn.finished(self, close)

    def start_stream(self, status: int, headers: Mapping[str, str]) -> None:
        """Send the head of a chunked answer (close-delimited for an HTTP/1.0 client)."""
        if self.done or self.streaming or self._conn.lost:
            return
        self.streaming = True
        headers = dict(self._conn.server.with_defaults(headers))
        if not self.http10 and not self.head:
            headers["Transfer-Encoding"] = "chunked"
        date = self._conn.server.clock.date()
        head = http1.render(status, headers, b"", date=date, length=False, close=self.http10)
        self._conn.write(head)
        if self.head:
            self.end_stream()

    def send_chunk(self, data: bytes) -> bool:
        """Send part of a streamed body; False if the client is gone or not reading."""
        conn = self._conn
        if self.done or conn.lost or not data:
            return not (self.done or conn.lost)
        conn.write(data if self.http10 else http1.chunk(data))
        if conn.write_buffer_size() > STREAM_MAX_BUFFER:
            conn.abort()
            return False
        return True

    def end_stream(self) -> None:
        if self.done:
            return
        self.done = True
        conn = self._conn
        if conn.lost:
            return
        if not self.http10 and not self.head:
            conn.write(http1.chunk(b""))
        conn.finished(self, self.http10 or not self.keep_alive or conn.eof)

    def _closed_early(self) -> None:
        callbacks, self._on_close = self._on_close, None
        for fn in callbacks or ():
            fn()


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer):
        self.server = server
        self.parser = http1.RequestParser(server.max_body)
        self.transport: asyncio.Transport | None = None
        self.current: Exchange | None = None
        self.lost = False
        self.eof = False
        self.last_active = time.monotonic()
        self._serving = False  # inside _serve(): a synchronous answer must not recurse
        self._paused = False  # reading paused: too much unserved input
        self._blocked = False  # writing paused: the client does not read its answers
        self._discard = 0

    # --- asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._discard:
            self._discard -= min(self._discard, len(data))
            if not self._discard:
                self.close()
            return
        self.parser.feed(data)
        if self.current is None:
            self._serve()
        if self.parser.buffered > READ_PAUSE_BYTES and not self._paused and not self.lost:
            self._paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.eof = True
        current = self.current
        if current is None or current._on_close is not None:
            return False  # idle, or a watch the client gave up on: close now
        return True  # let the request in flight be answered, then close

    def pause_writing(self) -> None:
        self._blocked = True

    def resume_writing(self) -> None:
        self._blocked = False
        if self.current is None and not self._serving:
            self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.connections.discard(self)
        current, self.current = self.current, None
        if current is not None and not current.done:
            current._closed_early()

    # --- serving -------------------------------------------------------------------------------
    def _serve(self) -> None:
        self._serving = True
        try:
            while self.current is None and not self.lost and not self._blocked:
                began = time.monotonic()
                try:
                    event = self.parser.next_event()
                except HttpError as err:
                    self._fail(err)
                    return
                if event is http1.NEED_DATA:
                    if self._paused:
                        self._paused = False
                        self.transport.resume_reading()  # type: ignore[union-attr]
                    return
                if event is http1.SEND_CONTINUE:
                    self.write(http1.CONTINUE)
                    continue
                self.last_active = time.monotonic()
                exchange = Exchange(self, event, began)  # type: ignore[arg-type]
                self.current = exchange
                self.server.dispatch(event, exchange)  # type: ignore[arg-type]
        finally:
            self._serving = False

    def finished(self, exchange: Exchange, close: bool) -> None:
        if self.current is not exchange:
            return
        self.current = None
        self.last_active = time.monotonic()
        if close:
            self.close()
        elif not self._serving:
            self._serve()

    def _fail(self, err: HttpError) -> None:
        headers = {"Content-Type": err.content_type}
        date = self.server.clock.date()
        self.write(http1.render(err.status, headers, err.body, date=date, close=True))
        if err.unread > 0:  # let the client finish sending so that it reads the answer
            self._discard = err.unread
            self.transport.resume_reading()  # type: ignore[union-attr]
            asyncio.get_running_loop().call_later(DISCARD_SECONDS, self.abort)
        else:
            self.close()

    # --- output --------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.lost:
            self.transport.write(data)  # type: ignore[union-attr]

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport else 0

    def close(self) -> None:
        """Close once what was written is sent."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class HttpServer:
    """Serves ``handler`` on one address; start with :meth:`start` on the loop's thread."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_body: int,
        log: Any,
        default_headers: Mapping[str, str] | None = None,
        idle_timeout: float = 75.0,
        wall: Callable[[], float] = time.time,
    ):
        self.handler = handler
        self.max_body = max_body
        self.log = log
        self.default_headers = dict(default_headers or {})
        self.idle_timeout = idle_timeout
        self.clock = _Clock(wall)  # the Date header's
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024
        )
        self._sweeper = loop.call_later(self.idle_timeout / 4, self._sweep)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.abort()
        if self._server is not None:
            await self._server.wait_closed()

    def with_defaults(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        if not self.default_headers:
            return headers
        return {**headers, **self.default_headers}

    def dispatch(self, request: Request, exchange: Exchange) -> None:
        try:
            self.handler(request, exchange)
        except Exception as exc:  # a bug must cost one request, never the server
            self.internal_error(exchange, request.path, exc)

    def internal_error(self, exchange: Exchange, path: str, exc: BaseException) -> None:
        self.log.error("http.handler_failed", path=path, error=f"{type(exc).__name__}: {exc}")
        body = json.dumps({"message": f"internal error: {type(exc).__name__}"}).encode() + b"\n"
        if not exchange.streaming:
            exchange.respond(500, {"Content-Type": "application/json"}, body)
        else:
            exchange.end_stream()

    def _sweep(self) -> None:
        now = time.monotonic()
        for conn in list(self.connections):
            if conn.current is None and now - conn.last_active > self.idle_timeout:
                conn.close() if conn.parser.idle else conn.abort()
        self._sweeper = asyncio.get_running_loop().call_later(self.idle_timeout / 4, self._sweep)
