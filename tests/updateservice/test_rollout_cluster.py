"""A rolling OS update on a real cluster: the update service, update_engine and locksmith together.

What a user runs (README): publish a release on stable and watch every node reboot into it, one at
a time under the etcd lock; publish a broken one and watch the first node fall back and safe mode
stop the rollout there.
"""

from __future__ import annotations

import json
import time

import pytest
from cluster_harness import history
from proc_waits import wait_until
from rollout_config import stable_rollout

from actors.locksmith.semaphore import SEMAPHORE_KEY
from emulator.etcdctl_client import V2Client

pytestmark = pytest.mark.cluster

CONFIG = stable_rollout()  # safe mode on: the broken release stops the rollout
IDLE = "UPDATE_STATUS_IDLE"


def settled(status) -> bool:
    return sum(n.get("role") == "leader" for n in status["nodes"]) == 1 and all(
        n["state"] == "up"
        and n.get("update_status") == IDLE
        and (n.get("locksmith") or {}).get("phase") == "idle"
        for n in status["nodes"]
    )


def all_on(version: str):
    def check(status) -> bool:
        return all(
            n["state"] == "up"
            and n.get("version") == version
            and n.get("update_status") == IDLE
            and n.get("lock_holder") is False
            for n in status["nodes"]
        )

    return check


def semaphore_versions(client: V2Client) -> list[dict]:
    """Every value the semaphore ever had, in etcd's order (from the watch history)."""
    last = int(client.get(SEMAPHORE_KEY, quorum=True).node["modifiedIndex"])
    values, index = [], 1
    while index <= last:
        resp = client.wait(SEMAPHORE_KEY, index, recursive=False)
        assert resp is not None
        values.append(json.loads(resp.node["value"]))
        index = int(resp.node["modifiedIndex"]) + 1
    return values


def sorted_by_first(locks: list[dict]) -> list[str]:
    """Node names in the order they first took the lock."""
    order: list[str] = []
    for e in locks:
        for n in e["nodes"]:
            if n not in order:
                order.append(n)
    return order


def service_status(run) -> dict:
    return json.loads(run.cli("release", "status", "--json").stdout)


def test_rolling_update_one_reboot_at_a_time_and_a_broken_release_rolls_back(cluster_factory):
    run = cluster_factory(3, CONFIG)
    run.up()
    status = run.wait_for(settled, timeout=30, what="etcd, update_engine and locksmithd settled")
    names = {n["machine_id"]: n["name"] for n in status["nodes"]}
    client = V2Client([n["client_url"] for n in status["nodes"]])
    assert {n["version"] for n in status["nodes"]} == {"1.0.0"}

    out = run.cli("release", "publish", "--channel", "stable", "--version", "1.1.0").stdout
    assert "published 1.1.0 on stable" in out
    status = run.wait_for(all_on("1.1.0"), timeout=90, what="every node on 1.1.0")
    assert {n["partition"] for n in status["nodes"]} == {"USR-B"}

    # the semaphore never had two holders, and each machine held it once
    values = semaphore_versions(client)
    assert all(len(v["holders"] or []) <= v["max"] == 1 for v in values)
    takers = [v["holders"][0] for v in values if v["holders"]]
    assert sorted(takers) == sorted(names)

    # the run's history, in etcd's order: never two holders; every reboot inside its node's hold
    entries = history(run.run_dir)
    locks = [e for e in entries if e["type"] == "lock" and e["group"] is None]
    assert locks and all(len(e["holders"]) <= e["max"] == 1 for e in locks)
    assert [e["nodes"] for e in locks if e["nodes"]] == [[n] for n in sorted_by_first(locks)]
    reboots = [e for e in entries if e["type"] == "node" and e["event"] == "rebooting"]
    assert sorted(e["node"] for e in reboots) == sorted(names.values())
    for reboot in reboots:
        held = [e for e in locks if e["ts"] <= reboot["ts"]][-1]
        assert held["nodes"] == [reboot["node"]]

    # a broken release: the first node to take it falls back to 1.1.0, safe mode stops the rest
    run.cli("release", "publish", "--channel", "stable", "--version", "1.2.0", "--broken-boot")
    snap = wait_until(
        lambda: (s := service_status(run))["groups"]["stable"]["stopped"] and s,
        timeout=60,
        what="safe mode to stop the rollout",
    )
    failed = [m for m, i in snap["instances"].items() if i["status"] == "error"]
    assert len(failed) == 1 and snap["instances"][failed[0]]["error_code"] == 15
    stopped_at = time.time()
    status = run.wait_for(all_on("1.1.0"), timeout=30, what="the failed node back on 1.1.0")
    node = next(n for n in status["nodes"] if n["machine_id"] == failed[0])
    assert node["partition"] == "USR-B" and node["restarts"] >= 3  # 1.1.0, broken boot, back
    # the others keep asking and are held back
    wait_until(
        lambda: all(
            i["last_check"] > stopped_at + 2 for i in service_status(run)["instances"].values()
        ),
        timeout=20,
        what="every node to check in again after the stop",
    )
    grants = [
        e for e in history(run.run_dir)
        if e["type"] == "update" and e["event"] == "instance.granted" and e["version"] == "1.2.0"
    ]  # fmt: skip
    assert [g["machine_id"] for g in grants] == failed
    assert all(n["version"] == "1.1.0" for n in run.status()["nodes"])
    faults = [e for e in history(run.run_dir) if e["type"] == "fault"]
    assert any(f["fault"] == "release stable 1.2.0 broken-boot" for f in faults)
    assert json.loads(client.get(SEMAPHORE_KEY).node["value"])["holders"] == []
    locks = [e for e in history(run.run_dir) if e["type"] == "lock"]
    assert all(len(e["holders"]) <= 1 for e in locks)
    assert [e["nodes"] for e in locks if e["nodes"]][-1] == [names[failed[0]]]  # the broken one
