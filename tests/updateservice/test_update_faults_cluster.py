"""Update faults on a real cluster: bad payloads are refused, the service goes down and comes back,
and the reboot strategies off / reboot / etcd-lock each do what CoreOS's do."""

from __future__ import annotations

import json

import pytest
from proc_waits import wait_until
from rollout_config import stable_rollout

from actors.locksmith.semaphore import SEMAPHORE_KEY
from emulator.etcdctl_client import V2Client

pytestmark = pytest.mark.cluster

# core-03 keeps etcd-lock
CONFIG = stable_rollout({"core-01": "off", "core-02": "reboot"}, safe_mode=False)
IDLE = "UPDATE_STATUS_IDLE"
NEED_REBOOT = "UPDATE_STATUS_UPDATED_NEED_REBOOT"


def nodes(status) -> dict[str, dict]:
    return {n["name"]: n for n in status["nodes"]}


def settled(status) -> bool:
    return sum(n.get("role") == "leader" for n in status["nodes"]) == 1 and all(
        n["state"] == "up" and n.get("update_status") == IDLE for n in status["nodes"]
    )


def service_status(run) -> dict:
    return json.loads(run.cli("release", "status", "--json").stdout)


def failed_with(run, version: str, code: int) -> bool:
    instances = service_status(run)["instances"].values()
    return len(instances) == 3 and all(
        i["failed_version"] == version and i["error_code"] == code for i in instances
    )


def test_bad_payloads_service_outage_and_the_three_strategies(cluster_factory):
    run = cluster_factory(3, CONFIG)
    run.up()
    status = run.wait_for(settled, timeout=30, what="the cluster settled")
    mids = {n["name"]: n["machine_id"] for n in status["nodes"]}

    # a release signed with another key, then one whose bytes do not match its hash: every node
    # refuses it before touching its passive slot, reports the error and stays up on 1.0.0
    run.cli("release", "publish", "--channel", "stable", "--version", "1.1.0", "--bad-signature")
    wait_until(lambda: failed_with(run, "1.1.0", 12), 30, "signature errors from every node")
    run.cli("release", "publish", "--channel", "stable", "--version", "1.1.1", "--corrupt")
    wait_until(lambda: failed_with(run, "1.1.1", 10), 30, "hash errors from every node")
    status = run.wait_for(settled, what="every node back to idle")
    for n in status["nodes"]:
        assert (n["version"], n["partition"], n["restarts"]) == ("1.0.0", "USR-A", 0)

    # the service goes down: publishing fails clearly, nodes carry on; back up, it kept its state
    run.cli("fault", "update-service", "down")
    assert run.status()["update_service"]["state"] == "down"
    refused = run.cli(
        "release", "publish", "--channel", "stable", "--version", "1.2.0", check=False
    )
    assert refused.returncode == 1 and "does not answer" in refused.stderr
    run.cli("fault", "update-service", "up")
    snap = service_status(run)
    assert snap["channel_versions"]["stable"] == "1.1.1" and len(snap["instances"]) == 3
    kinds = [json.loads(line) for line in (run.run_dir / "history.jsonl").read_text().splitlines()]
    faults = [e["fault"] for e in kinds if e["type"] == "fault" and e["phase"] == "start"]
    assert "update-service down" in faults and "release stable 1.1.0 bad-signature" in faults

    # a good release: off waits in NEED_REBOOT, reboot goes without the lock, etcd-lock takes it
    run.cli("release", "publish", "--channel", "stable", "--version", "1.2.0")
    status = run.wait_for(
        lambda s: (
            nodes(s)["core-02"].get("version") == "1.2.0"
            and nodes(s)["core-03"].get("version") == "1.2.0"
            and nodes(s)["core-01"].get("update_status") == NEED_REBOOT
            and all(n.get("lock_holder") is False for n in s["nodes"])
        ),
        timeout=60,
        what="core-02 and core-03 on 1.2.0, core-01 waiting",
    )
    off = nodes(status)["core-01"]
    assert (off["version"], off["restarts"], off["new_version"]) == ("1.0.0", 0, "1.2.0")
    assert off["locksmith"]["phase"] == "need-reboot (strategy off)"
    client = V2Client([n["client_url"] for n in status["nodes"]])
    takers = set()
    last = int(client.get(SEMAPHORE_KEY, quorum=True).node["modifiedIndex"])
    index = 1
    while index <= last:
        resp = client.wait(SEMAPHORE_KEY, index, recursive=False)
        takers.update(json.loads(resp.node["value"])["holders"] or [])
        index = int(resp.node["modifiedIndex"]) + 1
    assert takers == {mids["core-03"]}  # the reboot strategy never touched the lock
