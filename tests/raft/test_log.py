from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.raft.entries import ConfState, Entry, Snapshot
from actors.raft.log import LogSafetyError, RaftLog


def ents(*terms: int, start: int = 1) -> list[Entry]:
    return [Entry(t, i, 0, b"%d" % i) for i, t in enumerate(terms, start=start)]


def snap(index: int, term: int) -> Snapshot:
    return Snapshot(index, term, ConfState(("a",)), b"state")


def test_empty_log_has_index_zero_of_term_zero():
    log = RaftLog()
    assert (log.first_index(), log.last_index(), log.last_term()) == (1, 0, 0)
    assert log.term(0) == 0
    assert log.term(1) is None


def test_term_lookup_after_compaction():
    log = RaftLog(entries=ents(1, 1, 2, 3), committed=4)
    log.applied_to(3)
    log.compact(Snapshot(3, 2, ConfState(("a",)), b""))
    assert log.term(2) is None  # compacted
    assert log.term(3) == 2  # the snapshot's own index is known
    assert log.term(4) == 3
    assert log.term(5) is None
    assert log.first_index() == 4
    with pytest.raises(LogSafetyError):
        log.slice(3, 5)
    assert [e.index for e in log.slice(4, 10)] == [4]


def test_restart_from_snapshot_and_entries_drops_covered_entries():
    log = RaftLog(snap(3, 2), ents(1, 1, 2, 3, 3), committed=4)
    assert (log.snap_index, log.last_index(), log.committed, log.applied) == (3, 5, 4, 3)
    assert log.unstable_entries() == []  # what storage gave back is stable


def test_restart_rejects_a_gap_and_a_commit_beyond_the_log():
    with pytest.raises(LogSafetyError):
        RaftLog(entries=[Entry(1, 1, 0, b""), Entry(1, 3, 0, b"")])
    with pytest.raises(LogSafetyError):
        RaftLog(entries=ents(1, 1), committed=3)


def test_maybe_append_truncates_from_the_first_conflict_only():
    log = RaftLog(entries=ents(1, 1, 2, 2, 2))
    log.stable_to(5, 2)
    # the leader's log is 1 1 2 3 3: entries 1..3 agree, 4 conflicts
    assert log.maybe_append(2, 1, 0, ents(2, 3, 3, start=3)) == 5
    assert [log.term(i) for i in range(1, 6)] == [1, 1, 2, 3, 3]
    assert log.stable == 3  # the overwritten suffix is unstable again
    assert [e.index for e in log.unstable_entries()] == [4, 5]


def test_maybe_append_keeps_longer_matching_log_and_bounds_commit():
    log = RaftLog(entries=ents(1, 1, 1, 1))
    assert log.maybe_append(1, 1, 10, ents(1, start=2)) == 2
    assert log.last_index() == 4  # a stale short append must not truncate matching entries
    assert log.committed == 2  # min(leader commit, last new index)


def test_maybe_append_rejects_mismatching_prev():
    log = RaftLog(entries=ents(1, 2))
    assert log.maybe_append(2, 1, 0, ents(3, start=3)) is None
    assert log.maybe_append(5, 2, 0, []) is None
    assert log.last_index() == 2


def test_overwriting_a_committed_entry_raises():
    log = RaftLog(entries=ents(1, 1, 1), committed=2)
    with pytest.raises(LogSafetyError):
        log.maybe_append(1, 1, 0, ents(2, start=2))


def test_find_conflict_by_term_skips_whole_terms():
    log = RaftLog(entries=ents(1, 2, 2, 4, 4, 4))
    assert log.find_conflict_by_term(6, 3) == 3
    assert log.find_conflict_by_term(6, 4) == 6
    assert log.find_conflict_by_term(10, 2) == 3  # clipped to the log
    assert log.find_conflict_by_term(6, 0) == 0


def test_is_up_to_date_compares_last_term_then_length():
    log = RaftLog(entries=ents(1, 2, 2))
    assert log.is_up_to_date(1, 3)
    assert log.is_up_to_date(3, 2)
    assert not log.is_up_to_date(2, 2)
    assert not log.is_up_to_date(9, 1)


def test_leader_commit_needs_an_entry_of_the_given_term():
    log = RaftLog(entries=ents(1, 2, 3))
    assert not log.maybe_commit(2, 3)
    assert log.maybe_commit(3, 3)
    assert log.committed == 3
    assert not log.maybe_commit(2, 2)  # never backwards


def test_ready_cycle_hands_out_each_entry_once():
    log = RaftLog()
    log.append(ents(1, 1, 1))
    first = log.unstable_entries()
    log.commit_to(2)
    committed = log.next_committed()
    log.offered(first, committed)
    assert log.unstable_entries() == [] and log.next_committed() == []
    log.stable_to(3, 1)
    log.applied_to(2)
    assert (log.stable, log.applied) == (3, 2)
    log.commit_to(3)
    assert [e.index for e in log.next_committed()] == [3]


def test_stable_to_ignores_a_term_that_was_overwritten():
    log = RaftLog()
    log.append(ents(1, 1))
    log.append([Entry(2, 2, 0, b"new")])
    log.stable_to(2, 1)  # the Ready that wrote (2, term 1) is stale
    assert log.stable == 0


def test_restore_replaces_the_log():
    log = RaftLog(entries=ents(1, 1, 2), committed=1)
    log.restore(snap(10, 3))
    assert (log.last_index(), log.last_term(), log.committed, log.snap_index) == (10, 3, 10, 10)
    assert log.pending_snapshot is not None
    assert log.next_committed() == []
    log.snapshot_persisted(log.pending_snapshot)
    assert log.applied == 10 and log.pending_snapshot is None


def test_compact_beyond_applied_raises():
    log = RaftLog(entries=ents(1, 1, 1), committed=3)
    log.applied_to(1)
    with pytest.raises(LogSafetyError):
        log.compact(Snapshot(2, 1, ConfState(()), b""))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 8), st.lists(st.integers(0, 3), max_size=5)),
        max_size=25,
    )
)
def test_appends_behave_like_a_list_model(ops):
    """Random leader-style appends (truncate at any uncommitted point) agree with a list."""
    log = RaftLog()
    model: list[int] = []  # model[i] = term of index i + 1
    term = 1
    for cut, bumps in ops:
        at = min(cut, len(model))
        if at < log.committed or not bumps:
            continue
        term += 1
        new = [Entry(term + b, at + 1 + k, 0, b"") for k, b in enumerate(sorted(bumps))]
        log.append(new)
        model = model[:at] + [e.term for e in new]
        assert log.last_index() == len(model)
        assert [log.term(i) for i in range(1, len(model) + 1)] == model
        if model:
            log.commit_to(min(len(model), log.committed + 1))
        log.stable_to(log.last_index(), log.last_term())
        assert log.unstable_entries() == []
