"""Reboot windows as locksmith reads them: ``window-start`` and ``window-length``, pure.

``window-start`` is ``"Thu 23:00"`` (weekly) or ``"14:00"`` (daily); ``window-length`` a Go
duration such as ``"1h30m"``. A time is inside the window when the latest start at or before it
is less than ``length`` ago. Times are the node's own wall clock (``ctx.clock.time()``, so clock
faults move the window as they would on a machine) read in UTC, CoreOS's default time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from emulator.config.coreosformats import go_duration, window_start

DAY = 86400.0
WEEK = 7 * DAY


class WindowError(ValueError):
    pass


@dataclass(frozen=True)
class RebootWindow:
    weekday: int | None  # 0=Mon … 6=Sun; None: every day
    hour: int
    minute: int
    length_s: float

    @classmethod
    def parse(cls, start: str | None, length: str | None) -> RebootWindow | None:
        """None when no window is configured (reboot at any time)."""
        if start is None and length is None:
            return None
        if start is None or length is None:
            raise WindowError("give both window-start and window-length, or neither")
        try:
            day, hour, minute = window_start(start)
            seconds = go_duration(length)
        except ValueError as exc:
            raise WindowError(str(exc)) from None
        if seconds <= 0:
            raise WindowError(f"window-length must be positive, got {length!r}")
        return cls(day, hour, minute, seconds)

    @property
    def period_s(self) -> float:
        return DAY if self.weekday is None else WEEK

    def last_start(self, now: float) -> float:
        """The epoch seconds of the latest window start at or before ``now``."""
        t = datetime.fromtimestamp(now, timezone.utc)
        start = t.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is not None:
            start -= timedelta(days=(t.weekday() - self.weekday) % 7)
        begin = start.timestamp()
        if begin > now:
            begin -= self.period_s
        return begin

    def contains(self, now: float) -> bool:
        return now - self.last_start(now) < self.length_s

    def seconds_until_open(self, now: float) -> float:
        """0 inside the window, else how long until the next start."""
        if self.contains(now):
            return 0.0
        return self.last_start(now) + self.period_s - now

    def describe(self) -> str:
        days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        day = "" if self.weekday is None else days[self.weekday] + " "
        return f"{day}{self.hour:02d}:{self.minute:02d} for {self.length_s:g}s"
