"""Reboot windows read the node's own clock: outside its window a node waits with the update
installed; move that node's clock into the window (a clock-skew fault) and it reboots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rollout_config import stable_rollout

pytestmark = pytest.mark.cluster


def nodes(status) -> dict[str, dict]:
    return {n["name"]: n for n in status["nodes"]}


def test_a_closed_window_holds_the_reboot_until_the_node_clock_enters_it(cluster_factory):
    opens = datetime.now(timezone.utc) + timedelta(hours=12)  # a daily window 12 h from now
    config = stable_rollout(
        safe_mode=False, locksmith={"window-start": f"{opens:%H:%M}", "window-length": "1h"}
    )
    run = cluster_factory(3, config)
    run.up()
    run.wait_for(
        lambda s: all((n.get("locksmith") or {}).get("phase") == "idle" for n in s["nodes"]),
        timeout=40,
        what="locksmithd settled",
    )
    run.cli("release", "publish", "--channel", "stable", "--version", "1.1.0")
    run.wait_for(
        lambda s: all(
            (n.get("locksmith") or {}).get("phase") == "waiting-window" for n in s["nodes"]
        ),
        timeout=60,
        what="every node installed and waiting for its window",
    )
    skew = (
        opens.replace(second=0, microsecond=0) + timedelta(minutes=5) - datetime.now(timezone.utc)
    )
    run.cli("fault", "clock-skew", "core-02", f"+{int(skew.total_seconds())}s")
    status = run.wait_for(
        lambda s: (
            nodes(s)["core-02"].get("version") == "1.1.0" and nodes(s)["core-02"]["state"] == "up"
        ),
        timeout=60,
        what="core-02 to reboot inside its (skewed) window",
    )
    for name in ("core-01", "core-03"):
        node = nodes(status)[name]
        assert (node["version"], node["restarts"]) == ("1.0.0", 0)
        assert node["locksmith"]["phase"] == "waiting-window"
