"""The etcd client port (2379): a lean HTTP/1.1 server on an event loop.

Handlers only translate: HTTP in → a request for the member actor → HTTP out. They never touch
the keyspace or Raft themselves. On a node that is not a member (``proxy: on``) every request is
forwarded to a member instead (:mod:`actors.etcd.proxy`).

A member's port serves on the node's loop (:class:`~emulator.nodeloop.NodeLoop`), the loop its
member actor runs on, so requests and answers pass between them without a thread crossing.
Requests parsed in one loop iteration go to the member in one ``tell`` (a :class:`ClientBatch`,
in arrival order, so writes are proposed in the order they came). Answers come back through
:meth:`_post`, which writes them at once when the member calls it on the port's loop. A member
on another thread (tests; a port without a loop of its own runs one) gets its answers batched:
the first one queued schedules one ``call_soon_threadsafe`` and everything queued until that runs
— a whole Ready cycle's worth of replies — is delivered by it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from actors.etcd import v2api
from actors.etcd.admin import AdminRoutes
from actors.etcd.errors import EtcdError
from actors.etcd.http1 import Request
from actors.etcd.httpserver import Exchange, HttpServer
from actors.etcd.requests import (
    ClientBatch,
    ClientRead,
    ClientWatch,
    ClientWrite,
    WatchStarted,
    new_request_id,
)
from emulator.nodelog import ActorLog
from emulator.nodeloop import NodeLoop

MAX_REQUEST_BYTES = 1536 * 1024  # etcd's --max-request-bytes default (1.5 MiB)
KEYS = "/v2/keys"
_TEXT = "text/plain; charset=utf-8"


def _send(exchange: Exchange, resp: v2api.Response) -> None:
    exchange.respond(resp.status, resp.headers, resp.body)


def _not_found(exchange: Exchange) -> None:
    headers = {"Content-Type": _TEXT, "X-Content-Type-Options": "nosniff"}
    exchange.respond(404, headers, b"404 page not found\n")


class _Watch:
    """One ``wait=true`` request on the loop's side: answers with the first event (long poll) or
    streams every event as a line of a chunked body."""

    __slots__ = ("exchange", "stream", "gone", "started")

    def __init__(self, exchange: Exchange, stream: bool):
        self.exchange, self.stream = exchange, stream
        self.gone = False  # read by the member's thread: stop sending events
        self.started: WatchStarted | None = None

    def cancelled(self) -> bool:
        return self.gone

    def on_started(self, started: WatchStarted) -> None:
        ex = self.exchange
        if self.gone or ex.closed:
            self.gone = True
            return
        self.started = started
        if started.error is not None:
            self.gone = True
            _send(ex, started.error)
            return
        if self.stream:
            ex.start_stream(
                200,
                v2api.watch_headers(started.start_index, started.raft_index, started.raft_term),
            )
        for event in started.events:
            self.on_event(event)

    def on_event(self, event: Any) -> None:
        ex, started = self.exchange, self.started
        if self.gone or started is None:
            return
        if ex.closed:
            self.gone = True
        elif self.stream:
            if not ex.send_chunk(v2api.watch_line(event)):
                self.gone = True
        else:
            self.gone = True
            resp = v2api.render_watch_event(
                event,
                start_index=started.start_index,
                raft_index=started.raft_index,
                raft_term=started.raft_term,
            )
            _send(ex, resp)


class ClientServer:
    """Serves the v2 API for one member (or proxies it) until :meth:`stop`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        member: Any,  # the EtcdMember's ActorRef, or None on a proxy
        admin: AdminRoutes | None,
        log: ActorLog,
        proxy_to: Callable[[], list[str]] | None = None,
        cluster_id: str = "",
        loop: NodeLoop | None = None,  # the node's loop; None: a loop thread of its own
    ):
        self.host, self.port = host, port
        self.member = member
        self.admin = admin
        self.log = log
        self.proxy_to = proxy_to
        self.cluster_id = cluster_id
        self._node_loop = loop
        self._own_loop = loop is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._close: Callable[[], Any] | None = None
        self._to_member: list[Any] = []
        self._replies: collections.deque[tuple[Callable[[Any], None], Any]] = collections.deque()
        self._wake_scheduled = False
        self._closed = False
        self._http: HttpServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start_and_wait(self, timeout: float = 10.0) -> None:
        """Open the port (from any thread but the loop's own)."""
        if self._node_loop is None:
            self._node_loop = NodeLoop(f"etcd-http-{self.host}:{self.port}")
            self._node_loop.start()
        self._loop, self._loop_thread = self._node_loop.loop, self._node_loop.thread_id
        try:
            self._close = self._node_loop.wait(self._serve(), timeout)
        except BaseException as exc:
            self._closed = True
            if self._own_loop:
                self._node_loop.stop()
            raise RuntimeError(f"etcd client port {self.host}:{self.port} failed: {exc}") from exc

    def stop(self) -> None:
        """Close the port and its connections (from any thread but the loop's own)."""
        self._closed = True  # answers still coming from the member are dropped from now on
        close, self._close = self._close, None
        node_loop = self._node_loop
        if close is not None and node_loop is not None and node_loop.is_alive():
            try:
                node_loop.wait(close(), timeout=5)
            except Exception as exc:  # a port that fails to close must not keep the node up
                self.log.error("http.close_failed", error=f"{type(exc).__name__}: {exc}")
        if self._own_loop and node_loop is not None:
            node_loop.stop()

    async def _serve(self) -> Callable[[], Any]:
        if self.proxy_to is not None:
            from actors.etcd.proxy import serve_proxy

            return await serve_proxy(self.host, self.port, self.proxy_to, self.log)
        if self.admin is not None:
            self.admin.install(self._ask)
        defaults = {"X-Etcd-Cluster-Id": self.cluster_id} if self.cluster_id else {}
        self._http = HttpServer(
            self._handle,
            max_body=MAX_REQUEST_BYTES,
            log=self.log,
            default_headers=defaults,
            wall=self.log.clock.time,
        )
        await self._http.start(self.host, self.port)
        return self._http.close

    # --- crossing to the member and back -------------------------------------------------------
    def _submit(self, message: Any) -> None:
        """Queue a request for the member; this loop iteration's requests go in one tell."""
        self._to_member.append(message)
        if len(self._to_member) == 1:
            self._loop.call_soon(self._flush)  # type: ignore[union-attr]

    def _flush(self) -> None:
        batch, self._to_member = self._to_member, []
        self.member.tell(batch[0] if len(batch) == 1 else ClientBatch(tuple(batch)))

    def _post(self, callback: Callable[[Any], None], value: Any) -> None:
        """From the member: run ``callback(value)`` on the port's loop.

        A member on the same loop gets it run at once: the answer leaves before the rest of its
        Ready cycle (the commit notices to followers, the next fsync). From another thread, one
        wake-up delivers everything queued before it runs."""
        if self._closed:
            return
        if threading.get_ident() == self._loop_thread:
            self._run_reply(callback, value)
            return
        self._replies.append((callback, value))
        if not self._wake_scheduled:
            self._wake_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._deliver)  # type: ignore[union-attr]
            except RuntimeError:  # the loop closed meanwhile: nobody waits for this any more
                self._replies.clear()

    def _run_reply(self, callback: Callable[[Any], None], value: Any) -> None:
        try:
            callback(value)
        except Exception as exc:  # one bad answer must not strand the rest (nor the member)
            self.log.error("http.reply_failed", error=f"{type(exc).__name__}: {exc}")

    def _deliver(self) -> None:
        self._wake_scheduled = False  # before draining: a reply queued from now on wakes again
        replies = self._replies
        while replies:
            self._run_reply(*replies.popleft())

    async def _ask(self, make: Callable[[Callable[[Any], None]], Any]) -> Any:
        fut: asyncio.Future = self._loop.create_future()  # type: ignore[union-attr]

        def resolve(value: Any) -> None:
            if not fut.done():
                fut.set_result(value)

        self._submit(make(partial(self._post, resolve)))
        return await fut

    # --- routing -------------------------------------------------------------------------------
    def _handle(self, request: Request, exchange: Exchange) -> None:
        path = request.path
        if path == KEYS or path.startswith("/v2/keys/"):
            self._keys(request, exchange)
            return
        handlers = self.admin.resolve(path) if self.admin is not None else None
        if handlers is None:
            _not_found(exchange)
            return
        method = request.method
        handler = handlers.get(method) or (handlers.get("GET") if method == "HEAD" else None)
        if handler is None:
            allow = ", ".join(sorted({*handlers, "HEAD"} if "GET" in handlers else handlers))
            exchange.respond(405, {"Allow": allow, "Content-Type": _TEXT}, b"Method Not Allowed\n")
            return
        self._loop.create_task(self._admin(handler, request, exchange))  # type: ignore[union-attr]

    async def _admin(self, handler: Callable, request: Request, exchange: Exchange) -> None:
        try:
            _send(exchange, await handler(request))
        except Exception as exc:  # a bug must cost one request, never the server
            self._http.internal_error(exchange, request.path, exc)  # type: ignore[union-attr]

    # --- /v2/keys ----------------------------------------------------------------------------
    def _keys(self, request: Request, exchange: Exchange) -> None:
        method, path = request.method, request.path
        # only a path with "//" or "/." can be unclean (the cheap test saves a Clean per request)
        location = v2api.redirect_location(path) if "//" in path or "/." in path else None
        if location is not None:
            target = quote(location, safe="/:@!$&'()*+,;=-._~")
            if request.query:
                target += "?" + request.query
            headers = {"Location": target, "Content-Type": _TEXT}
            exchange.respond(301, headers, b"Moved Permanently\n")
            return
        form = v2api.decode_form(
            method, request.query, request.body, request.headers.get("content-type")
        )
        if isinstance(form, EtcdError):
            _send(exchange, v2api.render_error(form, etcd_index=0))
            return
        op = v2api.parse_keys_request(method, path[len(KEYS) :] or "/", form, {})
        if isinstance(op, v2api.Write):
            stamped = op.stamped(new_request_id(), self.log.clock.time_ns())  # the node's clock
            reply = partial(self._post, partial(_send, exchange))
            received = time.monotonic()  # for the member's stage times
            self._submit(
                ClientWrite(stamped, op.no_value_on_success, reply, received, exchange.arrived)
            )
        elif isinstance(op, v2api.Read):
            self._submit(ClientRead(op, partial(self._post, partial(_send, exchange))))
        elif isinstance(op, v2api.Watch):
            self._watch(op, exchange)
        elif isinstance(op, EtcdError):
            _send(exchange, v2api.render_error(op, etcd_index=0))
        else:  # MethodNotAllowed
            _send(exchange, v2api.render_method_not_allowed())

    def _watch(self, op: v2api.Watch, exchange: Exchange) -> None:
        watch = _Watch(exchange, op.stream)
        post = self._post

        def sink(event: object) -> None:  # on the member's thread
            if not watch.gone:
                post(watch.on_event, event)

        def gone() -> None:
            watch.gone = True

        exchange.on_close(gone)
        self._submit(ClientWatch(op, partial(post, watch.on_started), sink, watch.cancelled))
