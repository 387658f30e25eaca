"""Lost-write detection from final reads, and Raft invariants from node log records."""

from __future__ import annotations

from histories import H

from emulator.checkers.raftlogs import applied_conflicts, check_raft, leaders_by_term
from emulator.checkers.registry import RunData
from emulator.checkers.survival import lost_writes


def test_final_value_of_the_last_acked_write_loses_nothing():
    h = H().w(1, 0, 1).w(2, 2, 3)
    assert lost_writes(h.ops, {"k": 2}) == {}


def test_final_value_older_than_an_acked_write_loses_it():
    h = H().w(1, 0, 1).w(2, 2, 3)
    lost = lost_writes(h.ops, {"k": 1})
    assert [o.value for o in lost["k"]] == [2]


def test_concurrent_writes_may_end_either_way():
    h = H().w(1, 0, 3).w(2, 1, 2, p=1)
    assert lost_writes(h.ops, {"k": 1}) == {}
    assert lost_writes(h.ops, {"k": 2}) == {}


def test_an_info_write_may_be_the_final_value():
    h = H().w(1, 0, 1).w(2, 2, 3, "info")
    assert lost_writes(h.ops, {"k": 2}) == {}


def test_a_missing_key_after_an_acked_write_loses_it():
    assert "k" in lost_writes(H().w(1, 0, 1).ops, {"k": None})


def _rec(event, **fields):
    return {"event": event, "fields": fields}


def test_two_leaders_in_one_term_are_reported():
    records = [
        ("core-01", _rec("raft.leader_changed", leader="core-01", term=2, role="leader")),
        ("core-02", _rec("raft.leader_changed", leader="core-01", term=2, role="follower")),
        ("core-03", _rec("raft.leader_changed", leader="core-03", term=2, role="leader")),
        ("core-02", _rec("raft.leader_changed", leader=None, term=3, role="candidate")),
    ]
    assert leaders_by_term(records) == {2: {"core-01": "core-01", "core-03": "core-03"}}
    data = RunData([], [], {n: [r] for n, r in records[:3]}, [], [], {})
    verdict = check_raft(data)
    assert verdict.valid is False
    assert "term 2" in verdict.counterexample[0]


def test_an_index_applied_with_two_entries_is_reported():
    records = [
        ("core-01", _rec("raft.applied_mark", index=25, term=1, crc=7)),
        ("core-02", _rec("raft.applied_mark", index=25, term=1, crc=7)),
        ("core-02", _rec("raft.applied_mark", index=50, term=2, crc=9)),
        ("core-03", _rec("raft.applied_mark", index=50, term=3, crc=9)),
    ]
    problems = applied_conflicts(records)
    assert len(problems) == 1 and problems[0].startswith("index 50")


def test_agreeing_logs_are_valid():
    logs = {
        "core-01": [_rec("raft.leader_changed", leader="core-01", term=1),
                    _rec("raft.applied_mark", index=25, term=1, crc=3)],
        "core-02": [_rec("raft.leader_changed", leader="core-01", term=1),
                    _rec("raft.applied_mark", index=25, term=1, crc=3)],
    }  # fmt: skip
    verdict = check_raft(RunData([], [], logs, [], [], {}))
    assert verdict.valid is True
    assert "applied entries agree across nodes in 1 window(s) (2 marks)" in verdict.summary
