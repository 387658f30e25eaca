"""The node's own wall clock: what its parts read instead of ``time.time()``.

Clock faults act here and in the node's ticker, never on the machine's clock: every part of a
node that stamps or compares wall-clock times (etcd TTL stamps, fleet and locksmith leases, log
records) reads ``NodeClock.time()``. Protocol timing is counted in ticks (see
:mod:`emulator.ticker`), whose rate is the third clock fault.

* ``clock-skew +5s``: the wall clock is ``offset_s`` ahead (or behind, negative);
* ``clock-strobe --delta 200ms --period 10ms``: the wall clock jumps forward by ``delta`` and back
  again every ``period`` (as Jepsen's strobe does), on top of any skew;
* ``clock-rate 3x``: ticks come ``rate`` times as often (the ticker applies it).
"""

from __future__ import annotations

import time

from emulator.wire import message


@message("node.ClockFaults")
class ClockFaults:
    """The clock faults in force on one node (all off by default)."""

    offset_s: float = 0.0
    strobe_delta_s: float = 0.0
    strobe_period_s: float = 0.0
    rate: float = 1.0


NO_CLOCK_FAULTS = ClockFaults()


def node_time(true_wall: float, mono: float, faults: ClockFaults) -> float:
    """The node's wall clock given the true one: skewed, and strobed by the monotonic clock."""
    t = true_wall + faults.offset_s
    if faults.strobe_period_s > 0 and int(mono / faults.strobe_period_s) % 2 == 1:
        t += faults.strobe_delta_s
    return t


class NodeClock:
    def __init__(self) -> None:
        self.faults = NO_CLOCK_FAULTS  # replaced whole (one assignment: safe across threads)

    @property
    def offset_s(self) -> float:
        return self.faults.offset_s

    def time(self) -> float:
        """Wall-clock seconds since the epoch, as this node sees them."""
        faults = self.faults
        if faults is NO_CLOCK_FAULTS:
            return time.time()
        return node_time(time.time(), time.monotonic(), faults)

    def time_ns(self) -> int:
        faults = self.faults
        if faults is NO_CLOCK_FAULTS:
            return time.time_ns()
        return int(self.time() * 1e9)

    @staticmethod
    def monotonic() -> float:
        """True monotonic seconds (never skewed): for measuring durations."""
        return time.monotonic()
