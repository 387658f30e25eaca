"""etcd's proxy mode (``proxy: on``): a non-member node forwards client requests to members.

Requests go to the members' client URLs in turn; a member that refuses the connection is skipped
for this request. Watches are long requests, so the upstream timeout is generous. The proxy is
an aiohttp application (:func:`serve_proxy`); members serve with :mod:`actors.etcd.httpserver`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from emulator.nodelog import ActorLog

_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "content-encoding",
}


class Proxy:
    def __init__(self, endpoints: Callable[[], list[str]], log: ActorLog):
        self._endpoints = endpoints
        self._log = log
        self._session: aiohttp.ClientSession | None = None
        self._next = 0

    async def close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=2)
            )
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        endpoints = self._endpoints()
        for attempt in range(len(endpoints)):
            base = endpoints[(self._next + attempt) % len(endpoints)]
            try:
                async with self._session.request(
                    request.method, base + request.rel_url.path_qs, data=body, headers=headers
                ) as upstream:
                    resp = web.StreamResponse(status=upstream.status)
                    for k, v in upstream.headers.items():
                        if k.lower() not in _HOP_HEADERS:
                            resp.headers[k] = v
                    await resp.prepare(request)
                    async for chunk in upstream.content.iter_any():
                        await resp.write(chunk)
                    await resp.write_eof()
                    self._next = (self._next + attempt) % len(endpoints)
                    return resp
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                self._log.warning("proxy.member_unreachable", member=base, error=str(exc))
        return web.json_response(
            {"message": "proxy: no etcd member reachable", "members": endpoints}, status=503
        )


MAX_REQUEST_BYTES = 1536 * 1024  # etcd's --max-request-bytes default (1.5 MiB)


def _json(status: int, body: dict) -> web.Response:
    data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
    return web.Response(status=status, body=data, headers={"Content-Type": "application/json"})


async def serve_proxy(
    host: str, port: int, endpoints: Callable[[], list[str]], log: ActorLog
) -> Callable[[], Awaitable[None]]:
    """Start the proxy on the running loop; returns the coroutine function that stops it."""

    @web.middleware
    async def errors(request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            limit = f"request body larger than {MAX_REQUEST_BYTES} bytes"
            return _json(413, {"message": f"{limit} (etcd's --max-request-bytes)"})
        except (web.HTTPException, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug must cost one request, never the server
            log.error(
                "http.handler_failed", path=request.path, error=f"{type(exc).__name__}: {exc}"
            )
            return _json(500, {"message": f"internal error: {type(exc).__name__}"})

    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[errors])
    proxy = Proxy(endpoints, log)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    app.on_cleanup.append(proxy.close)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner.cleanup
