"""Reboot-lock and update-convergence verdicts from hand-made logs, history and status."""

from __future__ import annotations

from emulator.checkers.registry import RunData
from emulator.checkers.updates import check_convergence, check_reboot_lock, lock_overlaps


def _lock(event, mono, holders=()):
    return {"event": event, "mono": mono, "fields": {"holders": list(holders)}}


def test_one_holder_at_a_time_is_valid():
    records = [("a", _lock("locksmith.locked", 1, ["a"])), ("a", _lock("locksmith.unlocked", 3)),
               ("b", _lock("locksmith.locked", 4, ["b"])), ("b", _lock("locksmith.unlocked", 6))]  # fmt: skip
    assert lock_overlaps(records, 1) == []
    logs = {"a": [r for n, r in records if n == "a"], "b": [r for n, r in records if n == "b"]}
    assert check_reboot_lock(RunData([], [], logs, [], [], {})).valid is True


def test_overlapping_holders_are_reported():
    records = [("a", _lock("locksmith.locked", 1, ["a"])), ("b", _lock("locksmith.locked", 2, ["b"])),
               ("a", _lock("locksmith.unlocked", 3))]  # fmt: skip
    assert len(lock_overlaps(records, 1)) == 1
    assert lock_overlaps(records, 2) == []


def test_a_semaphore_listing_too_many_holders_is_reported():
    assert lock_overlaps([("a", _lock("locksmith.locked", 1, ["a", "b"]))], 1)


def _status(*versions):
    return {"nodes": {f"core-0{i}": {"version": v} for i, v in enumerate(versions, 1)}}


def test_every_node_on_the_release_is_valid_and_a_straggler_is_not():
    history = [{"type": "release", "version": "1.1.0", "fault": None}]
    ok = RunData(history, [], {}, [_status("1.0.0", "1.0.0"), _status("1.1.0", "1.1.0")], [], {})
    assert check_convergence(ok).valid is True
    bad = RunData(history, [], {}, [_status("1.0.0", "1.0.0"), _status("1.1.0", "1.0.0")], [], {})
    verdict = check_convergence(bad)
    assert verdict.valid is False and "core-02 runs 1.0.0" in verdict.counterexample[0]


def test_a_broken_release_must_roll_back_to_the_old_version():
    history = [{"type": "release", "version": "1.1.0", "fault": "broken-boot"}]
    back = RunData(history, [], {}, [_status("1.0.0", "1.0.0"), _status("1.0.0", "1.0.0")], [], {})
    assert check_convergence(back).valid is True
    stuck = RunData(history, [], {}, [_status("1.0.0", "1.0.0"), _status("1.1.0", "1.0.0")], [], {})
    assert check_convergence(stuck).valid is False


def test_no_release_is_unknown():
    assert check_convergence(RunData([], [], {}, [_status("1.0.0")], [], {})).valid == "unknown"


def test_semaphore_values_over_their_max_are_reported_from_history():
    history = [{"type": "lock", "holders": ["m1"], "nodes": ["core-01"], "max": 1, "index": 7},
               {"type": "lock", "holders": ["m1", "m2"], "nodes": ["core-01", "core-02"],
                "max": 1, "index": 9}]  # fmt: skip
    verdict = check_reboot_lock(RunData(history, [], {}, [], [], {}))
    assert verdict.valid is False
    assert verdict.counterexample == ["etcd index 9: holders ['core-01', 'core-02'] (max 1)"]
    ok = check_reboot_lock(RunData(history[:1], [], {}, [], [], {}))
    assert ok.valid is True
