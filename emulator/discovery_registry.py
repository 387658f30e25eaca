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

:class:`DiscoveryRegistry` answers the subset of the v2 keys API that discovery uses, as
discovery.etcd.io serves it: ``/<token>[/key]`` maps to ``/_etcd/registry/<token>[/key]`` (the
self-hosted form ``/v2/keys/_etcd/registry/<token>...`` works too), and ``GET /new?size=N``
mints a token. A watch that cannot be answered yet comes back as a :class:`PendingWait`; the
shell holds the request and calls :meth:`DiscoveryRegistry.poll` after every change.
:func:`decide` is the member's side: given the registrations, its role or "keep waiting".
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REGISTRY = "/_etcd/registry"
SELF_HOSTED_PREFIX = "/v2/keys"
SIZE_KEY = "_config/size"
DEFAULT_SIZE = 3  # what discovery.etcd.io/new gives without ?size=
MAX_SIZE = 99
HISTORY = 1000  # events kept for waitIndex, as etcd keeps

# etcd v2 error codes used here (actors/etcd/errors.py has the full table)
KEY_NOT_FOUND = 100
NOT_FILE = 102
NODE_EXIST = 105
VALUE_REQUIRED = 200
EVENT_INDEX_CLEARED = 401
_ERRORS = {
    KEY_NOT_FOUND: (404, "Key not found"),
    NOT_FILE: (403, "Not a file"),
    NODE_EXIST: (412, "Key already exists"),
    VALUE_REQUIRED: (400, "Value is Required in POST form"),
    EVENT_INDEX_CLEARED: (400, "The event in requested index is outdated and cleared"),
}
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class DiscoveryError(ValueError):
    """A discovery URL or registry that cannot bootstrap a cluster; the text says why."""


class BootstrapRole(str, Enum):
    MEMBER = "member"
    PROXY = "proxy"


# --- requests and replies ------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscoveryRequest:
    method: str
    path: str  # e.g. "/<token>/<id>", "/new"
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)  # the urlencoded body
    base_url: str = ""  # how the client reached us, for the URL /new hands out


@dataclass(frozen=True)
class DiscoveryReply:
    status: int
    body: Any  # a JSON value, or str for text/plain
    etcd_index: int | None = None

    @property
    def is_json(self) -> bool:
        return not isinstance(self.body, str)


@dataclass(frozen=True)
class PendingWait:
    """A watch with nothing to report yet: re-ask with :meth:`DiscoveryRegistry.poll`."""

    key: str
    recursive: bool
    wait_index: int


@dataclass(frozen=True)
class _Event:
    index: int
    action: str
    key: str
    node: dict[str, Any]
    prev: dict[str, Any] | None


@dataclass
class _Leaf:
    value: str
    created: int
    modified: int


