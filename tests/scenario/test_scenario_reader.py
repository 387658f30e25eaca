"""Scenario files: what they say, and every mistake reported with its line and key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.config import ConfigErrors
from emulator.scenario.reader import load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
scenario: demo
seed: 3
cluster: |
  cluster: demo
  network: {subnet: 127.0.67.0/24}
  nodes: 3
workload:
  keys: 2
  clients: 4
  rate: 50
  mix: {read: 1, write: 1}
  nodes: [core-01, core-02]
nemesis:
  interval: 5s
  faults:
    - kill: leader
    - partition: majorities-ring
phases:
  - faults: 10s
  - heal: 2s
  - wait-for: leader
  - final-reads
"""


def parse(text: str):
    return parse_scenario(text, source=Path("s.yaml"))


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        parse(text)
    return [str(p) for p in info.value.problems]


def test_a_good_scenario_reads_whole():
    s = parse(GOOD)
    assert s.name == "demo" and s.seed == 3
    assert s.node_names == ("core-01", "core-02", "core-03")
    assert s.client_urls["core-02"] == "http://127.0.67.2:2379"
    assert s.workload.keys == 2 and s.workload.mix == {"read": 1.0, "write": 1.0}
    assert s.workload.nodes == ("core-01", "core-02")
    assert [f for f in s.nemesis.faults] == [{"kill": "leader"}, {"partition": "majorities-ring"}]
    assert [st.kind for st in s.steps] == ["faults", "heal", "wait-for", "final-reads"]
    assert "linearizable" in s.checkers


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "scenarios").glob("*.yaml")))
def test_every_shipped_scenario_reads(path):
    s = load_scenario(path)
    assert s.steps and s.checkers


def test_every_problem_at_once_with_line_and_key_path():
    bad = GOOD.replace("keys: 2", "keys: 0").replace("- kill: leader", "- kill: core-09")
    bad = bad.replace("- heal: 2s", "- heel: 2s") + "checkers: [linearizable, psychic]\n"
    found = problems(bad)
    assert any(p.startswith("s.yaml:8: workload.keys:") for p in found), found
    assert any(p.startswith("s.yaml:16: nemesis.faults[0].kill:") and "core-09" in p for p in found)
    assert any(
        p.startswith("s.yaml:20: phases[1].heel:") and "unknown phase 'heel'" in p for p in found
    ), found
    assert any("checkers[1]" in p and "psychic" in p for p in found), found


def test_a_mistake_in_an_inline_cluster_points_into_the_scenario_file():
    found = problems(GOOD.replace("nodes: 3\n", "nodes: three\n", 1))
    assert any(p.startswith("s.yaml:6: cluster.nodes:") for p in found), found


def test_a_cluster_file_reference_is_read_relative_to_the_scenario(tmp_path):
    (tmp_path / "c.yaml").write_text("cluster: ref\nnodes: 5\n")
    text = GOOD.split("cluster: |")[0] + "cluster: c.yaml\nphases: [final-reads]\n"
    (tmp_path / "s.yaml").write_text(text)
    s = load_scenario(tmp_path / "s.yaml")
    assert s.cluster_name == "ref" and len(s.node_names) == 5


def test_missing_cluster_and_phases_are_errors():
    found = problems("scenario: x\n")
    assert any("'cluster' is required" in p for p in found)
    assert any("'phases' is required" in p for p in found)


def test_nemesis_faults_need_an_interval():
    found = problems(GOOD.replace("  interval: 5s\n", ""))
    assert any("without 'interval'" in p for p in found), found


def test_subnet_override_moves_every_node():
    s = parse_scenario(GOOD, source=Path("s.yaml"), subnet="127.0.99.0/24")
    assert s.client_urls["core-01"] == "http://127.0.99.1:2379"


def test_run_py_run_exits_2_on_a_bad_scenario(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("rate: 50", "rate: fast"))
    proc = subprocess.run([sys.executable, "run.py", "run", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert "bad.yaml:10: workload.rate:" in proc.stderr


def test_update_and_fleet_steps_are_read_from_the_registry():
    text = GOOD.replace(
        "  - final-reads\n",
        "  - publish-release: {version: 1.1.0, broken-boot: true}\n"
        "  - wait-for: {condition: all-on-version, value: 1.1.0, timeout: 60s}\n"
        "  - fleet-start: [configs/units/hello@.service]\n  - final-reads\n",
    )
    import os

    cwd = os.getcwd()
    os.chdir(REPO)  # unit file paths are read from the working directory
    try:
        steps = parse(text).steps
    finally:
        os.chdir(cwd)
    release, wait, fleet = steps[3], steps[4], steps[5]
    assert (release.params.version, release.params.fault) == ("1.1.0", "broken-boot")
    assert (wait.params.condition, wait.params.value) == ("all-on-version", "1.1.0")
    assert fleet.params == ("configs/units/hello@.service",)


def test_a_release_needs_a_version_and_one_fault_at_most():
    found = problems(GOOD.replace(
        "  - final-reads\n",
        "  - publish-release: {channel: stable}\n"
        "  - publish-release: {version: 2.0.0, corrupt: true, bad-signature: true}\n",
    ))  # fmt: skip
    assert any(":22:" in p and "'version' is required" in p for p in found), found
    assert any(":23:" in p and "at most one of" in p for p in found), found
