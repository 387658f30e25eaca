"""Disk faults on a real cluster: a full disk, a power cut that loses unsynced writes, a flipped
byte in the WAL — the cluster keeps serving, no acknowledged write is lost, a corrupt WAL is refused."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cluster_harness import history, leader_of, log_records, node

pytestmark = pytest.mark.cluster


def http(method: str, url: str, data: dict | None = None, timeout: float = 5.0):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")
    except OSError:
        return None, None  # refused, reset or timed out: not acknowledged


class Writer:
    """Writes distinct keys through the leader and keeps what was acknowledged."""

    def __init__(self, url: str):
        self.url = url
        self.acked: dict[str, str] = {}
        self.failed = 0
        self.seq = 0

    def write(self) -> bool:
        self.seq += 1
        key, value = f"k{self.seq}", f"v{self.seq}"
        code, _ = http("PUT", f"{self.url}/v2/keys/{key}", {"value": value})
        if code in (200, 201):
            self.acked[key] = value
            return True
        self.failed += 1
        return False


def caught_up_and_holds(cluster, name: str, acked: dict[str, str]) -> None:
    """``name`` is up, has applied what the leader committed, and serves every acked value."""
    leader = leader_of(cluster.status())
    target = node(cluster.status(), leader)["commit_index"]
    cluster.wait_for(
        lambda s: (
            node(s, name)["state"] == "up" and node(s, name).get("applied_index", 0) >= target
        ),
        timeout=30,
        what=f"{name} to catch up to index {target}",
    )
    url = node(cluster.status(), name)["client_url"]
    missing = {}
    for key, value in acked.items():
        code, body = http("GET", f"{url}/v2/keys/{key}")
        if code != 200 or body["node"]["value"] != value:
            missing[key] = (code, body)
    assert not missing, f"{name} lost acknowledged writes: {missing}"


def test_disk_faults_keep_the_cluster_serving_and_lose_no_acknowledged_write(cluster):
    status = cluster.wait_for(leader_of, timeout=30, what="an etcd leader")
    leader = leader_of(status)
    f1, f2 = sorted(n["name"] for n in status["nodes"] if n["name"] != leader)
    writer = Writer(node(status, leader)["client_url"])
    run_dir = cluster.run_dir
    assert all(writer.write() for _ in range(10))

    # 1. disk-full on a follower: its member stops (the node exits, as etcd does); the others serve
    cluster.cli("fault", "disk-full", f1)
    deadline = time.monotonic() + 20
    while node(cluster.status(), f1)["state"] != "down":
        assert writer.write(), "a write failed while only a follower's disk was full"
        assert time.monotonic() < deadline, f"{f1} kept running on a full disk"
    assert all(writer.write() for _ in range(10))
    events = log_records(run_dir, f1)
    crashed = [e for e in events if e["event"] == "actor.crashed" and e["actor"] == "raft"]
    assert crashed and "No space left on device" in crashed[0]["fields"]["error"]
    assert any(e["event"] == "node.etcd_failed" for e in events)

    # ... and after `fault clear` (which starts it again) it catches up with everything
    cluster.cli("fault", "clear")
    caught_up_and_holds(cluster, f1, writer.acked)

    # 2. a power cut on a follower with a slow disk, under writes: restart cleanly, nothing lost
    cluster.cli("fault", "disk-slow", f2, "30ms")  # pushed before the command returns
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.wait(0.005):  # a steady load, leaving CPU for the supervisor
            writer.write()

    background = threading.Thread(target=keep_writing)
    background.start()
    try:
        cluster.cli("fault", "kill", f2, "--lose-unsynced")
    finally:
        stop.set()
        background.join()
    [cut] = [h for h in history(run_dir) if h.get("event") == "lost_unsynced"]
    assert cut["node"] == f2 and all(f["cut_at"] >= f["synced"] for f in cut["files"])
    cluster.cli("fault", "clear")
    caught_up_and_holds(cluster, f2, writer.acked)
    assert not [e for e in log_records(run_dir, f2) if e["event"] == "wal.refused"]
    caught_up_and_holds(cluster, leader, writer.acked)

    # 3. a flipped byte in a follower's synced WAL: on restart it refuses, naming file and offset
    cluster.cli("fault", "kill", f1)
    cluster.cli("fault", "disk-corrupt", f1)
    [hit] = [h for h in history(run_dir) if h.get("event") == "disk_corrupted"]
    cluster.cli("fault", "restart", f1)
    deadline = time.monotonic() + 20
    while not (refused := [e for e in log_records(run_dir, f1) if e["event"] == "wal.refused"]):
        assert time.monotonic() < deadline, f"{f1} did not refuse its corrupt WAL"
        time.sleep(0.2)
    error = refused[-1]["fields"]["error"]
    assert hit["file"].split("/")[-1] in error
    offset = int(re.search(r"at offset (\d+)", error).group(1))
    assert offset <= hit["offset"]  # the bad record starts at or before the flipped byte
    assert refused[-1]["level"] == "error"
    assert node(cluster.status(), f1)["state"] != "up"
    assert all(writer.write() for _ in range(5))  # the other two still serve
    cluster.cli("fault", "kill", f1)  # it would give up on its own after etcd's start timeout