# --- the registry (the service's side) -----------------------------------------------------------
class DiscoveryRegistry:
    """The keyspace of a discovery service: ``/_etcd/registry/<token>/...`` for every token."""

    def __init__(self, start_index: int = 0) -> None:
        self.index = start_index
        self._leaves: dict[str, _Leaf] = {}  # full key -> leaf
        self._dirs: dict[str, int] = {}  # full dir key -> createdIndex
        self._events: list[_Event] = []

    # -- the service's own operations ----------------------------------------------------------
    def create_token(self, token: str, size: int) -> str:
        """Make (or resize) ``token`` with ``size`` members, as ``PUT _config/size`` does."""
        if not _TOKEN.match(token):
            raise DiscoveryError(
                f"{token!r} is not a usable discovery token (letters, digits, -_.)"
            )
        if not 1 <= size <= MAX_SIZE:
            raise DiscoveryError(f"cluster size {size} is out of range (1..{MAX_SIZE})")
        self._set(f"{REGISTRY}/{token}/{SIZE_KEY}", str(size))
        return token

    def new_token(self, size: int, rng: random.Random) -> str:
        while True:
            token = f"{rng.getrandbits(128):032x}"
            if f"{REGISTRY}/{token}" not in self._dirs:
                return self.create_token(token, size)

    def registrations(self, token: str) -> list[tuple[str, str, int]]:
        """``(member id, value, createdIndex)`` of every member key of ``token``, oldest first."""
        prefix = f"{REGISTRY}/{token}/"
        out = [
            (key[len(prefix) :], leaf.value, leaf.created)
            for key, leaf in self._leaves.items()
            if key.startswith(prefix) and "/" not in key[len(prefix) :]
        ]
        return sorted(out, key=lambda r: r[2])

    def size(self, token: str) -> int | None:
        leaf = self._leaves.get(f"{REGISTRY}/{token}/{SIZE_KEY}")
        return int(leaf.value) if leaf is not None and leaf.value.isdigit() else None

    def tokens(self) -> list[str]:
        prefix = f"{REGISTRY}/"
        return sorted(k[len(prefix) :] for k in self._dirs if k.count("/") == 3)

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
        self, req: DiscoveryRequest, rng: random.Random | None = None
    ) -> DiscoveryReply | PendingWait:
        path = req.path.rstrip("/") or "/"
        if path == "/new":
            return self._new(req, rng)
        key = _registry_key(path)
        if key is None:
            return DiscoveryReply(
                404, f"no discovery token at {req.path}; mint one with /new?size=N\n"
            )
        if req.method in ("GET", "HEAD"):
            if req.query.get("wait") == "true":
                wait_index = _int(req.query.get("waitIndex"))
                pending = PendingWait(
                    key,
                    req.query.get("recursive") == "true",
                    wait_index if wait_index is not None else self.index + 1,
                )
                return self.poll(pending) or pending
            return self._get(key, req.query.get("recursive") == "true")
        if req.method == "PUT":
            return self._put(key, req.form, req.query)
        if req.method == "DELETE":
            return self._delete(key)
        return DiscoveryReply(405, "Method Not Allowed\n")

    def poll(self, wait: PendingWait) -> DiscoveryReply | None:
        """The answer to a held watch, or None while nothing at or after its index matched."""
        if (
            self._events
            and wait.wait_index < self._events[0].index
            and len(self._events) >= HISTORY
        ):
            first = self._events[0].index
            return self._error(
                EVENT_INDEX_CLEARED,
                f"the requested history has been cleared [{first}/{wait.wait_index}]",
            )
        for ev in self._events:
            if ev.index < wait.wait_index:
                continue
            if ev.key == wait.key or (wait.recursive and ev.key.startswith(wait.key + "/")):
                body = {"action": ev.action, "node": ev.node}
                if ev.prev is not None:
                    body["prevNode"] = ev.prev
                return DiscoveryReply(200, body, self.index)
        return None

    # -- operations ----------------------------------------------------------------------------
    def _new(self, req: DiscoveryRequest, rng: random.Random | None) -> DiscoveryReply:
        if req.method != "GET":
            return DiscoveryReply(405, "Method Not Allowed\n")
        raw = req.query.get("size", str(DEFAULT_SIZE))
        size = _int(raw)
        if size is None or not 1 <= size <= MAX_SIZE:
            return DiscoveryReply(400, f"size must be a number from 1 to {MAX_SIZE}, got {raw!r}\n")
        token = self.new_token(size, rng or random.Random())
        return DiscoveryReply(200, f"{req.base_url.rstrip('/')}/{token}")

    def _get(self, key: str, recursive: bool) -> DiscoveryReply:
        leaf = self._leaves.get(key)
        if leaf is not None:
            return DiscoveryReply(200, {"action": "get", "node": _leaf_json(key, leaf)}, self.index)
        if key in self._dirs:
            return DiscoveryReply(
                200, {"action": "get", "node": self._dir_json(key, recursive, True)}, self.index
            )
        return self._error(KEY_NOT_FOUND, key)

    def _put(self, key: str, form: Mapping[str, str], query: Mapping[str, str]) -> DiscoveryReply:
        if "value" not in form and "value" not in query:
            return self._error(VALUE_REQUIRED, "")
        if key in self._dirs:
            return self._error(NOT_FILE, key)
        value = form.get("value", query.get("value", ""))
        prev_exist = form.get("prevExist", query.get("prevExist"))
        existing = self._leaves.get(key)
        if prev_exist == "false" and existing is not None:
            return self._error(NODE_EXIST, key)
        if prev_exist == "true" and existing is None:
            return self._error(KEY_NOT_FOUND, key)
        for parent in _parents(key):
            if parent in self._leaves:
                return self._error(NOT_FILE, parent)
        prev = _leaf_json(key, existing) if existing is not None else None
        action = "create" if prev_exist == "false" else ("update" if prev_exist else "set")
        leaf = self._set(key, value, action)
        body: dict[str, Any] = {"action": action, "node": _leaf_json(key, leaf)}
        if prev is not None:
            body["prevNode"] = prev
        return DiscoveryReply(200 if existing is not None else 201, body, self.index)

    def _delete(self, key: str) -> DiscoveryReply:
        leaf = self._leaves.pop(key, None)
        if leaf is None:
            return self._error(KEY_NOT_FOUND if key not in self._dirs else NOT_FILE, key)
        self.index += 1
        prev = _leaf_json(key, leaf)
        node = {"key": key, "modifiedIndex": self.index, "createdIndex": leaf.created}
        self._record(_Event(self.index, "delete", key, node, prev))
        return DiscoveryReply(200, {"action": "delete", "node": node, "prevNode": prev}, self.index)

    # -- plumbing ------------------------------------------------------------------------------
    def _set(self, key: str, value: str, action: str = "set") -> _Leaf:
        self.index += 1
        for parent in _parents(key):
            self._dirs.setdefault(parent, self.index)
        existing = self._leaves.get(key)
        prev = _leaf_json(key, existing) if existing is not None else None
        leaf = _Leaf(value, existing.created if existing else self.index, self.index)
        self._leaves[key] = leaf
        self._record(_Event(self.index, action, key, _leaf_json(key, leaf), prev))
        return leaf

    def _record(self, event: _Event) -> None:
        self._events.append(event)
        if len(self._events) > HISTORY:
            del self._events[: len(self._events) - HISTORY]

    def _dir_json(self, key: str, recursive: bool, top: bool) -> dict[str, Any]:
        created = self._dirs[key]
        node: dict[str, Any] = {"key": key, "dir": True}
        if top or recursive:
            children = []
            prefix = key + "/"
            for d in sorted(self._dirs, key=self._dirs.__getitem__):
                if d.startswith(prefix) and "/" not in d[len(prefix) :]:
                    children.append(self._dir_json(d, recursive, False))
            for k, leaf in sorted(self._leaves.items(), key=lambda kv: kv[1].created):
                if k.startswith(prefix) and "/" not in k[len(prefix) :]:
                    children.append(_leaf_json(k, leaf))
            if children:
                node["nodes"] = children
        node["modifiedIndex"] = created
        node["createdIndex"] = created
        return node

    def _error(self, code: int, cause: str) -> DiscoveryReply:
        status, message = _ERRORS[code]
        body: dict[str, Any] = {"errorCode": code, "message": message}
        if cause:
            body["cause"] = cause
        body["index"] = self.index
        return DiscoveryReply(status, body, self.index)


def _leaf_json(key: str, leaf: _Leaf) -> dict[str, Any]:
    return {
        "key": key,
        "value": leaf.value,
        "modifiedIndex": leaf.modified,
        "createdIndex": leaf.created,
    }


def _parents(key: str) -> list[str]:
    """The directories above ``key`` inside its token, outermost first (the token's own dir on)."""
    parts = key.split("/")  # "", "_etcd", "registry", token, ...
    return ["/".join(parts[:i]) for i in range(4, len(parts))]


def _registry_key(path: str) -> str | None:
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
            f"there, e.g. https://discovery.etcd.io/my-cluster-1 (letters, digits, '.', '_', '-'; "
            f"the run serves discovery.etcd.io URLs itself, with size 3, or ?size=N), "
            f"or write 'auto'"
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
