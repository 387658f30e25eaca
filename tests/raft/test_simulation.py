from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from actors.etcd.commands import Method, V2Request
from actors.etcd.snapshot import StoreSnapshot
from actors.etcd.store import KeyStore
from actors.raft.entries import ConfState, Entry, EntryKind, Snapshot
from actors.raft.log import RaftLog
from actors.raft.readindex import ReadState
from emulator import wire
from emulator.sim import (
    EtcdStateMachine,
    EtcdWorkload,
    KvStateMachine,
    MachineKind,
    SafetyChecker,
    SimOptions,
    Simulation,
    SimulationFailure,
)
from emulator.sim.statemachine import BadCommand
from emulator.sim.workload import SYNC_TICKS, clock_ns
from emulator.simulator import main

ROOT = Path(__file__).resolve().parents[2]
TEST_TICKS = 160  # chaos ticks per seed here (the command line defaults to 300)


@pytest.mark.long
@pytest.mark.parametrize("first", range(0, 160, 40))
def test_three_node_seeds_keep_every_property(first):
    options = SimOptions(nodes=3, ticks=TEST_TICKS)
    failures = [
        r for r in (Simulation(s, options).run() for s in range(first, first + 40)) if not r.ok
    ]
    assert failures == [], "\n".join(f"seed {r.seed}: {r.error}" for r in failures)


@pytest.mark.long
@pytest.mark.parametrize("first", range(1000, 1100, 50))
def test_five_node_seeds_keep_every_property(first):
    options = SimOptions(nodes=5, ticks=TEST_TICKS)
    failures = [
        r for r in (Simulation(s, options).run() for s in range(first, first + 50)) if not r.ok
    ]
    assert failures == [], "\n".join(f"seed {r.seed}: {r.error}" for r in failures)


def _failures(seeds, options):
    return [r for r in (Simulation(s, options).run() for s in seeds) if not r.ok]


ETCD = MachineKind.ETCD


@pytest.mark.long
@pytest.mark.parametrize("first", range(2000, 2100, 25))
def test_etcd_three_node_seeds_keep_every_property(first):
    options = SimOptions(nodes=3, ticks=TEST_TICKS, state_machine=ETCD)
    failures = _failures(range(first, first + 25), options)
    assert failures == [], "\n".join(f"seed {r.seed}: {r.error}" for r in failures)


@pytest.mark.long
@pytest.mark.parametrize("first", range(3000, 3040, 20))
def test_etcd_five_node_seeds_keep_every_property(first):
    options = SimOptions(nodes=5, ticks=TEST_TICKS, state_machine=ETCD)
    failures = _failures(range(first, first + 20), options)
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


@pytest.mark.parametrize("machine", ["kv", "etcd"])
def test_replay_does_not_depend_on_the_hash_seed(machine):
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
            "--state-machine",
            machine,
            "--trace",
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].splitlines()[-1].startswith("1 seeds, 0 failures, 80 ticks, ")


