"""The member's measured stats: AppendEntries counts and heartbeat round trips per follower."""

from __future__ import annotations

import math

import pytest

from actors.etcd.raftstats import NO_MINIMUM, RaftStats
from actors.raft.messages import AppendEntries, Heartbeat, HeartbeatResponse


def append(frm: str, to: str) -> AppendEntries:
    return AppendEntries(1, frm, to, 0, 0, (), 0)


def heartbeat(frm: str, to: str) -> Heartbeat:
    return Heartbeat(1, frm, to, 0, b"")


def test_appends_sent_and_received_are_counted_and_nothing_else_is():
    s = RaftStats()
    s.sent(append("a", "b"), 0.0)
    s.sent(append("a", "c"), 0.0)
    s.sent(heartbeat("a", "b"), 0.0)
    s.received(append("b", "a"), 0.0)
    assert (s.send_append, s.recv_append) == (2, 1)


def test_round_trips_fold_into_etcds_running_latency_figures():
    s = RaftStats()
    samples = [2.0, 4.0, 9.0]
    t = 0.0
    for ms in samples:
        s.sent(heartbeat("a", "b"), t)
        s.received(HeartbeatResponse(1, "b", "a", b""), t + ms / 1000)
        t += 1.0
    f = s.followers["b"]
    mean = sum(samples) / 3
    assert f.success == 3 and f.fail == 0
    assert f.current == pytest.approx(9.0)
    assert (f.minimum, f.maximum) == (pytest.approx(2.0), pytest.approx(9.0))
    assert f.average == pytest.approx(mean)
    sd = math.sqrt(sum((x - mean) ** 2 for x in samples) / 3)
    assert f.standard_deviation == pytest.approx(sd)
    assert f.to_json()["counts"] == {"fail": 0, "success": 3}


def test_an_unanswered_heartbeat_is_a_failure_and_a_stray_response_is_ignored():
    s = RaftStats()
    s.received(HeartbeatResponse(1, "c", "a", b""), 1.0)  # nothing outstanding: no sample
    assert "c" not in s.followers
    s.sent(heartbeat("a", "c"), 0.0)
    s.sent(heartbeat("a", "c"), 0.1)  # the first was never answered
    s.received(HeartbeatResponse(1, "c", "a", b""), 0.103)
    f = s.followers["c"]
    assert (f.fail, f.success) == (1, 1) and f.current == pytest.approx(3.0)


def test_becoming_leader_starts_the_follower_table_afresh():
    s = RaftStats()
    s.sent(heartbeat("a", "b"), 0.0)
    s.received(HeartbeatResponse(1, "b", "a", b""), 0.001)
    s.became_leader()
    assert s.followers == {}
    s.received(HeartbeatResponse(1, "b", "a", b""), 0.002)  # answers the old term's heartbeat
    assert s.followers == {}


def test_before_any_round_trip_the_minimum_is_etcds_sentinel():
    s = RaftStats()
    s.sent(heartbeat("a", "b"), 0.0)
    s.sent(heartbeat("a", "b"), 0.1)
    assert s.followers["b"].to_json()["latency"]["minimum"] == NO_MINIMUM
