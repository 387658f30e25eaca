"""Scenarios run end to end as a user runs them: ``run.py run`` against a real cluster.

Short versions of two shipped scenarios: leader kills under load must be judged valid, and a
majorities-ring partition with the planted unsafe-reads bug must be judged invalid, with a
counterexample in results.json and in the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_harness import REPO, unique_subnet

pytestmark = pytest.mark.cluster

KILL_LEADER = """\
scenario: kill-leader-short
seed: 7
time-limit: 60s
cluster: |
  cluster: ci-kill-leader
  nodes: 3
workload: {keys: 3, clients: 6, rate: 80, timeout: 1500ms}
nemesis:
  interval: 5s
  duration: 2s
  first: 2s
  faults: [{kill: leader}]
phases:
  - faults: 9s
  - heal: 1s
  - wait-for: {condition: leader, timeout: 15s}
  - final-reads
"""

PARTITION_UNSAFE = """\
scenario: partition-short
seed: 11
time-limit: 60s
cluster: |
  cluster: ci-partition
  nodes: 5
workload: {keys: 2, clients: 8, rate: 120, mix: {read: 3, write: 2, cas: 1}, timeout: 1500ms}
nemesis:
  interval: 20s
  duration: 7s
  first: 1s
  faults: [{partition: majorities-ring}]
phases:
  - faults: 9s
  - final-reads
"""


def run_scenario(
    tmp_path: Path, text: str, *extra: str
) -> tuple[subprocess.CompletedProcess, Path]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    env = dict(os.environ, COREEMU_RUNS=str(tmp_path / "runs"), NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "run.py", "run", str(path), "--subnet", unique_subnet(), *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    return proc, (tmp_path / "runs" / "latest").resolve()


def test_leader_kills_under_load_are_valid(tmp_path):
    proc, run = run_scenario(tmp_path, KILL_LEADER)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["valid"] is True
    assert results["ops"]["ok"] > 50
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    kills = [e for e in history if e.get("type") == "node" and e.get("event") == "killed"]
    leaders = {e.get("leader") for e in history if e.get("type") == "leader"} - {None}
    assert kills and len(leaders) >= 2  # a leader was killed and another took over
    assert "<svg" in (run / "report.html").read_text()


def test_unsafe_reads_under_partition_are_caught(tmp_path):
    proc, run = run_scenario(tmp_path, PARTITION_UNSAFE, "--unsafe-reads")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot be ordered" in proc.stdout
    lin = json.loads((run / "results.json").read_text())["checkers"]["linearizable"]
    assert lin["valid"] is False
    ops = lin["counterexample_ops"]
    assert 2 <= len(ops) <= 10 and any(o["f"] == "read" for o in ops)
    page = (run / "report.html").read_text()
    assert f"#{ops[-1]['id']}" in page
