from datetime import datetime, timezone

import pytest

from actors.locksmith.window import RebootWindow, WindowError


def at(text: str) -> float:
    """'2026-12-03 23:30' (UTC; 2026-12-03 is a Thursday) → epoch seconds."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp()


def test_no_window():
    assert RebootWindow.parse(None, None) is None


@pytest.mark.parametrize(
    "start, length", [("Thu 23:00", None), (None, "1h"), ("25:00", "1h"), ("Thu 04:00", "soon")]
)
def test_bad_windows(start, length):
    with pytest.raises(WindowError):
        RebootWindow.parse(start, length)


def test_daily_window():
    w = RebootWindow.parse("14:00", "1h30m")
    assert not w.contains(at("2026-12-03 13:59"))
    assert w.contains(at("2026-12-03 14:00"))
    assert w.contains(at("2026-12-03 15:29"))
    assert not w.contains(at("2026-12-03 15:30"))
    assert w.seconds_until_open(at("2026-12-03 15:30")) == 22.5 * 3600
    assert w.seconds_until_open(at("2026-12-03 14:10")) == 0


def test_daily_window_across_midnight():
    w = RebootWindow.parse("23:00", "2h")
    assert w.contains(at("2026-12-03 23:30"))
    assert w.contains(at("2026-12-04 00:59"))
    assert not w.contains(at("2026-12-04 01:00"))
    assert w.seconds_until_open(at("2026-12-04 22:00")) == 3600


def test_weekly_window():
    w = RebootWindow.parse("Thu 23:00", "1h30m")
    assert w.contains(at("2026-12-03 23:10"))  # Thursday
    assert w.contains(at("2026-12-04 00:29"))  # Friday, still in Thursday's window
    assert not w.contains(at("2026-12-04 00:30"))
    assert not w.contains(at("2026-12-10 22:59"))  # next Thursday, before the start
    assert w.contains(at("2026-12-10 23:00"))
    assert w.seconds_until_open(at("2026-12-09 23:00")) == 86400


def test_weekly_window_on_another_day():
    w = RebootWindow.parse("Mon 04:00", "1h")
    assert not w.contains(at("2026-12-03 04:30"))  # a Thursday
    assert w.contains(at("2026-12-07 04:30"))  # Monday
    assert w.describe() == "Mon 04:00 for 3600s"


def test_window_longer_than_its_period_is_always_open():
    w = RebootWindow.parse("04:00", "25h")
    assert all(w.contains(at(f"2026-12-03 {h:02d}:00")) for h in range(24))
