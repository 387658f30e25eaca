"""One thread that sends Tick messages to actors at their periods.

Actors never sleep or read the clock for protocol timing: they count ticks. Clock faults change
``rate`` (2.0: this node's clock runs twice as fast), which is how skew is emulated; a paused
process (SIGSTOP) simply stops ticking, like a real one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Tick:
    seq: int
    mono: float


@dataclass
class _Subscription:
    ref: Any
    period: float
    due: float
    seq: int = 0


class Ticker(threading.Thread):
    def __init__(self, name: str = "ticker"):
        super().__init__(name=name, daemon=True)
        self._subs: list[_Subscription] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.rate = 1.0

    def subscribe(self, ref: Any, period_s: float) -> None:
        with self._lock:
            self._subs.append(_Subscription(ref, period_s, time.monotonic() + period_s))
        self._wake.set()

    def set_rate(self, rate: float) -> None:
        self.rate = max(0.01, float(rate))
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=2)

    def run(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            with self._lock:
                subs = list(self._subs)
            next_due = now + 1.0
            for sub in subs:
                if sub.due <= now:
                    sub.seq += 1
                    try:
                        sub.ref.tell(Tick(sub.seq, now))
                    except Exception:  # the actor is gone (shutting down): stop ticking it
                        with self._lock:
                            self._subs.remove(sub)
                        continue
                    period = sub.period / self.rate
                    # keep the cadence, but never try to catch up a backlog after a pause
                    sub.due = max(sub.due + period, now + period / 2)
                next_due = min(next_due, sub.due)
            self._wake.wait(max(0.0, next_due - time.monotonic()))
            self._wake.clear()
