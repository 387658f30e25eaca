"""The rest of etcd's client port: /v2/members, /v2/stats/*, /v2/machines, /health, /version, /metrics.

Each handler asks the member actor for a copy of its state (``MemberQuery``), then renders it
as etcd 2.3 does. Handlers are coroutines taking the parsed :class:`~actors.etcd.http1.Request`
and returning a :class:`~actors.etcd.v2api.Response`; :meth:`AdminRoutes.resolve` maps a path to
its handlers by method (a GET handler also serves HEAD).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from actors.etcd import v2api
from actors.etcd.http1 import Request
from actors.etcd.raftstats import FollowerLatency
from actors.etcd.requests import (
    ClientConfChange,
    ConfChangeOutcome,
    ConfChangeResult,
    MemberQuery,
    QueryKind,
)
from actors.raft.entries import ConfChangeOp
from actors.raft.ready import Role

_STATE = {
    Role.LEADER: "StateLeader",
    Role.FOLLOWER: "StateFollower",
    Role.CANDIDATE: "StateCandidate",
    Role.PRE_CANDIDATE: "StatePreCandidate",
}
ETCD_VERSION = {"etcdserver": "2.3.8", "etcdcluster": "2.3.0"}
Ask = Callable[[Callable[[Callable[[Any], None]], Any]], Awaitable[Any]]
Handler = Callable[[Request], Awaitable[v2api.Response]]


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


def _json(status: int, body: Any) -> v2api.Response:
    return v2api.Response(
        status,
        {"Content-Type": "application/json"},
        json.dumps(body, separators=(",", ":")).encode() + b"\n",
    )


class AdminRoutes:
    def __init__(
        self,
        *,
        name: str,
        token: str,
        members: Mapping[str, MemberInfo],
        metrics: Any,
        nodes: Mapping[str, str] | None = None,  # peer URL -> node name, every node of the config
        node: str | None = None,  # this member's node (its Raft id), when ``name`` differs
    ):
        self.name = name  # the etcd member name (etcd2.name)
        self.node = node or name
        self.token = token
        self.members = dict(members)  # every node that may be a voter, by node name (Raft id)
        self.metrics = metrics
        self.changes = MemberChanges(token=token, members=self.members, nodes=nodes or {})

    def install(self, ask: Ask) -> None:
        self._ask = ask
        self._routes: dict[str, dict[str, Handler]] = {
            "/v2/members": {"GET": self.list_members, "POST": self.add_member},
            "/v2/members/leader": {"GET": self.leader},
            "/v2/machines": {"GET": self.machines},
            "/v2/stats/self": {"GET": self.stats_self},
            "/v2/stats/leader": {"GET": self.stats_leader},
            "/v2/stats/store": {"GET": self.stats_store},
            "/health": {"GET": self.health},
            "/version": {"GET": self.version},
            "/metrics": {"GET": self.prometheus},
        }

    def resolve(self, path: str) -> dict[str, Handler] | None:
        """The handlers for ``path`` by method, or None when no route has that path."""
        found = self._routes.get(path)
        if found is None and path.startswith(MEMBERS_PREFIX):
            return {"DELETE": self.remove_member, "PUT": self.update_member}
        return found

    async def add_member(self, request: Request) -> v2api.Response:
        return await self.changes.add(request.headers.get("content-type"), request.body, self._ask)

    async def remove_member(self, request: Request) -> v2api.Response:
        return await self.changes.remove(request.path[len(MEMBERS_PREFIX) :], self._ask)

    async def update_member(self, request: Request) -> v2api.Response:
        return self.changes.update(
            request.path[len(MEMBERS_PREFIX) :], request.headers.get("content-type"), request.body
        )

    async def _member_view(self) -> dict[str, Any]:
        return await self._ask(lambda reply: MemberQuery(QueryKind.VIEW, reply))

    def _member_json(self, name: str) -> dict[str, Any]:
        info = self.members.get(name) or MemberInfo(name, (), ())
        return {
            "id": member_id(info.name, self.token),
            "name": info.name,
            "peerURLs": list(info.peer_urls),
            "clientURLs": list(info.client_urls),
        }

    async def list_members(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        return _json(200, {"members": [self._member_json(n) for n in view["status"].voters]})

    async def leader(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        leader = view["status"].leader
        if leader is None:
            return _json(503, {"message": "During election"})
        return _json(200, self._member_json(leader))

    async def machines(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        urls = [
            u
            for n in view["status"].voters
            for u in (self.members.get(n) or MemberInfo(n, (), ())).client_urls
        ]
        return v2api.Response(
            200, {"Content-Type": "text/plain; charset=utf-8"}, ", ".join(urls).encode()
        )

    async def stats_self(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        st = view["status"]
        state = _STATE[st.role]
        leader_id = self._member_id(st.leader) if st.leader else ""
        body = {
            "name": self.name,
            "id": self._member_id(self.node),
            "state": state,
            "startTime": _rfc3339(view["started"]),
            "leaderInfo": {
                "leader": leader_id,
                "uptime": f"{view['leader_uptime']:.3f}s",
                "startTime": _rfc3339(view["leader_since"]),
            },
            "recvAppendRequestCnt": view["recv_append"],
            "sendAppendRequestCnt": view["send_append"],
        }
        return _json(200, body)

    async def stats_leader(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        st = view["status"]
        if st.role is not Role.LEADER:
            return _json(403, {"message": "not current leader"})
        measured = view["followers"]
        followers = {
            self._member_id(name): measured.get(name) or FollowerLatency().to_json()
            for name in st.progress
            if name != self.node
        }
        return _json(200, {"leader": self._member_id(self.node), "followers": followers})

    def _member_id(self, node: str) -> str:
        """The etcd member id of a node (Raft id): from its etcd member name and the token."""
        info = self.members.get(node)
        return member_id(info.name if info else node, self.token)

    async def stats_store(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        return v2api.render_store_stats(view["store_stats"])

    async def health(self, request: Request) -> v2api.Response:
        view = await self._member_view()
        healthy = view["status"].leader is not None
        return _json(200 if healthy else 503, {"health": "true" if healthy else "false"})

    async def version(self, request: Request) -> v2api.Response:
        return _json(200, ETCD_VERSION)

    async def prometheus(self, request: Request) -> v2api.Response:
        self.metrics.update(await self._member_view())  # read only when scraped
        body, content_type = self.metrics.exposition()
        return v2api.Response(200, {"Content-Type": content_type}, body)


# --- membership changes --------------------------------------------------------------------------
MEMBERS_PREFIX = "/v2/members/"
_URL_SCHEMES = ("http", "https", "unix", "unixs")


def parse_peer_urls(content_type: str | None, body: bytes) -> tuple[str, ...] | v2api.Response:
    """The ``peerURLs`` of a member add/update body, or the error etcd answers."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return _json(415, {"message": f"Bad Content-Type {ctype}, accept application/json"})
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        return _json(400, {"message": f"invalid JSON: {exc}"})
    urls = data.get("peerURLs") if isinstance(data, dict) else None
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        return _json(400, {"message": "peerURLs must be a list of strings"})
    if not urls:
        return _json(400, {"message": "no valid URLs given"})
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in _URL_SCHEMES:
            return _json(400, {"message": f"URL scheme must be http, https, unix, or unixs: {url}"})
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            return _json(400, {"message": f'URL address does not have the form "host:port": {url}'})
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            return _json(400, {"message": f"URL must not contain a path: {url}"})
    return tuple(sorted(urls))


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


