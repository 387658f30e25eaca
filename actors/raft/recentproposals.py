"""The forwarded proposals a leader took in lately, so that a duplicate is appended only once.

A follower forwards its clients' proposals to the leader in a ``Propose`` message. A network that
duplicates messages (the emulator's ``fault duplicate``, the simulator's lossy links) can deliver
that message twice; appended twice, one client write would apply twice, the second time after
writes acknowledged since — a history no client could explain. Each proposal's data is unique (a
request carries its proposer's request id), so a copy of data seen lately is a duplicate. The
window is bounded: a duplicate delayed past ``capacity`` later proposals is appended again.
"""

from __future__ import annotations

FORWARDED_WINDOW = 4096  # forwarded proposals remembered


class RecentProposals:
    def __init__(self, capacity: int = FORWARDED_WINDOW) -> None:
        self.capacity = capacity
        self._seen: dict[bytes, None] = {}  # insertion-ordered: the oldest is evicted first
        self.duplicates = 0

    def first_time(self, data: bytes) -> bool:
        """True the first time ``data`` is offered within the window (and remember it)."""
        if data in self._seen:
            self.duplicates += 1
            return False
        self._seen[data] = None
        if len(self._seen) > self.capacity:
            del self._seen[next(iter(self._seen))]
        return True
