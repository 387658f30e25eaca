"""etcd's discovery protocol with no I/O: the registry a discovery service keeps, and the choice
a booting member makes from it.

Theory of operation
-------------------
A discovery token names one cluster to bootstrap. The service keeps, per token, the directory
``/_etcd/registry/<token>`` of an etcd v2 keyspace: ``_config/size`` (how many members the
cluster starts with) and one key per registered member, ``<member-id>`` = ``<name>=<peer-url>``.
A booting etcd reads the size and the directory, registers itself with a create
(``prevExist=false``), then watches the directory (``wait=true&recursive=true``) until ``size``
members have registered. The first ``size`` registrations by ``createdIndex`` are the initial
cluster; a node that registered later, or found the cluster full before registering, falls back
to being a proxy (etcd's default ``discovery-fallback: proxy``).

discovery.etcd.io is a thin proxy in front of an etcd cluster, and so is
:class:`DiscoveryRegistry`: its keyspace is the member's own :class:`KeyStore`, driven as a
one-member etcd (each write its own log entry, term 1), and every answer is parsed and rendered
by :mod:`actors.etcd.v2api`, so bodies, errors and ``X-Etcd-Index`` are etcd's. ``/<token>[/key]``
maps to ``/_etcd/registry/<token>[/key]`` (the self-hosted form ``/v2/keys/_etcd/registry/...``
works too), with discovery.etcd.io's methods (GET, HEAD, PUT, DELETE); ``GET /new?size=N`` mints
a token. A watch that cannot be answered yet comes back as a :class:`PendingWatch`, whose reply a
later write fills in; ``stream=true`` is answered like a one-shot watch (discovery never streams).
:func:`decide` is the member's side: given the registrations, its role or "keep waiting".
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from actors.etcd.commands import Method, V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.event import Event
from actors.etcd.store import ApplyResult, KeyStore
from actors.etcd.v2api import (
    Response,
    Watch,
    Write,
    decode_form,
    parse_keys_request,
    parse_query,
    render_error,
    render_event,
    render_watch_event,
)
from actors.etcd.watch import Notification, Watcher

REGISTRY = "/_etcd/registry"
SELF_HOSTED_PREFIX = "/v2/keys"
SIZE_KEY = "_config/size"
DEFAULT_SIZE = 3  # what discovery.etcd.io/new gives without ?size=
MAX_SIZE = 99
METHODS = ("GET", "HEAD", "PUT", "DELETE")  # discovery.etcd.io routes no POST to etcd
RAFT_TERM = 1  # the registry is one member that never holds an election
# A token is a directory name etcd lists: a leading "_" would hide it (and "." or ".." escape it).
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


class DiscoveryError(ValueError):
    """A discovery URL or registry that cannot bootstrap a cluster; the text says why."""


class BootstrapRole(str, Enum):
    MEMBER = "member"
    PROXY = "proxy"


# --- requests and replies ------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscoveryRequest:
    """One HTTP request as it came: etcd parses the raw query and body itself."""

    method: str
    path: str  # the decoded URL path, e.g. "/<token>/<id>", "/new"
    query: str = ""  # the raw (undecoded) query string
    body: bytes = b""
    content_type: str | None = None
    base_url: str = ""  # how the client reached us, for the URL /new hands out


@dataclass(eq=False)
class PendingWatch:
    """A watch with nothing to report yet: the write that wakes it fills in ``reply``. The shell
    waits for that, or gives up with :meth:`DiscoveryRegistry.cancel`."""

    raft_index: int  # at the start of the watch, for its headers (as etcd sends them)
    watcher: Watcher | None = None
    reply: Response | None = None


def text_reply(status: int, text: str) -> Response:
    return Response(status, dict(_TEXT), text.encode())


# --- the registry (the service's side) -----------------------------------------------------------
class DiscoveryRegistry:
    """The keyspace of a discovery service: ``/_etcd/registry/<token>/...`` for every token."""

    def __init__(self) -> None:
        self.store = KeyStore()

    @property
    def index(self) -> int:
        """The store index (``X-Etcd-Index``): it moves with every change."""
        return self.store.index

    # -- the service's own operations ----------------------------------------------------------
    def create_token(self, token: str, size: int, now_ns: int = 0) -> str:
        """Make (or resize) ``token`` with ``size`` members, as ``PUT _config/size`` does."""
        if not _TOKEN.match(token):
            raise DiscoveryError(
                f"{token!r} is not a usable discovery token (letters, digits, -_., "
                f"starting with a letter or digit)"
            )
        if not 1 <= size <= MAX_SIZE:
            raise DiscoveryError(f"cluster size {size} is out of range (1..{MAX_SIZE})")
        write = Write(Method.PUT.value, f"{REGISTRY}/{token}/{SIZE_KEY}", str(size))
        self._apply(write, now_ns)
        return token

    def new_token(self, size: int, rng: random.Random, now_ns: int = 0) -> str:
        while True:
            token = f"{rng.getrandbits(128):032x}"
            if isinstance(self.store.get(f"{REGISTRY}/{token}"), EtcdError):
                return self.create_token(token, size, now_ns)

    def registrations(self, token: str) -> list[tuple[str, str, int]]:
        """``(member id, value, createdIndex)`` of every member key of ``token``, oldest first."""
        found = self.store.get(f"{REGISTRY}/{token}")
        if isinstance(found, EtcdError):
            return []
        out = [
            (n.key.rsplit("/", 1)[1], n.value or "", n.created_index)
            for n in found.node.nodes or ()  # the listing hides _config, as etcd's does
            if not n.dir
        ]
        return sorted(out, key=lambda r: r[2])

    def size(self, token: str) -> int | None:
        found = self.store.get(f"{REGISTRY}/{token}/{SIZE_KEY}")
        if isinstance(found, EtcdError) or not (found.node.value or "").isdigit():
            return None
        return int(found.node.value or "")

    def tokens(self) -> list[str]:
        found = self.store.get(REGISTRY)
        if isinstance(found, EtcdError):
            return []
        return sorted(n.key.rsplit("/", 1)[1] for n in found.node.nodes or () if n.dir)

    def snapshot(self) -> dict[str, Any]:
        """Every token's size and registrations, for a JSON file a user can read."""
        return {
            "index": self.index,
            "tokens": {
                t: {
                    "size": self.size(t),
                    "registrations": [
                        {"id": i, "value": v, "createdIndex": c}
                        for i, v, c in self.registrations(t)
                    ],
                }
                for t in self.tokens()
            },
        }

    # -- the HTTP surface ----------------------------------------------------------------------
    def handle(
        self, req: DiscoveryRequest, rng: random.Random | None = None, now_ns: int = 0
    ) -> Response | PendingWatch:
        """etcd's answer to ``req`` at unix time ``now_ns`` (TTLs run out on that clock)."""
        path = req.path.rstrip("/") or "/"
        if path == "/new":
            return self._new(req, rng, now_ns)
        key = registry_key(path)
        if key is None:
            return text_reply(404, f"no discovery token at {req.path}; mint one with /new?size=N\n")
        if req.method not in METHODS:
            return Response(405, {**_TEXT, "Allow": ", ".join(METHODS)}, b"Method Not Allowed\n")
        self._expire(now_ns)
        form = decode_form(req.method, req.query, req.body, req.content_type)
        op = form if isinstance(form, EtcdError) else parse_keys_request(req.method, key, form, {})
        if isinstance(op, EtcdError):
            return render_error(op, etcd_index=0)  # a malformed request: index 0, as etcd
        if isinstance(op, Write):
            done = self._apply(op, now_ns)
            return self._render(done.result, done.etcd_index, op.no_value_on_success)
        if isinstance(op, Watch):
            return self._watch(op)
        return self._render(self.store.get(op.path, op.recursive, op.sorted, now_ns))

    def cancel(self, pending: PendingWatch) -> None:
        """The client of ``pending`` went away: stop waking it."""
        if pending.watcher is not None:
            self.store.cancel_watch(pending.watcher)

    # -- operations ----------------------------------------------------------------------------
    def _new(self, req: DiscoveryRequest, rng: random.Random | None, now_ns: int) -> Response:
        if req.method != "GET":
            return text_reply(405, "Method Not Allowed\n")
        query = parse_query(req.query)
        raw = (query if isinstance(query, dict) else {}).get("size", str(DEFAULT_SIZE))
        size = _int(raw)
        if size is None or not 1 <= size <= MAX_SIZE:
            return text_reply(400, f"size must be a number from 1 to {MAX_SIZE}, got {raw!r}\n")
        token = self.new_token(size, rng or random.Random(), now_ns)
        return text_reply(200, f"{req.base_url.rstrip('/')}/{token}")

    def _watch(self, op: Watch) -> Response | PendingWatch:
        pending = PendingWatch(self.store.raft_index)
        watcher = self.store.watch(op.path, op.recursive, False, op.wait_index, pending)
        if isinstance(watcher, EtcdError):
            return render_error(watcher)  # 401: waitIndex older than the history keeps
        if watcher.events:
            return self._watch_reply(watcher.events[0], watcher.start_index, pending.raft_index)
        pending.watcher = watcher
        return pending

    def _apply(self, write: Write, now_ns: int) -> ApplyResult:
        return self._log(write.stamped(str(self.store.raft_index + 1), now_ns))

    def _expire(self, now_ns: int) -> None:
        """etcd's leader proposes a SYNC to expire keys; here each request checks first."""
        due = self.store.next_expiry_ns()
        if due is not None and due <= now_ns:
            self._log(V2Request.sync(now_ns))

    def _log(self, request: V2Request) -> ApplyResult:
        result = self.store.apply(request, self.store.raft_index + 1)
        self._wake(result.notifications)
        return result

    def _wake(self, notifications: Sequence[Notification]) -> None:
        for pending, event in notifications:
            assert isinstance(pending, PendingWatch) and pending.watcher is not None
            start = pending.watcher.start_index
            pending.reply = self._watch_reply(event, start, pending.raft_index)

    @staticmethod
    def _watch_reply(event: Event, start_index: int, raft_index: int) -> Response:
        return render_watch_event(
            event, start_index=start_index, raft_index=raft_index, raft_term=RAFT_TERM
        )

    def _render(
        self, result: Event | EtcdError | None, etcd_index: int | None = None, no_value=False
    ) -> Response:
        if isinstance(result, EtcdError):
            return render_error(result)
        assert result is not None
        return render_event(
            result,
            etcd_index=self.store.index if etcd_index is None else etcd_index,
            raft_index=self.store.raft_index,
            raft_term=RAFT_TERM,
            no_value_on_success=no_value,
        )


