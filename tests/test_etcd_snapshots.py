"""Snapshots over real processes: compaction, recovery from snapshot + WAL, InstallSnapshot."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cluster_harness import agreed_leader, leader_of

pytestmark = pytest.mark.cluster

SMALL_SNAPSHOTS = """cloud-config:
  coreos:
    etcd2:
      snapshot-count: 20
"""


def put(url: str, key: str, value: str) -> int:
    req = urllib.request.Request(
        f"{url}/v2/keys{key}",
        data=urllib.parse.urlencode({"value": value}).encode(),
        method="PUT",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def get_dir(url: str, key: str) -> dict:
    try:
        with urllib.request.urlopen(
            f"{url}/v2/keys{key}?recursive=true&quorum=true", timeout=10
        ) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # the answer's body says which error it was
        raise AssertionError(f"GET {url}{key}: {exc.code} {exc.read()!r}") from exc
    return {n["key"]: n["value"] for n in body["node"].get("nodes", [])}


def snapshot_files(run_dir, node):
    return sorted((run_dir / "nodes" / node / "member" / "snap").glob("*.snap"))


def test_a_lagging_follower_catches_up_by_snapshot_and_all_recover_from_snapshot_plus_wal(
    cluster_factory,
):
    run = cluster_factory(extra=SMALL_SNAPSHOTS)
    run.up()
    status = run.wait_for(lambda s: leader_of(s) is not None, timeout=30, what="a leader")
    leader = leader_of(status)
    follower = next(n["name"] for n in status["nodes"] if n["name"] != leader)
    url = next(n["client_url"] for n in status["nodes"] if n["name"] == leader)

    run.cli("fault", "kill", follower)
    expected = {f"/snap/{i:03d}": f"v{i}" for i in range(120)}
    for key, value in expected.items():
        assert put(url, key, value) in (200, 201)
    assert snapshot_files(run.run_dir, leader), "the leader should have taken snapshots"
    taken = [
        json.loads(line)
        for line in run.cli("logs", "--node", leader, "--json").stdout.splitlines()
        if '"member.snapshot"' in line
    ]
    assert taken and all(e["fields"]["took_ms"] >= 0 for e in taken), (
        "each snapshot says how long it took"
    )

    run.cli("fault", "restart", follower)
    caught_up = run.wait_for(
        lambda s: (
            len({n.get("applied_index") for n in s["nodes"]}) == 1 and leader_of(s) is not None
        ),
        timeout=30,
        what="the follower to catch up",
    )
    follower_url = next(n["client_url"] for n in caught_up["nodes"] if n["name"] == follower)
    logs = run.cli("logs", "--node", follower, "--json").stdout
    assert (
        "member.snapshot_installed" in logs
    )  # it was brought up to date by InstallSnapshot, not by replaying the log
    assert get_dir(follower_url, "/snap") == expected

    run.cli("fault", "stop", "all")
    run.cli("fault", "restart", "all")
    again = run.wait_for(
        lambda s: agreed_leader(s) is not None, timeout=30, what="every node to know the leader"
    )
    for node in again["nodes"]:
        assert snapshot_files(run.run_dir, node["name"])
        assert get_dir(node["client_url"], "/snap") == expected
