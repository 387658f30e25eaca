"""A real node boots its coreos.units: the talk's apache unit answers HTTP, and `down` leaves nothing."""

from __future__ import annotations

import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from proc_waits import procs_under

REPO_UNIT = Path(__file__).resolve().parents[2] / "configs/units/apache@.service"


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


@pytest.mark.cluster
def test_cloud_config_unit_runs_a_web_container_on_the_node_address(cluster_factory, tmp_path):
    unit = REPO_UNIT.read_text()  # byte for byte the talk's (tests/fleet checks)
    content = textwrap.indent(unit, " " * 10)
    run = cluster_factory(
        nodes=1,
        extra=(
            "cloud-config: |\n  #cloud-config\n  coreos:\n    units:\n"
            "      - name: apache@1.service\n        command: start\n        content: |\n"
            f"{content}"
        ),
    )
    try:
        run.up()
        node = run.node("core-01")
        page = None
        deadline = time.monotonic() + 30
        while page is None and time.monotonic() < deadline:
            page = get(f"http://{node['address']}/")
            time.sleep(0.1)
        assert page is not None, "nothing answered on port 80 of the node"
        assert "core-01" in page and node["address"] in page and "apache1" in page
        journal = (run.run_dir / "nodes/core-01/journal/apache@1.service.log").read_text()
        assert "Started My Apache Frontend." in journal
        assert "pull access denied" not in journal
    finally:
        run.down()
    deadline = time.monotonic() + 10
    while procs_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs_under(tmp_path), "unit or container processes outlived the node"
