"""Clock faults on a real cluster: a racing follower cannot disturb a healthy leader (pre-vote),
and a skewed leader expires TTL keys early, as etcd's does, and stamps its log with its own time."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cluster_harness import leader_of, log_records, node

pytestmark = pytest.mark.cluster

SKEW_S, TTL_S = 35, 40


def http(method: str, url: str, data: dict | None = None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def roles_logged(run_dir: Path, name: str) -> list[str]:
    return [
        e["fields"]["role"]
        for e in log_records(run_dir, name)
        if e["event"] == "raft.leader_changed"
    ]


def test_clock_faults_racing_ticks_and_a_skewed_leader(cluster):
    status = cluster.wait_for(leader_of, timeout=30, what="an etcd leader")
    leader = leader_of(status)
    term = node(status, leader)["term"]
    fast, true = sorted(n["name"] for n in status["nodes"] if n["name"] != leader)
    run_dir = cluster.run_dir

    # 1. a follower whose ticks race (20x, beyond the 3x, so that its election timer
    #    really fires between the leader's heartbeats) campaigns, but only with pre-votes
    cluster.cli("fault", "clock-rate", fast, "20x")
    deadline = time.monotonic() + 20
    while roles_logged(run_dir, fast).count("pre-candidate") < 3:
        assert time.monotonic() < deadline, f"{fast} never timed out: {roles_logged(run_dir, fast)}"
        time.sleep(0.2)
    status = cluster.status()
    assert [(n["name"], n["term"]) for n in status["nodes"]] == [
        (n["name"], term) for n in status["nodes"]
    ], "a racing follower bumped the term"
    assert leader_of(status) == leader
    assert "candidate" not in roles_logged(run_dir, fast)  # never past the pre-vote
    cluster.cli("fault", "clear")

    # 2. the leader's wall clock runs 35 s ahead; a key with ttl=40 set through a true follower
    cluster.cli("fault", "clock-skew", leader, f"+{SKEW_S}s")
    cluster.wait_for(
        lambda s: node(s, leader)["node_faults"]["clock"].get("offset_s") == SKEW_S,
        what="the skew installed",
    )
    true_url = node(status, true)["client_url"]
    leader_url = node(status, leader)["client_url"]
    code, body = http("PUT", f"{true_url}/v2/keys/lease", {"value": "x", "ttl": TTL_S})
    assert code == 201 and body["node"]["ttl"] == TTL_S
    # stamped by the member that took the request, with its (true) clock
    stamped = datetime.strptime(body["node"]["expiration"][:19], "%Y-%m-%dT%H:%M:%S")
    expiration = stamped.replace(tzinfo=timezone.utc).timestamp()
    assert abs(expiration - (time.time() + TTL_S)) < 5
    # each member shows the time left by its own clock
    _, seen_by_leader = http("GET", f"{leader_url}/v2/keys/lease")
    assert seen_by_leader["node"]["ttl"] <= TTL_S - SKEW_S + 1
    # expiry is driven by the leader's clock: the key goes about 35 s before its expiration
    deadline = time.monotonic() + 20
    while http("GET", f"{true_url}/v2/keys/lease")[0] != 404:
        assert time.monotonic() < deadline, "the key never expired"
        time.sleep(0.2)
    assert time.time() < expiration - (SKEW_S - 5)

    # 3. the leader's log is stamped with its skewed clock; mono stays the machine's own
    records = log_records(run_dir, leader)
    ready = next(e for e in records if e["event"] == "node.ready")
    installed = [
        e
        for e in records
        if e["event"] == "faults.node_installed" and e["fields"]["clock"].get("offset_s") == SKEW_S
    ][-1]
    drift = (installed["ts"] - installed["mono"]) - (ready["ts"] - ready["mono"])
    assert abs(drift - SKEW_S) < 1
