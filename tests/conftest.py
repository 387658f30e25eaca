"""Shared fixtures: a real cluster under its own loopback subnet, and a check that none is left."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from cluster_harness import ClusterRun, emulator_pids, write_config
from hypothesis import HealthCheck, settings

# The suite runs in parallel workers beside real clusters on a couple of cores: how long one
# example took says nothing about the code under test, so no per-example deadline and no
# too-slow health check (tests that set their own settings keep them).
settings.register_profile("coreemu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("coreemu")


def pytest_collection_modifyitems(config, items):
    """Files with the most real-cluster or long tests first: under pytest-xdist (``--dist
    loadfile``, one file per worker at a time, in this order) the long files start early and
    overlap instead of trailing at the end (the simulator's seeds, started last, kept one worker
    busy for a minute after the others had finished)."""
    heavy = Counter(
        item.path
        for item in items
        if item.get_closest_marker("cluster") or item.get_closest_marker("long")
    )
    items.sort(key=lambda item: -heavy[item.path])


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
