"""What a leader knows about each follower's log: match/next and the flow-control state.

Theory of operation
-------------------
A follower is in one of three states (as in etcd-io/raft):

- PROBE: the leader does not know where the logs diverge. It sends one AppendEntries and
  waits (``probe_sent``) for the answer or the next heartbeat response before sending another.
  A rejection moves ``next`` back, using the follower's hint to skip whole terms.
- REPLICATE: the logs agree up to ``match``; the leader streams entries optimistically, moving
  ``next`` past what it sent, with at most ``max_inflight`` AppendEntries unacknowledged.
- SNAPSHOT: the entries the follower needs are compacted; an InstallSnapshot is on its way and
  nothing else is sent until it is acknowledged (or ``snapshot_elapsed`` says it was lost).

``match`` only grows; ``next`` is always greater than ``match``.
"""

from __future__ import annotations

from collections import deque
from enum import Enum


class ProgressState(Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    __slots__ = (
        "match",
        "next",
        "state",
        "probe_sent",
        "inflights",
        "max_inflight",
        "pending_snapshot",
        "snapshot_elapsed",
        "recent_active",
        "commit_sent",
    )

    def __init__(self, next_index: int, max_inflight: int, match: int = 0) -> None:
        self.match = match
        self.next = max(next_index, match + 1)
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.inflights: deque[int] = deque()  # last index of each unacknowledged append
        self.max_inflight = max_inflight
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0
        self.recent_active = True
        self.commit_sent = 0  # the highest commit index an append or heartbeat let it learn

    def __repr__(self) -> str:
        return f"Progress({self.state.value} match={self.match} next={self.next})"

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self._reset(ProgressState.REPLICATE)

    def become_snapshot(self, index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = index

    def snapshot_lost(self) -> None:
        """The InstallSnapshot was not acknowledged in time: probe again (and resend)."""
        self.pending_snapshot = 0
        self.become_probe()

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.inflights.clear()
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return len(self.inflights) >= self.max_inflight
        return True

    def sent(self, last_index: int | None) -> None:
        """An AppendEntries went out whose last entry is ``last_index`` (None: no entries)."""
        if self.state is ProgressState.REPLICATE:
            if last_index is not None:
                self.next = last_index + 1
                self.inflights.append(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def maybe_update(self, index: int) -> bool:
        """The follower matches up to ``index``; True when that is news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        while self.inflights and self.inflights[0] <= index:
            self.inflights.popleft()
        return updated

    def maybe_decr_to(self, rejected: int, probe_hint: int) -> bool:
        """The follower rejected an append at ``rejected``; False when the rejection is stale.

        ``probe_hint`` is where the leader guesses the logs agree (from the follower's hint).
        """
        if self.state is ProgressState.SNAPSHOT:
            return False  # the snapshot settles it
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self._reset(ProgressState.PROBE)
        elif self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, probe_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def free_one(self) -> None:
        """A heartbeat came back while the window was full: let one more append through."""
        if self.inflights:
            self.inflights.popleft()


def quorum(voters: int) -> int:
    return voters // 2 + 1


def quorum_index(matches: list[int]) -> int:
    """The largest index that a majority of ``matches`` has reached."""
    if not matches:
        return 0
    ordered = sorted(matches, reverse=True)
    return ordered[quorum(len(ordered)) - 1]
