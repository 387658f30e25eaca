"""etcd trouble shows in locksmith as on a machine: cut off from the quorum, a node that needs a
reboot cannot take the lock and stays up; healed, it takes the lock and reboots."""

from __future__ import annotations

import pytest
from rollout_config import stable_rollout

pytestmark = pytest.mark.cluster

CONFIG = stable_rollout(safe_mode=False)


def nodes(status) -> dict[str, dict]:
    return {n["name"]: n for n in status["nodes"]}


def settled(status) -> bool:
    return sum(n.get("role") == "leader" for n in status["nodes"]) == 1 and all(
        n["state"] == "up" and (n.get("locksmith") or {}).get("phase") == "idle"
        for n in status["nodes"]
    )


def test_a_node_cut_off_from_etcd_quorum_waits_for_the_lock(cluster_factory):
    run = cluster_factory(3, CONFIG)
    run.up()
    run.wait_for(settled, timeout=40, what="the cluster settled")
    run.cli("fault", "partition", "core-03", "core-01,core-02")
    run.cli("release", "publish", "--channel", "stable", "--version", "1.1.0")
    status = run.wait_for(
        lambda s: (
            all(
                nodes(s)[n].get("version") == "1.1.0" and nodes(s)[n].get("lock_holder") is False
                for n in ("core-01", "core-02")
            )
            and nodes(s)["core-03"].get("update_status") == "UPDATE_STATUS_UPDATED_NEED_REBOOT"
            and nodes(s)["core-03"].get("locksmith", {}).get("last_error")
        ),
        timeout=90,
        what="the majority updated, core-03 waiting with an etcd error",
    )
    cut = nodes(status)["core-03"]
    assert (cut["version"], cut["restarts"], cut["lock_holder"]) == ("1.0.0", 0, False)
    assert cut["locksmith"]["phase"] == "waiting-lock"
    assert "semaphore is at" not in cut["locksmith"]["last_error"]  # etcd failed, not the lock
    run.cli("fault", "clear")
    run.wait_for(
        lambda s: (
            nodes(s)["core-03"].get("version") == "1.1.0"
            and nodes(s)["core-03"]["state"] == "up"
            and nodes(s)["core-03"].get("lock_holder") is False
        ),
        timeout=60,
        what="core-03 to take the lock after the heal and reboot into 1.1.0",
    )
