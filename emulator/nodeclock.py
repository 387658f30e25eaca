"""The node's own wall clock: what its parts read instead of ``time.time()``.

Clock faults (skew, strobe) act here, never on the machine's clock: every part of a node that
stamps or compares wall-clock times (etcd TTL stamps, fleet and locksmith leases, log records)
reads ``NodeClock.time()``. Protocol timing is counted in ticks (see :mod:`emulator.ticker`).
"""

from __future__ import annotations

import time


class NodeClock:
    def __init__(self) -> None:
        self.offset_s = 0.0  # clock-skew: this node's wall clock runs ahead (+) or behind (-)

    def time(self) -> float:
        """Wall-clock seconds since the epoch, as this node sees them."""
        return time.time() + self.offset_s

    def time_ns(self) -> int:
        return int(self.time() * 1e9)

    @staticmethod
    def monotonic() -> float:
        """True monotonic seconds (never skewed): for measuring durations."""
        return time.monotonic()
