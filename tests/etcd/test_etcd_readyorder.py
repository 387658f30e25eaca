"""When a member may send or apply ahead of a Ready's fsync."""

from __future__ import annotations

from actors.etcd.readyorder import ReadyOrder, ready_order
from actors.raft.entries import ConfState, Entry, HardState, Snapshot
from actors.raft.ready import Ready

DURABLE = HardState(3, "n1", 10)


def entries(first: int, last: int, term: int = 3) -> tuple[Entry, ...]:
    return tuple(Entry(term, i, 0, b"x") for i in range(first, last + 1))


def order(rd: Ready, leader: bool = True, durable=DURABLE, last: int = 12) -> ReadyOrder:
    return ready_order(rd, leader=leader, durable=durable, durable_last_index=last)


def msgs() -> tuple:
    return ("a message",)


def test_a_leader_sends_its_appends_before_its_fsync_when_only_the_commit_moved():
    assert order(Ready(entries=entries(13, 14), messages=msgs())).send_first
    moved = Ready(hard_state=HardState(3, "n1", 12), entries=entries(13, 14), messages=msgs())
    assert order(moved).send_first


def test_a_new_term_or_vote_must_be_durable_before_anything_is_sent():
    for hs in (HardState(4, "n1", 10), HardState(3, None, 10), HardState(3, "n2", 10)):
        assert not order(Ready(hard_state=hs, messages=msgs())).send_first
    fresh = Ready(hard_state=HardState(1, "n1", 0), messages=msgs())
    assert not order(fresh, durable=None).send_first


def test_followers_and_candidates_always_persist_before_sending():
    assert not order(Ready(entries=entries(13, 13), messages=msgs()), leader=False).send_first


def test_entries_durable_before_this_ready_are_applied_before_its_fsync():
    rd = Ready(entries=entries(13, 15), committed_entries=entries(11, 12), messages=msgs())
    assert order(rd).apply_first
    assert order(Ready(committed_entries=entries(11, 12)), last=12).apply_first


def test_entries_this_ready_writes_are_applied_only_after_its_fsync():
    # the one-voter case: the leader commits what it is about to persist
    assert not order(Ready(entries=entries(13, 14), committed_entries=entries(13, 14))).apply_first
    # a follower told to overwrite its tail and commit it in the same breath
    overwrite = Ready(entries=entries(11, 12, term=4), committed_entries=entries(10, 12, term=4))
    assert not order(overwrite, leader=False).apply_first
    # committed beyond what the WAL holds
    assert not order(Ready(committed_entries=entries(11, 13)), last=12).apply_first


def test_a_snapshot_keeps_the_plain_order():
    snap = Snapshot(20, 3, ConfState(("n1",)), b"")
    rd = Ready(snapshot=snap, committed_entries=entries(11, 12), messages=msgs())
    assert order(rd) == ReadyOrder(False, False)


def test_nothing_to_send_or_apply_changes_nothing():
    assert order(Ready(entries=entries(13, 13))) == ReadyOrder(False, False)


def test_with_no_client_waiting_committed_entries_wait_for_the_ack_to_go_out():
    # a follower that only replicates: its apply would only delay the ack the leader waits for
    rd = Ready(entries=entries(13, 15), committed_entries=entries(11, 12), messages=msgs())
    assert not ready_order(
        rd, leader=False, durable=DURABLE, durable_last_index=12, answers_waiting=False
    ).apply_first
    assert ready_order(
        rd, leader=False, durable=DURABLE, durable_last_index=12, answers_waiting=True
    ).apply_first
