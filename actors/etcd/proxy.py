"""etcd's proxy mode (``proxy: on``): a non-member node forwards client requests to members.

Requests go to the members' client URLs in turn; a member that refuses the connection is skipped
for this request. Watches are long requests, so the upstream timeout is generous.
"""

from __future__ import annotations

from collections.abc import Callable

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
