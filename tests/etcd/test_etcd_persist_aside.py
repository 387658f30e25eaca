"""A leader's WAL write done aside (the member core's ``persist_aside`` port): the shipping
MemberCore as leader of n1 and n2, n2 played by the test, over a simulated disk. The test holds
each aside write until it lets it run, as the node's WAL thread would finish it later."""

from __future__ import annotations

import pytest
from played_leader import drain, elect_n1

from actors.etcd import v2api
from actors.etcd.membercore import MemberCore
from actors.etcd.requests import ClientWrite
from actors.raft.messages import AppendEntries, AppendResponse
from emulator.disk import DiskFaults


class Aside:
    """The port: keeps each (job, then) until the test finishes it."""

    def __init__(self) -> None:
        self.waiting: list = []

    def __call__(self, job, then) -> None:
        self.waiting.append((job, then))

    def finish(self) -> None:
        job, then = self.waiting.pop(0)
        try:
            job()
        except OSError as exc:
            then(exc)
            return
        then(None)


def appends(msgs: list) -> list[AppendEntries]:
    return [m for m in msgs if type(m) is AppendEntries and m.entries]


def ack(member: MemberCore, msg: AppendEntries) -> None:
    member.step(AppendResponse(msg.term, "n2", "n1", msg.entries[-1].index, False, 0, 0))


def leader(aside: Aside, min_entries: int = 1):
    played = elect_n1(persist_aside=aside, aside_min_entries=min_entries)
    member, sent = played.member, played.sent
    while aside.waiting:  # the new leader's no-op goes aside too: let it through, ack it
        aside.finish()
    for msg in appends(drain(sent)):
        ack(member, msg)
    member.ready()
    drain(sent)
    return member, sent, played.wal, played.disk


def write(member: MemberCore, answers: list, n: int) -> None:
    req = v2api.Write("PUT", f"/k{n}", f"v{n}").stamped(f"c.{n}", 1)
    member.handle(ClientWrite(req, False, answers.append))


def test_a_batch_goes_out_to_the_followers_before_its_fsync_and_is_answered_only_after_it():
    aside = Aside()
    member, sent, wal, _ = leader(aside)
    durable, answers = wal.last_index, []
    for n in range(3):
        write(member, answers, n)
    member.ready()
    assert len(aside.waiting) == 1 and wal.last_index == durable  # not on disk yet
    (append,) = appends(drain(sent))
    assert len(append.entries) == 3  # the appends left before the fsync
    ack(member, append)  # the follower's ack, taken in while the fsync runs
    member.ready()
    assert answers == [] and drain(sent) == []  # nothing leaves before the leader's own fsync
    aside.finish()
    assert wal.last_index == append.entries[-1].index
    assert [a.status for a in answers] == [201, 201, 201]
    assert member.counters.persisted_aside == 2  # the no-op's batch, then this one
    assert member.store.get("/k2", False, False, 0).node.value == "v2"


def test_writes_taken_in_while_a_batch_is_aside_make_the_next_batch():
    aside = Aside()
    member, sent, wal, _ = leader(aside)
    answers: list = []
    write(member, answers, 1)
    member.ready()
    first = appends(drain(sent))
    write(member, answers, 2)
    write(member, answers, 3)
    member.ready()  # a Ready is aside: no other one is handed out
    assert len(aside.waiting) == 1 and drain(sent) == []
    ack(member, first[0])
    aside.finish()  # the first batch is durable: its answer, then the next batch goes aside
    assert [a.status for a in answers] == [201]
    assert len(aside.waiting) == 1
    (second,) = appends(drain(sent))
    assert [e.index for e in second.entries] == [
        first[0].entries[-1].index + 1,
        second.entries[0].index + 1,
    ]
    ack(member, second)
    aside.finish()
    assert [a.status for a in answers] == [201, 201, 201]


def test_a_batch_smaller_than_the_minimum_is_written_inline():
    aside = Aside()
    member, sent, wal, _ = leader(aside, min_entries=2)
    before = member.counters.persisted_aside
    answers: list = []
    write(member, answers, 1)
    member.ready()
    assert aside.waiting == [] and member.counters.persisted_aside == before
    (append,) = appends(drain(sent))
    assert wal.last_index == append.entries[-1].index  # written and fsynced on the spot
    ack(member, append)
    member.ready()
    assert [a.status for a in answers] == [201]


def test_a_failed_fsync_aside_stops_the_member_on_its_own_thread_and_answers_nothing():
    aside = Aside()
    member, sent, wal, disk = leader(aside)
    answers: list = []
    write(member, answers, 1)
    member.ready()
    ack(member, appends(drain(sent))[0])
    disk.faults = DiskFaults(fail_fsync=True)
    with pytest.raises(OSError):
        aside.finish()  # raised from `then`, on the driver's thread, as an inline fsync's is
    assert answers == []
