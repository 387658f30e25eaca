"""locksmithctl and locksmithd against a real cluster: the semaphore as locksmith's tools see it."""

from __future__ import annotations

import json
import time

import pytest
from proc_waits import wait_until

pytestmark = pytest.mark.cluster

KEY = "/coreos.com/updateengine/rebootlock/semaphore"
CONFIG = """cloud-config: |
  #cloud-config
  coreos:
    update:
      reboot-strategy: etcd-lock
"""


def settled(status):
    """An etcd leader, and every locksmithd past its startup release (else it frees our locks)."""
    return sum(n.get("role") == "leader" for n in status["nodes"]) == 1 and all(
        n["state"] == "up" and (n.get("locksmith") or {}).get("phase") == "idle"
        for n in status["nodes"]
    )


def stored(client) -> dict:
    """The semaphore by a quorum read; retried over a leader change (a killed node may lead)."""
    import etcd

    deadline = time.monotonic() + 15
    while True:
        try:
            return json.loads(client.read(KEY, quorum=True).value)
        except etcd.EtcdException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_locksmithctl_reads_and_changes_locksmiths_semaphore(cluster_factory):
    etcd = pytest.importorskip("etcd")
    run = cluster_factory(3, CONFIG)
    run.up()
    status = run.wait_for(settled, what="etcd and locksmithd settled")
    ids = {n["name"]: n["machine_id"] for n in status["nodes"]}
    node = status["nodes"][0]
    client = etcd.Client(host=node["address"], port=2379)

    out = run.cli("locksmithctl", "status").stdout
    assert out == "Available: 1\nMax: 1\n"
    assert client.read(KEY).value == '{"semaphore":1,"max":1,"holders":null}'

    run.cli("locksmithctl", "lock", "core-02")
    assert client.read(KEY).value == f'{{"semaphore":0,"max":1,"holders":["{ids["core-02"]}"]}}'
    out = run.cli("locksmithctl", "status").stdout
    assert out == f"Available: 0\nMax: 1\n\nMACHINE ID\n{ids['core-02']}\n"
    run.wait_for(lambda s: run_node(s, "core-02")["lock_holder"], what="core-02 lock_holder")

    full = run.cli("locksmithctl", "lock", "core-01", check=False)
    assert full.returncode == 1 and full.stderr == "Error locking: semaphore is at 0\n"
    again = run.cli("locksmithctl", "lock", ids["core-02"], check=False)
    assert again.returncode == 1  # the semaphore is full before "holder exists" is checked

    out = run.cli("locksmithctl", "set-max", "2").stdout
    assert out == "Old-Max: 1\nMax: 2\n"
    run.cli("locksmithctl", "lock", "core-01")
    sem = stored(client)
    assert sem["semaphore"] == 0 and sem["max"] == 2
    assert sem["holders"] == sorted([ids["core-01"], ids["core-02"]])

    run.cli("locksmithctl", "unlock", ids["core-02"])
    gone = run.cli("locksmithctl", "unlock", "core-02", check=False)
    assert gone.returncode == 1 and gone.stderr == "Error unlocking: holder does not exist\n"
    bad = run.cli("locksmithctl", "set-max", "two", check=False)
    assert bad.returncode == 1 and "Invalid maximum value: two" in bad.stderr
    assert stored(client) == {"semaphore": 1, "max": 2, "holders": [ids["core-01"]]}

    # another client's write in between is seen: locksmith's tools and ours share one document
    index = client.read(KEY).modifiedIndex
    client.write(KEY, '{"semaphore":2,"max":2,"holders":[]}', prevIndex=index)
    assert run.cli("locksmithctl", "status").stdout == "Available: 2\nMax: 2\n"

    group = run.cli("locksmithctl", "--group", "web servers", "status").stdout
    assert group == "Available: 1\nMax: 1\n"
    groups = client.read("/coreos.com/updateengine/rebootlock/groups/web+servers/semaphore")
    assert json.loads(groups.value) == {"semaphore": 1, "max": 1, "holders": None}


def run_node(status, name):
    return next(n for n in status["nodes"] if n["name"] == name)


def test_a_rebooted_machine_releases_its_own_lock_once_healthy(cluster_factory):
    etcd = pytest.importorskip("etcd")
    run = cluster_factory(3, CONFIG)
    run.up()
    status = run.wait_for(settled, what="etcd and locksmithd settled")
    mid = run_node(status, "core-03")["machine_id"]
    client = etcd.Client(host=run_node(status, "core-01")["address"], port=2379)
    run.cli("locksmithctl", "lock", "core-03")
    run.wait_for(lambda s: run_node(s, "core-03")["lock_holder"], what="core-03 holds the lock")

    run.cli("fault", "kill", "core-03")
    # the lock stays held while its machine is down
    run.wait_for(lambda s: run_node(s, "core-03")["state"] == "down", what="core-03 down")
    assert stored(client)["holders"] == [mid]
    run.cli("fault", "restart", "core-03")
    wait_until(lambda: stored(client)["holders"] == [], what="core-03 to release its lock")
    assert stored(client)["semaphore"] == 1
    events = [
        json.loads(line)
        for line in (run.run_dir / "nodes" / "core-03" / "node.log").read_text().splitlines()
    ]
    assert any(e["event"] == "locksmith.unlocked" for e in events)
