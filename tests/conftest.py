"""Shared fixtures: a real cluster under its own loopback subnet, and a check that none is left."""

from __future__ import annotations

import os
import time

import pytest
from cluster_harness import ClusterRun, emulator_pids, write_config


@pytest.fixture(autouse=True)
def no_process_left_behind(tmp_path):
    """Every test must stop what it started: nothing of this test's run dir may still run."""
    yield
    deadline = time.monotonic() + 10
    while emulator_pids(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = emulator_pids(str(tmp_path))
    for pid in left:
        os.kill(pid, 9)
    assert not left, f"emulator processes left running after the test: {left}"


@pytest.fixture
def cluster_factory(tmp_path):
    runs: list[ClusterRun] = []

    def make(nodes: int = 3, extra: str = "") -> ClusterRun:
        run = ClusterRun(tmp_path, write_config(tmp_path, nodes, extra))
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.down()


@pytest.fixture
def cluster(cluster_factory):
    """A 3-node cluster, up."""
    run = cluster_factory()
    run.up()
    return run
