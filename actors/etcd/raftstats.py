"""What a member measures for ``/v2/stats/self`` and ``/v2/stats/leader`` (sans-IO).

The member hands every Raft message it sends or receives to :class:`RaftStats`, with the time.
Counts are of AppendEntries, as etcd's ``sendAppendRequestCnt``/``recvAppendRequestCnt``.
A leader's follower latency is the heartbeat round trip: from sending a heartbeat to a follower
to its response, in milliseconds, folded in as etcd's ``FollowerStats`` does (current, running
average, min, max, and the standard deviation from the running mean of squares). A heartbeat
still unanswered when the next one to the same follower goes out counts as one failure.
Becoming leader starts the follower table afresh, as etcd resets its leader stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from actors.raft.messages import AppendEntries, Heartbeat, HeartbeatResponse

NO_MINIMUM = float(1 << 63)  # what etcd shows as the minimum before the first round trip


@dataclass
class FollowerLatency:
    current: float = 0.0
    average: float = 0.0
    minimum: float = NO_MINIMUM
    maximum: float = 0.0
    standard_deviation: float = 0.0
    success: int = 0
    fail: int = 0
    _mean_square: float = 0.0

    def succeeded(self, ms: float) -> None:
        n = self.success
        self.success = n + 1
        self.current = ms
        self.maximum = max(self.maximum, ms)
        self.minimum = min(self.minimum, ms)
        self.average = (self.average * n + ms) / (n + 1)
        self._mean_square = (self._mean_square * n + ms * ms) / (n + 1)
        # rounding can take the difference a hair below zero when every sample is equal
        self.standard_deviation = math.sqrt(max(0.0, self._mean_square - self.average**2))

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": {
                "current": self.current,
                "average": self.average,
                "standardDeviation": self.standard_deviation,
                "minimum": self.minimum,
                "maximum": self.maximum,
            },
            "counts": {"fail": self.fail, "success": self.success},
        }


@dataclass
class RaftStats:
    send_append: int = 0
    recv_append: int = 0
    followers: dict[str, FollowerLatency] = field(default_factory=dict)
    _heartbeats: dict[str, float] = field(default_factory=dict)  # follower -> when sent

    def sent(self, msg: Any, now: float) -> None:
        cls = type(msg)
        if cls is AppendEntries:
            self.send_append += 1
        elif cls is Heartbeat:
            if msg.to in self._heartbeats:
                self._follower(msg.to).fail += 1
            self._heartbeats[msg.to] = now

    def received(self, msg: Any, now: float) -> None:
        cls = type(msg)
        if cls is AppendEntries:
            self.recv_append += 1
        elif cls is HeartbeatResponse:
            sent = self._heartbeats.pop(msg.frm, None)
            if sent is not None:
                self._follower(msg.frm).succeeded((now - sent) * 1000.0)

    def became_leader(self) -> None:
        self.followers.clear()
        self._heartbeats.clear()

    def _follower(self, name: str) -> FollowerLatency:
        found = self.followers.get(name)
        if found is None:
            found = self.followers[name] = FollowerLatency()
        return found
