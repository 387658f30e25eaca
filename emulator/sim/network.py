"""A seeded in-process network: delay, drop, duplicate, reorder and partitions.

Time is counted in *steps*; the simulator runs several steps per Raft tick. A message sent at
step ``t`` arrives at ``t + delay`` (at least 1) but, like a TCP stream, never before an
earlier message on the same link, unless the ``reorder`` dice say it may overtake. Partitions
block directed links when a message is sent.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NetworkConditions:
    drop: float = 0.0
    duplicate: float = 0.0
    max_delay: int = 1  # steps
    reorder: float = 0.0  # chance a message ignores the link's order
    long_delay: float = 0.0  # chance of an extra long_delay_steps
    long_delay_steps: int = 20


class SimNetwork:
    def __init__(self, rng: random.Random, conditions: NetworkConditions) -> None:
        self.rng = rng
        self.conditions = conditions
        self.blocked: set[tuple[str, str]] = set()
        self._queue: list[tuple[int, int, Any]] = []
        self._link_last: dict[tuple[str, str], int] = {}
        self._seq = 0
        self.sent = 0
        self.dropped = 0

    def send(self, msg: Any, now: int) -> None:
        self.sent += 1
        cond = self.conditions
        if (msg.frm, msg.to) in self.blocked or (cond.drop and self.rng.random() < cond.drop):
            self.dropped += 1
            return
        link = (msg.frm, msg.to)
        copies = 2 if cond.duplicate and self.rng.random() < cond.duplicate else 1
        for _ in range(copies):
            at = now + self.rng.randint(1, cond.max_delay)
            if cond.long_delay and self.rng.random() < cond.long_delay:
                at += cond.long_delay_steps
            if not (cond.reorder and self.rng.random() < cond.reorder):
                at = max(at, self._link_last.get(link, 0))
                self._link_last[link] = at
            self._seq += 1
            heapq.heappush(self._queue, (at, self._seq, msg))

    def due(self, now: int) -> list[Any]:
        out = []
        queue = self._queue
        while queue and queue[0][0] <= now:
            out.append(heapq.heappop(queue)[2])
        return out

    def partition(self, *groups: tuple[str, ...]) -> None:
        """Block every link between different groups (nodes in no group are unaffected)."""
        self.blocked.clear()
        for i, a in enumerate(groups):
            for b in groups[i + 1 :]:
                for x in a:
                    for y in b:
                        self.blocked.add((x, y))
                        self.blocked.add((y, x))

    def heal(self) -> None:
        self.blocked.clear()

    def calm(self) -> None:
        """No more loss, duplication or long delays (for the liveness phase)."""
        self.conditions = NetworkConditions(max_delay=self.conditions.max_delay)
