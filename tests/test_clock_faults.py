"""Disk and clock fault words, the per-node state they compile to, and the node's clock and log."""

from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace

import pytest

from emulator.cli import build_parser, fault_mapping
from emulator.config import ConfigErrors, parse_cluster_config
from emulator.control import SetNodeFaults
from emulator.disk import NO_FAULTS, DiskFaults
from emulator.faults import FaultError, FaultKind, parse_fault
from emulator.nodeclock import NO_CLOCK_FAULTS, ClockFaults, NodeClock, node_time
from emulator.nodefaults import (
    NodeFaultPort,
    compile_node_faults,
    parse_offset,
    parse_rate,
    protect_negative_offsets,
)
from emulator.nodelog import NodeLog

NODES = ("core-01", "core-02", "core-03")


# --- the node's wall clock ---------------------------------------------------------------------
def test_skew_offsets_the_wall_clock_both_ways():
    assert node_time(1000.0, 5.0, ClockFaults(offset_s=30)) == 1030.0
    assert node_time(1000.0, 5.0, ClockFaults(offset_s=-5)) == 995.0
    assert node_time(1000.0, 5.0, NO_CLOCK_FAULTS) == 1000.0


def test_strobe_jumps_forward_and_back_every_period():
    f = ClockFaults(strobe_delta_s=0.2, strobe_period_s=0.01)
    seen = [round(node_time(1000.0, 0.005 + i * 0.01, f) - 1000.0, 6) for i in range(6)]
    assert seen == [0.0, 0.2, 0.0, 0.2, 0.0, 0.2]
    both = ClockFaults(offset_s=5, strobe_delta_s=0.2, strobe_period_s=0.01)
    assert node_time(1000.0, 0.015, both) == pytest.approx(1005.2)


def test_node_clock_reads_its_faults_and_keeps_a_true_monotonic():
    clock = NodeClock()
    before = clock.time()
    clock.faults = ClockFaults(offset_s=3600)
    assert clock.time() - before >= 3599 and clock.offset_s == 3600
    assert abs(clock.time_ns() / 1e9 - clock.time()) < 1
    m1 = clock.monotonic()
    clock.faults = ClockFaults(offset_s=-3600)
    assert clock.monotonic() >= m1  # monotonic is never skewed


def test_log_ts_follows_the_node_clock_and_mono_stays_true(tmp_path):
    clock = NodeClock()
    log = NodeLog("core-01", tmp_path / "node.log", clock=clock)
    log.event("x", "plain")
    clock.faults = ClockFaults(offset_s=30)
    log.event("x", "skewed")
    log.close()
    plain, skewed = (json.loads(line) for line in (tmp_path / "node.log").read_text().splitlines())
    assert skewed["ts"] - plain["ts"] >= 29.9
    assert 0 <= skewed["mono"] - plain["mono"] < 5
    assert log.for_actor("etcd").clock is clock


# --- the words ------------------------------------------------------------------------------------
def test_clock_and_disk_words_parse():
    skew = parse_fault({"clock-skew": "-5s", "nodes": "leader"}, NODES)
    assert (skew.kind, skew.targets, skew.extra) == (
        FaultKind.CLOCK_SKEW,
        ("leader",),
        {"offset_s": -5.0},
    )
    assert parse_fault({"clock-rate": "0.5x", "nodes": "core-02"}).extra == {"rate": 0.5}
    strobe = parse_fault({"clock-strobe": "200ms", "period": "10ms", "nodes": "all"})
    assert strobe.extra == {"delta_s": 0.2, "period_s": 0.01}
    slow = parse_fault({"disk-slow": "50ms", "jitter": "20ms", "nodes": "core-01"}, NODES)
    assert (slow.delay_ms, slow.jitter_ms) == (50.0, 20.0)
    assert parse_fault({"disk-full": "random-follower"}).targets == ("random-follower",)
    kill = parse_fault({"kill": "core-02", "lose-unsynced": True}, NODES)
    assert kill.extra == {"lose_unsynced": True}
    assert "losing unsynced" in kill.describe()
    assert skew.describe() == "clock-skew -5s leader"
    assert slow.describe() == "disk-slow 50+20ms core-01"


@pytest.mark.parametrize(
    "data, key, text",
    [
        ({"clock-skew": "soon", "nodes": "core-01"}, "clock-skew", "offset like +5s"),
        ({"clock-skew": "+5s"}, None, "needs the node"),
        ({"clock-rate": "fast", "nodes": "core-01"}, "clock-rate", "rate like 3x"),
        ({"clock-rate": "100x", "nodes": "core-01"}, "clock-rate", "0.05x..50x"),
        ({"clock-strobe": "200ms", "nodes": "core-01"}, None, "needs period"),
        ({"clock-strobe": "200ms", "period": 0, "nodes": "core-01"}, "period", "above 0"),
        ({"clock-skew": "+5s", "nodes": "core-01", "jitter": "5ms"}, "jitter", "does not apply"),
        ({"disk-slow": "0ms", "nodes": "core-01"}, "disk-slow", "above 0"),
        ({"disk-slow": "50ms", "nodes": "core-09"}, "nodes", "unknown node 'core-09'"),
        ({"disk-full": "core-01", "period": "1s"}, "period", "does not apply"),
        ({"stop": "core-01", "lose-unsynced": True}, "lose-unsynced", "does not apply"),
        ({"kill": "core-01", "lose-unsynced": "maybe"}, "lose-unsynced", "true or false"),
    ],
)
def test_bad_disk_and_clock_faults_say_what_and_where(data, key, text):
    with pytest.raises(FaultError) as info:
        parse_fault(data, NODES)
    assert info.value.key == key
    assert text in info.value.message


