"""The etcd client port (2379): an aiohttp server on its own thread and event loop.

Handlers only translate: HTTP in → a request for the member actor (``tell`` with a reply callback
that resolves an asyncio future) → HTTP out. They never touch the keyspace or Raft themselves.
On a node that is not a member (``proxy: on``) every request is forwarded to a member instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from actors.etcd import v2api
from actors.etcd.admin import AdminRoutes
from actors.etcd.errors import EtcdError
from actors.etcd.member import ClientRead, ClientWatch, ClientWrite, WatchStarted, new_request_id
from emulator.nodelog import ActorLog

MAX_REQUEST_BYTES = 1536 * 1024  # etcd's --max-request-bytes default (1.5 MiB)


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode() + b"\n",
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _response(resp: v2api.Response, head: bool = False) -> web.Response:
    return web.Response(status=resp.status, body=None if head else resp.body, headers=resp.headers)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it roughly halves the per-request cost), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ClientServer(threading.Thread):
    """Serves the v2 API for one member (or proxies it) until :meth:`stop`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        member: Any,  # the EtcdMember's ActorRef, or None on a proxy
        admin: AdminRoutes,
        log: ActorLog,
        proxy_to: Callable[[], list[str]] | None = None,
        cluster_id: str = "",
    ):
        super().__init__(name=f"etcd-http-{host}:{port}", daemon=True)
        self.host, self.port = host, port
        self.member = member
        self.admin = admin
        self.log = log
        self.proxy_to = proxy_to
        self.cluster_id = cluster_id
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start_and_wait(self, timeout: float = 10.0) -> None:
        self.start()
        if not self._started.wait(timeout) or self._error:
            raise RuntimeError(f"etcd client port {self.host}:{self.port} failed: {self._error}")

    def run(self) -> None:
        loop = _new_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            runner = loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self.join(timeout=5)

    async def _serve(self) -> web.AppRunner:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        if self.proxy_to is not None:
            from actors.etcd.proxy import Proxy

            proxy = Proxy(self.proxy_to, self.log)
            app.router.add_route("*", "/{tail:.*}", proxy.handle)
            app.on_cleanup.append(proxy.close)
        else:
            app.router.add_route("*", "/v2/keys{key:.*}", self.keys)
            self.admin.install(app, self._ask)
        app.middlewares.append(self._errors)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        return runner

    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            resp = await handler(request)
            if self.cluster_id and not resp.prepared:
                resp.headers["X-Etcd-Cluster-Id"] = self.cluster_id
            return resp
        except web.HTTPRequestEntityTooLarge:
            return _json_response(
                413,
                {
                    "message": f"request body larger than {MAX_REQUEST_BYTES} bytes (etcd's --max-request-bytes)"
                },
            )
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must cost one request, never the server
            self.log.error(
                "http.handler_failed", path=request.path, error=f"{type(exc).__name__}: {exc}"
            )
            return _json_response(500, {"message": f"internal error: {type(exc).__name__}"})

    # --- talking to the member -----------------------------------------------------------------
    async def _ask(self, make: Callable[[Callable[[Any], None]], Any]) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def resolve(value: Any) -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(value))

        self.member.tell(make(resolve))
        return await fut

    # --- /v2/keys ----------------------------------------------------------------------------
    async def keys(self, request: web.Request) -> web.StreamResponse:
        location = v2api.redirect_location(request.path)
        if location is not None:
            raise web.HTTPMovedPermanently(location)
        body = await request.read()
        form = v2api.decode_form(
            request.method,
            request.rel_url.raw_query_string,
            body,
            request.headers.get("Content-Type"),
        )
        if isinstance(form, EtcdError):
            return _response(v2api.render_error(form, etcd_index=0))
        op = v2api.parse_keys_request(request.method, request.match_info["key"] or "/", form, {})
        if isinstance(op, EtcdError):
            return _response(v2api.render_error(op, etcd_index=0))
        if isinstance(op, v2api.MethodNotAllowed):
            return _response(v2api.render_method_not_allowed())
        if isinstance(op, v2api.Write):
            req = op.stamped(new_request_id(), time.time_ns())
            return _response(
                await self._ask(lambda reply: ClientWrite(req, op.no_value_on_success, reply))
            )
        if isinstance(op, v2api.Read):
            return _response(await self._ask(lambda reply: ClientRead(op, reply)), head=op.head)
        return await self._watch(request, op)

    async def _watch(self, request: web.Request, op: v2api.Watch) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        gone = threading.Event()

        def sink(event: object) -> None:
            if not gone.is_set():
                loop.call_soon_threadsafe(events.put_nowait, event)

        try:
            started: WatchStarted = await self._ask(
                lambda reply: ClientWatch(op, reply, sink, gone.is_set)
            )
            if started.error is not None:
                return _response(started.error)
            pending = list(started.events)
            if not op.stream:
                event = pending[0] if pending else await events.get()
                return _response(
                    v2api.render_watch_event(
                        event,
                        start_index=started.start_index,
                        raft_index=started.raft_index,
                        raft_term=started.raft_term,
                    )
                )
            resp = web.StreamResponse(
                status=200,
                headers=v2api.watch_headers(
                    started.start_index, started.raft_index, started.raft_term
                ),
            )
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for event in pending:
                await resp.write(v2api.watch_line(event))
            while True:
                await resp.write(v2api.watch_line(await events.get()))
        finally:
            gone.set()
