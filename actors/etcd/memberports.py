"""The member core's ports and bookkeeping types: its clock, its observer, pending requests."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from actors.etcd.commands import V2Request
from actors.etcd.requests import Reply
from actors.raft.entries import Entry
from actors.raft.ready import Ready


class MemberClock(Protocol):
    def monotonic(self) -> float: ...

    def time_ns(self) -> int: ...


class MemberObserver(Protocol):
    def persisted(self, rd: Ready) -> None: ...

    def applied(self, entry: Entry, request: V2Request | None) -> None: ...


PersistAside = Callable[[Callable[[], None], Callable[[BaseException | None], None]], None]
"""``persist_aside(job, then)``: run ``job()`` (a Ready's WAL write and fsync) off the driver's
thread, then call ``then(error)`` back on it (``error`` None, or what ``job`` raised)."""

Later = Callable[[float, Callable[[], bool]], None]
"""``later(delay_s, fn)``: on the driver's thread, ``delay_s`` seconds from now, call ``fn()``
and, when it returns True, run the member's Ready cycle (a set-timer effect)."""


@dataclass(slots=True)
class PendingRequest:
    reply: Reply
    deadline: float
    read: Any = None
    no_value: bool = False
    data: bytes = b""  # a write's packed request, as proposed
    proposed: float = 0.0  # monotonic, for the stage times


class StageTimes:
    """Where a write's time goes inside a member (``bench/etcd_compare.py --breakdown``): seconds
    summed per stage, and how many were timed.

    Per write answered here: ``parse`` (HTTP parse to the request handed on), ``queue`` (to the
    member's turn), ``replicate`` (propose to commit), ``apply`` (apply and render) and ``reply``
    (hand back, the answer written to the client's socket). Per AppendEntries carrying entries
    that this leader sent: ``follower`` (sent to the follower's ack covering it: the wire both
    ways and the follower's fsync, as the leader sees it)."""

    STAGES = ("parse", "queue", "replicate", "follower", "apply", "reply")
    MAX_UNACKED = 1024  # appends remembered per follower (one that stopped answering)

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self.count = dict.fromkeys(self.STAGES, 0)
        self._unacked: dict[str, deque[tuple[int, float]]] = {}  # follower -> (last index, sent)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds
        self.count[stage] += 1

    def append_sent(self, follower: str, last_index: int, now: float) -> None:
        sent = self._unacked.get(follower)
        if sent is None:
            sent = self._unacked[follower] = deque(maxlen=self.MAX_UNACKED)
        sent.append((last_index, now))

    def append_acked(self, follower: str, index: int, now: float) -> None:
        """A success from ``follower``: every append it covers up to ``index`` is answered."""
        sent = self._unacked.get(follower)
        while sent and sent[0][0] <= index:
            self.add("follower", now - sent.popleft()[1])

    def leadership_changed(self) -> None:
        self._unacked.clear()  # a new term's acks say nothing of the old term's appends


@dataclass
class MemberCounters:
    proposals_failed: int = 0
    leader_changes: int = 0
    applied: int = 0
    persisted_aside: int = 0  # Readies whose WAL write ran through ``persist_aside``


def member_view(member: Any) -> dict[str, Any]:
    """A copy of the member's state for the admin routes (taken on the member's thread,
    which keeps counting after)."""
    stats, times = member.stats, member.stage_times
    return {
        "status": member.core.status(),
        "store_stats": member.store.stats(),
        "counters": replace(member.counters),
        "started": member.started,
        "leader_since": member.leader_since,
        # as etcd's time.Since: on the monotonic clock, so a clock fault does not bend it
        "leader_uptime": member.clock.monotonic() - member.leader_since_mono,
        "send_append": stats.send_append,
        "recv_append": stats.recv_append,
        "followers": {n: f.to_json() for n, f in stats.followers.items()},
        "pending_writes": len(member._writes),
        "duplicate_proposals": member.core.duplicate_proposals,
        "stage_seconds": dict(times.seconds),
        "stage_count": dict(times.count),
    }