def test_command_line_summary_and_exit_code(capsys):
    assert main(["--seeds", "3", "--start", "10", "--ticks", "60", "--state-machine", "kv"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("3 seeds, 0 failures, ") and out[-1].endswith(" commits")


def test_a_broken_core_is_caught_and_reported(monkeypatch, capsys):
    # votes regardless of the candidate's log: leader completeness must break somewhere
    monkeypatch.setattr(RaftLog, "is_up_to_date", lambda self, index, term: True)
    assert main(["--seeds", "20", "--ticks", "150", "--trace", "--state-machine", "kv"]) == 1
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


def test_checker_flags_different_answers_and_states():
    checker = SafetyChecker()
    checker.outcome("a", 4, '{"etcdIndex":2}')
    checker.outcome("b", 4, '{"etcdIndex":2}')
    with pytest.raises(SimulationFailure, match="answered entry 4"):
        checker.outcome("c", 4, '{"etcdIndex":3}')
    checker.state("a", 4, b"\x01" * 16, "sampled")
    checker.state("b", 4, b"\x01" * 16, "restored a snapshot")
    with pytest.raises(SimulationFailure, match="state at 4 \\(at the end\\)"):
        checker.state("c", 4, b"\x02" * 16, "at the end")


# -- the etcd keyspace as the state machine --------------------------------------------------


def _entry(index: int, req: V2Request) -> Entry:
    return Entry(1, index, EntryKind.NORMAL, wire.pack(req))


def _put(path: str, value: str, expiration: int = 0, now: int = clock_ns(0)) -> V2Request:
    return V2Request(
        f"t{path}{value}", Method.PUT.value, path, value, False, "", 0, None, expiration,
        False, False, False, now,
    )  # fmt: skip


def test_etcd_state_machine_answers_and_round_trips_through_keystore_snapshots():
    sm = EtcdStateMachine()
    assert sm.apply(Entry(1, 1, EntryKind.NORMAL, b"")) is None  # a new leader's no-op
    first = sm.apply(_entry(2, _put("/a", "1", expiration=clock_ns(10))))
    assert '"action":"set"' in first and '"etcdIndex":1' in first and '"ttl":1' in first
    sm.apply(_entry(3, _put("/b/c", "2")))
    expired = sm.apply(_entry(4, V2Request.sync(clock_ns(10), "s")))
    assert '"expired":[{"action":"expire","node":{"key":"/a"' in expired
    assert sm.peek("/a") is None and sm.peek("/b/c").value == "2" and sm.peek("/b").is_dir

    data = sm.snapshot()
    assert data == sm.store.snapshot() and isinstance(wire.unpack(data), StoreSnapshot)
    copy = EtcdStateMachine()
    copy.restore(data)
    assert copy.snapshot() == data
    # both answer the next entry alike
    assert copy.apply(_entry(5, _put("/b/c", "3"))) == sm.apply(_entry(5, _put("/b/c", "3")))
    with pytest.raises(BadCommand):
        sm.apply(Entry(1, 6, EntryKind.NORMAL, wire.pack(ConfState(("a",)))))


def test_etcd_workload_proposes_every_kind_of_request_with_unique_ids():
    workload = EtcdWorkload(random.Random(1))
    sim = Simulation(0, SimOptions(ticks=20, state_machine=ETCD))
    node = sim.nodes["n1"]
    reqs = [wire.unpack(workload.command(node, 7)) for _ in range(400)]
    assert len({r.id for r in reqs}) == len(reqs)
    assert all(r.time_ns == clock_ns(7) for r in reqs)
    methods = {r.method for r in reqs}
    assert methods == {Method.PUT.value, Method.DELETE.value, Method.POST.value, "QGET"}
    assert any(r.prev_exist is False for r in reqs) and any(r.prev_exist for r in reqs)
    assert any(r.prev_value for r in reqs) and any(r.prev_index for r in reqs)
    assert any(r.dir and r.method == Method.PUT.value for r in reqs)
    assert any(r.refresh for r in reqs) and any(r.recursive for r in reqs)
    with_ttl = [r for r in reqs if r.expiration]
    assert with_ttl and all(r.expiration - r.time_ns in (1e9, 2e9, 3e9, 5e9) for r in with_ttl)
    ttl = _put("/a", "1", expiration=clock_ns(7) + 2_000_000_000, now=clock_ns(7))
    assert workload.describe(wire.pack(ttl)) == "t/a1 PUT /a value='1' ttl=2"


def test_only_a_leader_with_expiring_keys_proposes_sync():
    workload = EtcdWorkload(random.Random(1))
    sim = Simulation(0, SimOptions(ticks=20, state_machine=ETCD))
    node = sim.nodes["n1"]
    assert workload.on_tick(node, 0) is None  # not a leader
    node.is_leader = lambda: True
    assert workload.on_tick(node, 0) is None  # no key with a TTL
    node.sm.apply(_entry(1, _put("/k", "v", expiration=clock_ns(30))))
    assert workload.on_tick(node, SYNC_TICKS + 1) is None  # not a SYNC tick
    sync = wire.unpack(workload.on_tick(node, 2 * SYNC_TICKS))
    assert sync.method == Method.SYNC.value and sync.time_ns == clock_ns(2 * SYNC_TICKS)
    assert sync.id == f"sync-n1-{2 * SYNC_TICKS}"


def test_etcd_runs_exercise_the_keyspace_they_claim():
    outcomes, traces = [], []
    for seed in range(2000, 2012):
        sim = Simulation(seed, SimOptions(ticks=TEST_TICKS, state_machine=ETCD, trace=True))
        result = sim.run()
        assert result.ok, result.error
        outcomes += list(sim.checker.outcomes.values())
        traces += result.trace
        for node in sim.nodes.values():
            if node.storage.snapshot is not None:
                assert isinstance(wire.unpack(node.storage.snapshot.data), StoreSnapshot)
    text = "\n".join(outcomes)
    for action in (
        "set", "create", "update", "compareAndSwap", "compareAndDelete", "delete", "expire", "get"
    ):  # fmt: skip
        assert f'"action":"{action}"' in text, action
    for code in (100, 101, 102, 105, 108):  # not found, compare failed, not a file, exists, ...
        assert f'"errorCode":{code}' in text, code
    assert '"dir":true' in text and '"ttl":' in text
    trace = "\n".join(traces)
    assert "InstallSnapshot" in trace and "restart n" in trace and " SYNC " in trace


def test_an_etcd_seed_replays_exactly():
    options = SimOptions(nodes=5, ticks=120, state_machine=ETCD, trace=True)
    first, second = Simulation(2077, options).run(), Simulation(2077, options).run()
    assert first.trace == second.trace and len(first.trace) > 100
    assert first.fingerprint == second.fingerprint and first.commits > 0


def test_command_line_runs_the_etcd_state_machine(capsys):
    assert main(["--seeds", "2", "--start", "40", "--ticks", "60", "--state-machine", "etcd"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("2 seeds, 0 failures, ")
    assert main(["--seeds", "5", "--nodes", "1", "--ticks", "60", "--state-machine", "etcd"]) == 0


def test_a_crashing_state_machine_fails_its_seed_with_where(monkeypatch):
    def broken(self, entry):
        raise KeyError("boom")

    monkeypatch.setattr(EtcdStateMachine, "apply", broken)
    result = Simulation(2000, SimOptions(ticks=60, state_machine=ETCD)).run()
    assert not result.ok
    assert "KeyError('boom') at " in result.error and "test_simulation.py" in result.error


def test_a_keyspace_that_reads_its_own_clock_is_caught(monkeypatch, capsys):
    # each store applies with its own skewed clock instead of the request's: ttls differ
    apply = KeyStore.apply
    skews = {}

    def skewed(self, req, raft_index):
        skew = skews.setdefault(id(self), len(skews) * 1_500_000_000)
        fields = [getattr(req, f) for f in req._wire_fields]
        fields[-1] += skew
        return apply(self, V2Request(*fields), raft_index)

    monkeypatch.setattr(KeyStore, "apply", skewed)
    args = ["--seeds", "3", "--start", "2000", "--ticks", "80", "--state-machine", "etcd"]
    assert main(args) == 1
    assert "state machine safety" in capsys.readouterr().out


def test_a_lossy_keyspace_restore_is_caught(monkeypatch):
    restore = KeyStore.restore

    def forgetful(self, data):
        restore(self, data)
        self.history = type(self.history)(self.history.capacity)  # the event history is lost

    monkeypatch.setattr(KeyStore, "restore", forgetful)
    options = SimOptions(ticks=TEST_TICKS, state_machine=ETCD)
    failures = _failures(range(2000, 2010), options)
    assert failures and all("state machine safety" in r.error for r in failures)
    assert any("restored a snapshot" in r.error or "restarted" in r.error for r in failures)