class MemberChanges:
    """``POST /v2/members``, ``DELETE`` and ``PUT /v2/members/<id>``, answered as etcd 2.3 does.

    The node processes are fixed by the config, so an add can only bring back a node of the
    config that runs an etcd member and is not a voter now (one removed earlier), named by its
    peer URL. A node keeps its member id (``member_id``) when it is added back.
    """

    def __init__(self, *, token: str, members: Mapping[str, MemberInfo], nodes: Mapping[str, str]):
        self.token = token
        self.members = members
        self.nodes = dict(nodes)
        self._ids = {int(member_id(m.name, token), 16): n for n, m in members.items()}

    def _node_of(self, urls: tuple[str, ...]) -> str | v2api.Response:
        """The node whose peer URL(s) these are, or the 400 that explains why there is none."""
        matches = [{n for url, n in self.nodes.items() if _same_url(u, url)} for u in urls]
        names = set().union(*matches)
        if len(names) != 1 or not all(matches):
            known = ", ".join(f"{n}={u}" for u, n in sorted(self.nodes.items(), key=lambda x: x[1]))
            what = "name several nodes" if len(names) > 1 else "name no node of this cluster"
            message = (
                f"peer URLs {', '.join(urls)} {what}: coreemu runs a fixed set of nodes and can "
                f"only add back one of them by its peer URL ({known})"
            )
            return _json(400, {"message": message})
        name = names.pop()
        if name not in self.members:
            return _json(
                400,
                {
                    "message": f"{name} runs as an etcd proxy in this run; coreemu can only add "
                    "back a node that runs an etcd member (one removed earlier)"
                },
            )
        return name

    def _member_of(self, text: str) -> str | None:
        try:
            return self._ids.get(int(text, 16))
        except ValueError:
            return None

    async def add(self, content_type: str | None, body: bytes, ask: Ask) -> v2api.Response:
        urls = parse_peer_urls(content_type, body)
        if isinstance(urls, v2api.Response):
            return urls
        name = self._node_of(urls)
        if isinstance(name, v2api.Response):
            return name
        outcome: ConfChangeOutcome = await ask(
            lambda reply: ClientConfChange(ConfChangeOp.ADD_NODE, name, urls, reply)
        )
        if outcome.result is ConfChangeResult.APPLIED:
            new = {
                "id": member_id(self.members[name].name, self.token),
                "name": "",
                "peerURLs": list(urls),
                "clientURLs": [],
            }
            return _json(201, new)
        if outcome.result is ConfChangeResult.ALREADY_VOTER:
            return _json(409, {"message": "etcdserver: peerURL exists"})
        return _failed(outcome)

    async def remove(self, id_text: str, ask: Ask) -> v2api.Response:
        name = self._member_of(id_text)
        if name is None:
            return _json(404, {"message": f"No such member: {id_text}"})
        outcome: ConfChangeOutcome = await ask(
            lambda reply: ClientConfChange(ConfChangeOp.REMOVE_NODE, name, (), reply)
        )
        if outcome.result is ConfChangeResult.APPLIED:
            return v2api.Response(204, {}, b"")
        if outcome.result is ConfChangeResult.NOT_VOTER:
            return _json(410, {"message": f"Member permanently removed: {id_text}"})
        if outcome.result is ConfChangeResult.LAST_VOTER:
            return _json(409, {"message": "etcdserver: cannot remove the last member"})
        return _failed(outcome)

    def update(self, id_text: str, content_type: str | None, body: bytes) -> v2api.Response:
        name = self._member_of(id_text)
        if name is None:
            return _json(404, {"message": f"No such member: {id_text}"})
        urls = parse_peer_urls(content_type, body)
        if isinstance(urls, v2api.Response):
            return urls
        own = self.members[name].peer_urls
        if len(urls) == len(own) and all(any(_same_url(u, o) for o in own) for u in urls):
            return v2api.Response(204, {}, b"")
        return _json(
            400,
            {"message": f"{name}'s peer URLs are fixed by the cluster config: {', '.join(own)}"},
        )


def _failed(outcome: ConfChangeOutcome) -> v2api.Response:
    if outcome.result is ConfChangeResult.NO_LEADER:
        return _json(503, {"message": "etcdserver: no leader; retry once one is elected"})
    if outcome.result is ConfChangeResult.BUSY:
        return _json(503, {"message": "etcdserver: another membership change is in progress"})
    return _json(500, {"message": "etcdserver: request timed out"})