def test_offsets_and_rates():
    assert parse_offset("+5s") == 5 and parse_offset("-500ms") == -0.5 and parse_offset(30) == 30
    assert parse_offset(" -5s") == -5  # as the command line hands it over
    assert parse_rate("3x") == 3 and parse_rate(2) == 2
    assert protect_negative_offsets(["logs", "fault", "-5s"]) == ["logs", "fault", "-5s"]
    for bad in ("x", "-1x", True):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_the_command_line_gives_the_same_mappings_as_a_config():
    parser = build_parser()

    def mapping(*argv: str) -> dict:
        args = parser.parse_args(protect_negative_offsets(["fault", *argv]))
        return fault_mapping(args.words, args)

    assert mapping("clock-skew", "core-01", "-5s") == {"clock-skew": "-5s", "nodes": "core-01"}
    assert mapping("disk-slow", "leader", "50ms", "--jitter", "20ms") == {
        "disk-slow": "50ms",
        "nodes": "leader",
        "jitter": "20ms",
    }
    assert mapping("clock-strobe", "core-01", "--delta", "200ms", "--period", "10ms") == {
        "clock-strobe": "200ms",
        "nodes": "core-01",
        "period": "10ms",
    }
    assert mapping("kill", "core-02", "--lose-unsynced") == {
        "kill": ["core-02"],
        "lose-unsynced": True,
    }
    assert mapping("disk-full", "core-02") == {"disk-full": "core-02"}
    with pytest.raises(SystemExit, match="usage: fault clock-rate NODE 3x"):
        mapping("clock-rate", "core-01")


def test_config_faults_take_the_new_words_and_point_at_bad_keys():
    text = """\
        nodes: 3
        faults:
          - {at: 5s, for: 10s, disk-slow: 50ms, nodes: leader}
          - {at: 6s, clock-skew: +30s, nodes: core-01}
          - {at: 7s, clock-rate: fast, nodes: core-02}
          - {at: 8s, disk-full: core-09}
        """
    with pytest.raises(ConfigErrors) as info:
        parse_cluster_config(textwrap.dedent(text), source="c.yaml")
    got = [(p.line, p.key_path) for p in info.value.problems]
    assert got == [(5, "faults[2].clock-rate"), (6, "faults[3].disk-full")]
    good = parse_cluster_config(textwrap.dedent(text).rsplit("  - {at: 7s", 1)[0], source="c")
    slow, skew = good.faults
    assert (slow.at, slow.duration, slow.spec.kind) == (5.0, 10.0, FaultKind.DISK_SLOW)
    assert skew.spec.extra == {"offset_s": 30.0}


# --- the per-node state -----------------------------------------------------------------------
def test_active_faults_fold_into_one_state_per_node():
    def spec(data):
        return parse_fault(data)

    state = compile_node_faults(
        [
            (spec({"disk-slow": "50ms", "nodes": "x"}), ["core-01"]),
            (spec({"disk-full": "x"}), ["core-01", "core-02"]),
            (spec({"clock-skew": "+5s", "nodes": "x"}), ["core-02"]),
            (spec({"clock-strobe": "200ms", "period": "10ms", "nodes": "x"}), ["core-02"]),
            (spec({"clock-skew": "-2s", "nodes": "x"}), ["core-02"]),  # later one wins
            (spec({"clock-rate": "3x", "nodes": "x"}), ["core-03"]),
        ]
    )
    assert state["core-01"] == (DiskFaults(slow_fsync_s=0.05, full=True), NO_CLOCK_FAULTS)
    assert state["core-02"] == (
        DiskFaults(full=True),
        ClockFaults(offset_s=-2.0, strobe_delta_s=0.2, strobe_period_s=0.01),
    )
    assert state["core-03"] == (NO_FAULTS, ClockFaults(rate=3.0))
    assert compile_node_faults([]) == {}


class _Log:
    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def __call__(self, event, level="info", **fields):
        self.events.append((event, fields))

    def warning(self, event, **fields):
        self.events.append((event, fields))

    error = warning


def test_the_node_port_installs_newer_states_only():
    disk, clock, rates, log = SimpleNamespace(faults=NO_FAULTS), NodeClock(), [], _Log()
    port = NodeFaultPort(disk, clock, rates.append, log)
    port.tell(SimpleNamespace(message=SetNodeFaults(2, DiskFaults(full=True), ClockFaults(rate=3))))
    assert disk.faults.full and clock.faults.rate == 3 and rates == [3]
    port.tell(SimpleNamespace(message=SetNodeFaults(1, NO_FAULTS, NO_CLOCK_FAULTS)))  # stale
    assert disk.faults.full
    assert port.view(0) == {"version": 2, "disk": {"full": True}, "clock": {"rate": 3}}
    port.tell(SimpleNamespace(message=SetNodeFaults(3, DiskFaults(), ClockFaults())))
    assert disk.faults is NO_FAULTS and clock.faults is NO_CLOCK_FAULTS and rates[-1] == 1
    port.tell(SimpleNamespace(message="garbage"))  # logged, never raised (transport thread)
    assert [e for e, _ in log.events].count("faults.node_installed") == 2
    assert ("faults.unexpected", {"type": "str"}) in log.events
