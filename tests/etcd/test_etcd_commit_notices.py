"""The member core's commit notices (its ``later`` port): the shipping MemberCore as leader of n1
and n2, n2 played by the test. Followers learn a commit from the next append, or from a notice
sent ``COMMIT_NOTICE_S`` after the commit when no append carried it."""

from __future__ import annotations

import pytest
from played_leader import drain, elect_n1

from actors.etcd import v2api
from actors.etcd.membercore import COMMIT_NOTICE_S
from actors.etcd.requests import ClientWrite
from actors.raft.messages import AppendEntries, AppendResponse


class Timers:
    """The port: keeps each (delay, fn) until the test fires it."""

    def __init__(self) -> None:
        self.armed: list = []

    def __call__(self, delay_s, fn) -> None:
        self.armed.append((delay_s, fn))

    def fire(self, member) -> float:
        delay, fn = self.armed.pop(0)
        if fn():
            member.ready()  # as the port promises: the Ready cycle follows
        return delay


def commit_appends(msgs: list) -> list[AppendEntries]:
    return [m for m in msgs if type(m) is AppendEntries and not m.entries]


def ack(member, append: AppendEntries) -> None:
    member.step(AppendResponse(append.term, "n2", "n1", append.entries[-1].index, False, 0, 0))
    member.ready()


def write_and_ack(played, answers: list, n: int) -> AppendEntries:
    member = played.member
    req = v2api.Write("PUT", f"/k{n}", f"v{n}").stamped(f"c.{n}", 1)
    member.handle(ClientWrite(req, False, answers.append))
    member.ready()
    (append,) = [m for m in drain(played.sent) if type(m) is AppendEntries and m.entries]
    ack(member, append)
    return append


def leader(timers: Timers):
    played = elect_n1(later=timers)
    (no_op,) = drain(played.sent)
    ack(played.member, no_op)  # then its notice fires
    played.clock.mono += COMMIT_NOTICE_S
    timers.fire(played.member)
    assert timers.armed == [] and len(commit_appends(drain(played.sent))) == 1
    return played


def test_a_lone_write_is_answered_and_its_commit_follows_a_moment_later():
    timers = Timers()
    played = leader(timers)
    answers: list = []
    append = write_and_ack(played, answers, 1)
    assert [a.status for a in answers] == [201]
    assert commit_appends(drain(played.sent)) == []  # not at once
    assert [delay for delay, _ in timers.armed] == [pytest.approx(COMMIT_NOTICE_S)]
    played.clock.mono += COMMIT_NOTICE_S
    timers.fire(played.member)
    (notice,) = commit_appends(drain(played.sent))
    assert notice.to == "n2" and notice.commit == append.entries[-1].index
    assert timers.armed == []


def test_the_next_write_carries_the_commit_and_the_timer_waits_for_the_newer_one():
    timers = Timers()
    played = leader(timers)
    answers: list = []
    first = write_and_ack(played, answers, 1)
    played.clock.mono += COMMIT_NOTICE_S / 2
    second = write_and_ack(played, answers, 2)
    assert second.commit == first.entries[-1].index  # the append told n2
    played.clock.mono += COMMIT_NOTICE_S / 2
    timers.fire(played.member)  # armed for the first commit: that one is told already
    assert commit_appends(drain(played.sent)) == []
    (delay, _) = timers.armed[0]  # re-armed for what is left of the second one's wait
    assert 0 < delay <= COMMIT_NOTICE_S / 2 + 1e-9
    played.clock.mono += delay
    timers.fire(played.member)
    (notice,) = commit_appends(drain(played.sent))
    assert notice.commit == second.entries[-1].index
