from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actors.raft.entries import ConfState, Entry, Snapshot
from actors.raft.log import RaftLog
from actors.raft.readindex import ReadState
from emulator.sim import KvStateMachine, SafetyChecker, SimOptions, Simulation, SimulationFailure
from emulator.simulator import main

ROOT = Path(__file__).resolve().parents[2]
TEST_TICKS = 160  # chaos ticks per seed here (the command line defaults to 300)


@pytest.mark.parametrize("first", range(0, 160, 40))
def test_three_node_seeds_keep_every_property(first):
    options = SimOptions(nodes=3, ticks=TEST_TICKS)
    failures = [
        r for r in (Simulation(s, options).run() for s in range(first, first + 40)) if not r.ok
    ]
    assert failures == [], "\n".join(f"seed {r.seed}: {r.error}" for r in failures)


@pytest.mark.parametrize("first", range(1000, 1100, 50))
def test_five_node_seeds_keep_every_property(first):
    options = SimOptions(nodes=5, ticks=TEST_TICKS)
    failures = [
        r for r in (Simulation(s, options).run() for s in range(first, first + 50)) if not r.ok
    ]
    assert failures == [], "\n".join(f"seed {r.seed}: {r.error}" for r in failures)


def test_runs_exercise_the_faults_they_claim():
    options = SimOptions(nodes=3, ticks=TEST_TICKS, trace=True)
    traces = [Simulation(s, options).run().trace for s in range(30)]
    text = "\n".join(line for trace in traces for line in trace)
    for needle in (
        "InstallSnapshot",
        "TimeoutNow",
        "partition",
        "restart n",
        "crash n",
        "membership change add",
        "membership change remove",
        "ReadIndexResponse",
        "liveness reached",
    ):
        assert needle in text, needle


def test_a_seed_replays_exactly():
    options = SimOptions(nodes=5, ticks=120, trace=True)
    first, second = Simulation(77, options).run(), Simulation(77, options).run()
    assert first.trace == second.trace and len(first.trace) > 100
    assert first.fingerprint == second.fingerprint
    assert first.commits > 0


def test_replay_does_not_depend_on_the_hash_seed():
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        cmd = [
            sys.executable,
            "-m",
            "emulator.simulator",
            "--seed",
            "5",
            "--ticks",
            "80",
            "--trace",
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].splitlines()[-1].startswith("1 seeds, 0 failures, 80 ticks, ")


def test_command_line_summary_and_exit_code(capsys):
    assert main(["--seeds", "3", "--start", "10", "--ticks", "60"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("3 seeds, 0 failures, ") and out[-1].endswith(" commits")


def test_a_broken_core_is_caught_and_reported(monkeypatch, capsys):
    # votes regardless of the candidate's log: leader completeness must break somewhere
    monkeypatch.setattr(RaftLog, "is_up_to_date", lambda self, index, term: True)
    assert main(["--seeds", "20", "--ticks", "150", "--trace"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "FAILURE tick" in out
    assert " 0 failures" not in out.splitlines()[-1]


def test_a_pluggable_state_machine_sees_every_committed_entry():
    class Counting(KvStateMachine):
        instances: list = []

        def __init__(self):
            super().__init__()
            self.entries = 0
            Counting.instances.append(self)

        def apply(self, entry):
            self.entries += 1
            super().apply(entry)

    result = Simulation(3, SimOptions(ticks=80), state_machine=Counting).run()
    assert result.ok and result.commits > 0
    assert max(sm.entries for sm in Counting.instances) >= result.commits


# -- the checker itself ----------------------------------------------------------------------


class FakeLog:
    def __init__(self, terms: list[int], snap_index: int = 0):
        self.terms = [0, *terms]
        self.snap_index = snap_index

    def term(self, index: int) -> int | None:
        return self.terms[index] if 0 <= index < len(self.terms) else None


def test_checker_flags_two_leaders_in_one_term():
    checker = SafetyChecker()
    checker.leader("a", 3, FakeLog([]))
    checker.leader("a", 3, FakeLog([]))
    with pytest.raises(SimulationFailure, match="election safety"):
        checker.leader("b", 3, FakeLog([]))


def test_checker_flags_a_log_matching_violation():
    checker = SafetyChecker()
    checker.appended("a", [Entry(1, 1, 0, b"x"), Entry(2, 2, 0, b"y")], FakeLog([1, 2]))
    with pytest.raises(SimulationFailure, match="log matching"):
        checker.appended("b", [Entry(2, 2, 0, b"z")], FakeLog([1, 2]))
    with pytest.raises(SimulationFailure, match="log matching"):
        checker.appended("c", [Entry(2, 2, 0, b"y")], FakeLog([2, 2]))  # another predecessor


def test_checker_flags_a_leader_missing_a_committed_entry():
    checker = SafetyChecker()
    checker.commit("a", 2, 2, FakeLog([1, 2]))
    checker.leader("c", 2, FakeLog([1]))  # same term: its entry may be committed later
    with pytest.raises(SimulationFailure, match="leader completeness"):
        checker.leader("b", 3, FakeLog([1, 3]))


def test_checker_flags_diverging_commits_and_applies():
    checker = SafetyChecker()
    checker.commit("a", 1, 1, FakeLog([1]))
    with pytest.raises(SimulationFailure, match="state machine safety"):
        checker.commit("b", 1, 2, FakeLog([2]))
    checker.applied("a", Entry(1, 1, 0, b"x"))
    with pytest.raises(SimulationFailure, match="state machine safety"):
        checker.applied("b", Entry(1, 1, 0, b"other"))
    with pytest.raises(SimulationFailure, match="expected 2"):
        checker.applied("a", Entry(1, 3, 0, b"gap"))
    with pytest.raises(SimulationFailure, match="diverge"):
        checker.sequences({"a": [b"1", b"2"], "b": [b"1", b"3", b"4"]})


def test_checker_flags_a_stale_read():
    checker = SafetyChecker()
    checker.commit("a", 2, 1, FakeLog([1, 1]))
    checker.read_issued(b"r")
    with pytest.raises(SimulationFailure, match="ReadIndex"):
        checker.read_answered("a", ReadState(b"r", 1))


def test_kv_state_machine_round_trips_through_a_snapshot():
    kv = KvStateMachine()
    kv.apply(Entry(1, 1, 0, b"k=1"))
    kv.apply(Entry(1, 2, 0, b""))  # a no-op is not a command
    kv.apply(Entry(1, 3, 0, b"k=2"))
    copy = KvStateMachine()
    copy.restore(kv.snapshot())
    assert copy.data == {b"k": b"2"} and copy.sequence == [b"k=1", b"k=2"]
    assert Snapshot(3, 1, ConfState(("a",)), kv.snapshot()).data == kv.snapshot()
