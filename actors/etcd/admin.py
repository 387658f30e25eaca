"""The rest of etcd's client port: /v2/members, /v2/stats/*, /v2/machines, /health, /version, /metrics.

Each handler asks the member actor for a snapshot of what it needs (``ClientCall``), then renders it
as etcd 2.3 does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from actors.etcd import v2api
from actors.etcd.member import ClientCall
from actors.raft.ready import Role

ETCD_VERSION = {"etcdserver": "2.3.8", "etcdcluster": "2.3.0"}
Ask = Callable[[Callable[[Callable[[Any], None]], Any]], Awaitable[Any]]


def member_id(name: str, token: str) -> str:
    """A stable 64-bit member id in etcd's hex form, from the member name and cluster token."""
    digest = hashlib.sha1(f"{name}/{token}".encode()).digest()
    return format(int.from_bytes(digest[:8], "big"), "x")


@dataclass(frozen=True)
class MemberInfo:
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def _json(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode() + b"\n",
        headers={"Content-Type": "application/json"},
    )


class AdminRoutes:
    def __init__(self, *, name: str, token: str, members: Mapping[str, MemberInfo], metrics: Any):
        self.name = name
        self.token = token
        self.members = dict(members)  # every node that may be a voter, by name
        self.metrics = metrics
        self.started = time.time()

    def install(self, app: web.Application, ask: Ask) -> None:
        self._ask = ask
        r = app.router
        r.add_get("/v2/members", self.list_members)
        r.add_get("/v2/members/leader", self.leader)
        r.add_get("/v2/machines", self.machines)
        r.add_get("/v2/stats/self", self.stats_self)
        r.add_get("/v2/stats/leader", self.stats_leader)
        r.add_get("/v2/stats/store", self.stats_store)
        r.add_get("/health", self.health)
        r.add_get("/version", self.version)
        r.add_get("/metrics", self.prometheus)

    async def _member_view(self) -> dict[str, Any]:
        def view(m: Any) -> dict[str, Any]:
            st = m.core.status()
            return {
                "status": st,
                "store_stats": m.store.stats(),
                "counters": m.counters,
                "started": m.started,
            }

        return await self._ask(lambda reply: ClientCall(view, reply))

    def _member_json(self, name: str) -> dict[str, Any]:
        info = self.members.get(name) or MemberInfo(name, (), ())
        return {
            "id": member_id(name, self.token),
            "name": name,
            "peerURLs": list(info.peer_urls),
            "clientURLs": list(info.client_urls),
        }

    async def list_members(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        return _json(200, {"members": [self._member_json(n) for n in view["status"].voters]})

    async def leader(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        leader = view["status"].leader
        if leader is None:
            return _json(503, {"message": "During election"})
        return _json(200, self._member_json(leader))

    async def machines(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        urls = [
            u
            for n in view["status"].voters
            for u in (self.members.get(n) or MemberInfo(n, (), ())).client_urls
        ]
        return web.Response(text=", ".join(urls))

    async def stats_self(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        st = view["status"]
        state = {Role.LEADER: "StateLeader", Role.FOLLOWER: "StateFollower"}.get(
            st.role, "StateCandidate"
        )
        leader_id = member_id(st.leader, self.token) if st.leader else ""
        body = {
            "name": self.name,
            "id": member_id(self.name, self.token),
            "state": state,
            "startTime": _rfc3339(view["started"]),
            "leaderInfo": {
                "leader": leader_id,
                "uptime": f"{time.time() - view['started']:.3f}s",
                "startTime": _rfc3339(view["started"]),
            },
            "recvAppendRequestCnt": view["counters"].applied,
            "sendAppendRequestCnt": 0,
        }
        return _json(200, body)

    async def stats_leader(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        st = view["status"]
        if st.role is not Role.LEADER:
            return _json(403, {"message": "not current leader"})
        followers = {
            member_id(name, self.token): {
                "latency": {
                    "current": 0,
                    "average": 0,
                    "standardDeviation": 0,
                    "minimum": 0,
                    "maximum": 0,
                },
                "counts": {"fail": 0, "success": p.match},
                "match": p.match,
                "state": p.state,
            }
            for name, p in st.progress.items()
            if name != self.name
        }
        return _json(200, {"leader": member_id(self.name, self.token), "followers": followers})

    async def stats_store(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        resp = v2api.render_store_stats(view["store_stats"])
        return web.Response(status=resp.status, body=resp.body, headers=resp.headers)

    async def health(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        healthy = view["status"].leader is not None
        return _json(200 if healthy else 503, {"health": "true" if healthy else "false"})

    async def version(self, request: web.Request) -> web.Response:
        return _json(200, ETCD_VERSION)

    async def prometheus(self, request: web.Request) -> web.Response:
        view = await self._member_view()
        self.metrics.refresh(view)
        body, content_type = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})
