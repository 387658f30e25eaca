"""What the member takes from the client port and hands back (local messages, never on the wire),
its settings, and request ids."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from actors.etcd import v2api
from actors.etcd.commands import V2Request
from actors.raft.entries import ConfChangeOp

Reply = Callable[[Any], None]


@dataclass(frozen=True)
class MemberSettings:
    voters: tuple[str, ...]
    heartbeat_ms: int = 100
    election_ms: int = 1000
    snapshot_count: int = 10000
    token: str = ""
    # Answer quorum reads from this member's own state, skipping ReadIndex: a deliberate bug
    # (stale reads from a deposed leader or a lagging follower) for checking the checkers.
    # On when the node's environment has COREEMU_UNSAFE_READS=1.
    unsafe_reads: bool = False
    # Quorum reads through the Raft log (etcd's v2 QGET) instead of ReadIndex: slower, for
    # comparing like with like against etcd (COREEMU_QUORUM_READS=log).
    quorum_reads_via_log: bool = False


# Per request, so slotted and not frozen (a frozen __init__ pays a setattr call per field).
@dataclass(slots=True)
class ClientWrite:
    request: V2Request
    no_value_on_success: bool
    reply: Reply  # called once with a v2api.Response
    received: float = 0.0  # time.monotonic() when the client port parsed it (0: unknown)
    arrived: float = 0.0  # time.monotonic() when its HTTP parse began (0: unknown)


@dataclass(slots=True)
class ClientRead:
    read: v2api.Read
    reply: Reply  # called once with a v2api.Response


@dataclass(frozen=True)
class ClientWatch:
    watch: v2api.Watch
    started: Reply  # called once with a WatchStarted
    sink: Reply  # called with each later event (store Event) that matches
    cancelled: Callable[[], bool]


@dataclass(frozen=True)
class WatchStarted:
    error: v2api.Response | None  # e.g. 401: the index is older than the history keeps
    events: tuple[Any, ...]  # found in the history: answer with these at once
    start_index: int
    raft_index: int
    raft_term: int


@dataclass(frozen=True)
class ClientBatch:
    """Several client requests at once (one crossing of threads), handled in order."""

    requests: tuple[Any, ...]


class QueryKind(Enum):
    VIEW = "view"  # a copy of what /v2/members, /v2/stats/*, /health and /metrics show
    WATCH_VOTERS = "watch-voters"  # the voters now; ``listener(voters)`` on every later change


@dataclass(frozen=True)
class MemberQuery:
    """An explicit question to the member, answered on its thread with a copy of its state."""

    kind: QueryKind
    reply: Reply
    listener: Callable[[tuple[str, ...]], None] | None = None  # WATCH_VOTERS


@dataclass(frozen=True)
class ClientConfChange:
    """Add or remove one voter through Raft (``/v2/members``). ``reply`` is called once with a
    :class:`ConfChangeOutcome`: when the change is applied here, refused, or timed out."""

    op: ConfChangeOp
    node: str  # the node (Raft id) to add or remove
    peer_urls: tuple[str, ...]
    reply: Reply


class ConfChangeResult(Enum):
    APPLIED = "applied"
    ALREADY_VOTER = "already-voter"  # add: the node is a voter already
    NOT_VOTER = "not-voter"  # remove: the node is not a voter
    LAST_VOTER = "last-voter"  # remove: it is the only voter left
    NO_LEADER = "no-leader"
    BUSY = "busy"  # the leader has another membership change in flight
    TIMED_OUT = "timed-out"


@dataclass(frozen=True)
class ConfChangeOutcome:
    result: ConfChangeResult
    voters: tuple[str, ...]  # after the change when applied, else as this member sees them


_ID_PREFIX = os.urandom(8).hex()  # this process's requests: unique across members and restarts
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id no other request of the cluster has (cheaper than a uuid4 per request)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
