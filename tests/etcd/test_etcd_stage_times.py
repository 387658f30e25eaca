"""Where a write's time goes (``bench/etcd_compare.py --breakdown``): the stages a member times,
on :class:`StageTimes` alone and on the shipping MemberCore, a leader whose one follower is
played by the test, over a simulated disk and a clock that moves only when told."""

from __future__ import annotations

import pytest
from played_leader import Clock, drain, elect_n1

from actors.etcd import v2api
from actors.etcd.membercore import MemberCore
from actors.etcd.memberports import StageTimes
from actors.etcd.requests import ClientWrite
from actors.raft.messages import AppendEntries, AppendResponse


def test_an_ack_answers_every_append_it_covers_each_timed_from_its_own_send():
    times = StageTimes()
    times.append_sent("n2", 3, now=1.0)
    times.append_sent("n2", 5, now=1.5)
    times.append_sent("n3", 5, now=1.5)
    times.append_acked("n2", 4, now=2.0)  # covers the append up to 3, not the one up to 5
    assert times.count["follower"] == 1 and times.seconds["follower"] == pytest.approx(1.0)
    times.append_acked("n2", 5, now=2.25)
    assert times.count["follower"] == 2 and times.seconds["follower"] == pytest.approx(1.75)
    times.append_acked("n2", 5, now=3.0)  # a repeated ack: nothing left to answer
    times.append_acked("n9", 5, now=3.0)  # a follower never sent to
    assert times.count["follower"] == 2


def test_a_new_leadership_forgets_the_old_terms_appends():
    times = StageTimes()
    times.append_sent("n2", 7, now=1.0)
    times.leadership_changed()
    times.append_acked("n2", 7, now=9.0)
    assert times.count["follower"] == 0


def test_a_follower_that_stopped_answering_is_remembered_for_a_bounded_number_of_appends():
    times = StageTimes()
    for index in range(1, StageTimes.MAX_UNACKED + 11):
        times.append_sent("n2", index, now=float(index))
    times.append_acked("n2", StageTimes.MAX_UNACKED + 10, now=5000.0)
    assert times.count["follower"] == StageTimes.MAX_UNACKED


def leader_with_a_played_follower(clock: Clock) -> tuple[MemberCore, list]:
    """n1 leads voters n1 and n2; n2 is the test, which grants votes and acks appends."""
    played = elect_n1(clock)
    ack_appends(played.member, played.sent)
    return played.member, played.sent


def ack_appends(member: MemberCore, sent: list) -> int:
    acked = 0
    for msg in drain(sent):
        if type(msg) is AppendEntries and msg.entries:
            last = msg.entries[-1].index
            member.step(AppendResponse(msg.term, "n2", "n1", last, False, 0, 0))
            acked += 1
    member.ready()
    return acked


def test_a_write_is_timed_through_every_stage_on_the_leader():
    clock = Clock()
    member, sent = leader_with_a_played_follower(clock)
    before = dict(member.stage_times.count)
    before_seconds = dict(member.stage_times.seconds)  # the no-op's append, acked at once
    answers: list = []
    write = v2api.Write("PUT", "/k", "v").stamped("c1.1", clock.time_ns())
    # parsed 2 ms after its parse began, handed to the member 3 ms later
    member.handle(ClientWrite(write, False, answers.append, clock.mono - 0.003, clock.mono - 0.005))
    member.ready()
    clock.mono += 0.010  # the follower's ack comes back 10 ms after the append went out
    assert ack_appends(member, sent) == 1
    assert len(answers) == 1 and answers[0].status == 201
    times = member.stage_times
    added = {stage: times.count[stage] - before[stage] for stage in StageTimes.STAGES}
    assert added == dict.fromkeys(StageTimes.STAGES, 1)
    took = {stage: times.seconds[stage] - before_seconds[stage] for stage in StageTimes.STAGES}
    assert took == pytest.approx(
        # the clock stands still inside a turn: apply and reply take no time here
        {"parse": 0.002, "queue": 0.003, "replicate": 0.010, "follower": 0.010,
         "apply": 0.0, "reply": 0.0}
    )  # fmt: skip