def registry_key(path: str) -> str | None:
    """The keyspace path a discovery URL path names, or None if it names no token."""
    if path.startswith(SELF_HOSTED_PREFIX + REGISTRY + "/"):
        path = path[len(SELF_HOSTED_PREFIX + REGISTRY) :]
    parts = [p for p in path.split("/") if p]
    if not parts or not _TOKEN.match(parts[0]) or any(p in (".", "..") for p in parts):
        return None
    return "/".join([REGISTRY, *parts])


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


# --- the member's side ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Peer:
    name: str
    peer_urls: tuple[str, ...]
    member_id: str


@dataclass(frozen=True)
class Bootstrap:
    """What discovery decided for one node: its role and the cluster's initial members."""

    role: BootstrapRole
    members: tuple[Peer, ...]  # the first ``size`` registrations, oldest first
    discovery_url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "discovery_url": self.discovery_url,
            "members": [
                {"name": p.name, "peerURLs": list(p.peer_urls), "id": p.member_id}
                for p in self.members
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bootstrap:
        return cls(
            BootstrapRole(data["role"]),
            tuple(Peer(m["name"], tuple(m["peerURLs"]), m["id"]) for m in data["members"]),
            data["discovery_url"],
        )


def registration_value(name: str, peer_urls: Sequence[str]) -> str:
    """What a member registers: ``name=url`` for each of its peer URLs, comma-separated."""
    return ",".join(f"{name}={u}" for u in peer_urls)


def parse_registration(member_id: str, value: str) -> Peer:
    names, urls = set(), []
    for part in value.split(","):
        name, sep, url = part.strip().partition("=")
        if not sep or not name or not url:
            raise DiscoveryError(f"registration {member_id} = {value!r} is not name=peer-url")
        names.add(name)
        urls.append(url)
    if len(names) != 1:
        raise DiscoveryError(f"registration {member_id} = {value!r} names several members")
    return Peer(names.pop(), tuple(urls), member_id)


def decide(
    registrations: Sequence[tuple[str, str, int]],
    size: int,
    self_id: str | None,
    discovery_url: str = "",
) -> Bootstrap | None:
    """The node's role once it can be known, else None (keep waiting).

    ``registrations`` are ``(member id, value, createdIndex)``; ``self_id`` is None for a node
    configured as a proxy, which only waits for the cluster to be complete.
    """
    ordered = sorted(registrations, key=lambda r: r[2])
    if len(ordered) < size:
        return None  # not complete yet (a node not registered yet should register now)
    first = ordered[:size]
    ids = [r[0] for r in first]
    peers = tuple(parse_registration(i, v) for i, v, _ in first)
    names = [p.name for p in peers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DiscoveryError(
            f"discovery found the name {', '.join(dupes)} registered twice; each member needs its own"
        )
    role = BootstrapRole.MEMBER if self_id in ids else BootstrapRole.PROXY
    return Bootstrap(role, peers, discovery_url)


# --- what the config says ------------------------------------------------------------------------
AUTO = "auto"


@dataclass(frozen=True)
class AutoDiscovery:
    """``discovery: auto`` or ``auto?size=N``: the supervisor mints one token for the run."""

    size: int | None  # None: min(3, the number of nodes that say auto)


# The public discovery service CoreOS configs name: the run serves its URLs itself (nothing
# here reaches the internet), as a stand-in sized like discovery.etcd.io/new (3 by default).
PUBLIC_HOSTS = ("discovery.etcd.io",)
_PLACEHOLDER = re.compile(r"<[^<>/]*>")


@dataclass(frozen=True)
class LiteralDiscovery:
    url: str
    host: str
    port: int
    token: str
    size: int | None = None  # ``?size=N`` on the URL (the emulator's way to size a served token)

    @property
    def loopback(self) -> bool:
        return self.host == "localhost" or self.host.startswith("127.")

    @property
    def public(self) -> bool:
        """A URL of the public discovery service, which the run serves in its place."""
        return self.host.lower() in PUBLIC_HOSTS


def parse_discovery(text: str) -> AutoDiscovery | LiteralDiscovery:
    """Read a ``coreos.etcd2.discovery`` value; raises DiscoveryError saying what is wrong."""
    value = text.strip()
    if value == AUTO or value.startswith(AUTO + "?"):
        rest = value[len(AUTO) + 1 :]
        if not rest:
            return AutoDiscovery(None)
        key, _, raw = rest.partition("=")
        size = _int(raw) if key == "size" else None
        if size is None or not 1 <= size <= MAX_SIZE:
            raise DiscoveryError(
                f"discovery {value!r}: write 'auto' or 'auto?size=N' with N from 1 to {MAX_SIZE}"
            )
        return AutoDiscovery(size)
    placeholder = _PLACEHOLDER.search(value)
    if placeholder:
        raise DiscoveryError(
            f"discovery {value!r} still has the placeholder {placeholder.group(0)}: put a token "
            f"there, e.g. https://discovery.etcd.io/my-cluster-1 (letters, digits, '.', '_', '-', "
            f"beginning with a letter or digit; the run serves discovery.etcd.io URLs itself, "
            f"with size 3, or ?size=N), or write 'auto'"
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DiscoveryError(
            f"discovery {value!r} is neither 'auto' nor a URL like http://127.0.0.1:4001/<token>"
        )
    token = parts.path.strip("/")
    if parts.path.startswith(SELF_HOSTED_PREFIX + REGISTRY + "/"):
        token = parts.path[len(SELF_HOSTED_PREFIX + REGISTRY) + 1 :].strip("/")
    if not _TOKEN.match(token):
        raise DiscoveryError(f"discovery URL {value!r} does not end in a token (…/<token>)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DiscoveryError(f"discovery URL {value!r}: {exc}") from None
    size = None
    for key, raw in parse_qsl(parts.query):
        if key == "size":
            size = _int(raw)
            if size is None or not 1 <= size <= MAX_SIZE:
                raise DiscoveryError(
                    f"discovery URL {value!r}: size must be a number from 1 to {MAX_SIZE}"
                )
    return LiteralDiscovery(value, parts.hostname, port, token, size)
