"""etcd over real processes: real etcdctl and python-etcd against the emulated cluster, and the
safety promises under kills and partitions."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cluster_harness import agreed_leader, leader_of
from proc_waits import wait_until

pytestmark = pytest.mark.cluster

ETCDCTL = shutil.which("etcdctl")


def has_leader(status):
    return leader_of(status) is not None


def url_of(status, name):
    return next(n for n in status["nodes"] if n["name"] == name)["client_url"]


def http(method, url, data=None, timeout=5.0):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null"), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null"), err.headers


@pytest.fixture
def etcd_cluster(cluster):
    cluster.wait_for(has_leader, timeout=30, what="an etcd leader")
    return cluster


def etcdctl(endpoint, *args, check=True):
    env = dict(os.environ, ETCDCTL_API="2")
    proc = subprocess.run(
        [ETCDCTL, "--endpoints", endpoint, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"etcdctl {' '.join(args)}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
        )
    return proc


@pytest.mark.skipif(ETCDCTL is None, reason="etcdctl not installed (Debian package etcd-client)")
def test_real_etcdctl_works_unchanged(etcd_cluster):
    status = etcd_cluster.status()
    ep = url_of(status, "core-02")
    # etcdctl syncs the member list and sends each command to a random member, so a plain get
    # after a write may reach a member that has not applied it yet (stale, as on real etcd):
    # the reads that must see the write before them ask for --quorum.
    assert etcdctl(ep, "set", "/a", "1").stdout == "1\n"
    assert etcdctl(ep, "get", "--quorum", "/a").stdout == "1\n"
    etcdctl(ep, "mkdir", "/d")
    listing = etcdctl(ep, "ls", "--quorum", "-r", "/").stdout.split()
    assert "/a" in listing and "/d" in listing
    etcdctl(ep, "rm", "/a")
    assert etcdctl(ep, "get", "--quorum", "/a", check=False).returncode != 0
    etcdctl(ep, "set", "/t", "x", "--ttl", "2")
    assert etcdctl(ep, "get", "--quorum", "/t").stdout == "x\n"
    etcdctl(ep, "mk", "/m", "1")
    second = etcdctl(ep, "mk", "/m", "1", check=False)
    assert second.returncode == 4 and "105: Key already exists" in second.stderr
    watcher = subprocess.Popen(
        [ETCDCTL, "--endpoints", ep, "watch", "/w"],
        env=dict(os.environ, ETCDCTL_API="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the watch is in place once a set wakes it: set until it does (no guess at a start-up time)
    wait_until(
        lambda: (
            (etcdctl(url_of(status, "core-03"), "set", "/w", "v"), watcher.poll())[1] is not None
        ),
        timeout=15,
        what="etcdctl watch to see a set",
    )
    out, _ = watcher.communicate(timeout=15)
    assert out == "v\n"
    health = etcdctl(ep, "cluster-health").stdout
    assert (
        sum(line.startswith("member ") and "is healthy" in line for line in health.splitlines())
        == 3
    )
    assert health.endswith("cluster is healthy\n")
    members = etcdctl(ep, "member", "list").stdout.splitlines()
    assert len(members) == 3 and sum("isLeader=true" in m for m in members) == 1
    gone = wait_until(
        lambda: (r := etcdctl(ep, "get", "/t", check=False)).returncode == 4 and r,
        timeout=15,
        what="the ttl=2 key to expire",
    )
    assert "100: Key not found" in gone.stderr


def test_python_etcd_client(etcd_cluster):
    etcd = pytest.importorskip("etcd")
    status = etcd_cluster.status()
    node = next(n for n in status["nodes"] if n["name"] == "core-01")
    client = etcd.Client(host=node["address"], port=2379)
    client.write("/py/a", "1")
    assert client.read("/py/a").value == "1"
    client.test_and_set("/py/a", "2", "1")
    assert client.read("/py/a").value == "2"
    with pytest.raises(ValueError):
        client.test_and_set("/py/a", "3", "1")
    client.write("/py/b", "x")
    names = sorted(child.key for child in client.read("/py", recursive=True).leaves)
    assert names == ["/py/a", "/py/b"]
    result = {}

    def wait():
        result["value"] = client.read("/py/w", wait=True, timeout=20).value

    t = threading.Thread(target=wait)
    t.start()
    writer = etcd.Client(host=node["address"], port=2379)
    # the wait is in place once a write wakes it: write until one does
    wait_until(
        lambda: (writer.write("/py/w", "woken"), t.join(0.2), not t.is_alive())[2],
        timeout=20,
        what="python-etcd's wait=True read to see a write",
    )
    assert result.get("value") == "woken"
    client.delete("/py/a")
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.read("/py/a")


def test_acknowledged_writes_survive_killing_the_leader(etcd_cluster):
    status = etcd_cluster.status()
    old = leader_of(status)
    urls = {n["name"]: n["client_url"] for n in status["nodes"]}
    acked: dict[str, str] = {}
    stop = threading.Event()

    def writer(name):
        i = 0
        while not stop.is_set():
            key = f"/load/{name}-{i}"
            try:
                code, _, _ = http(
                    "PUT", urls[name] + "/v2/keys" + key, {"value": str(i)}, timeout=3
                )
            except OSError:
                code = None
            if code in (200, 201):
                acked[key] = str(i)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in urls if n != old]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 20, timeout=20, what="writes acknowledged before the kill")
    killed = etcd_cluster.cli("fault", "kill", "leader").stdout
    assert old in killed  # the selector resolved to the leader at that moment
    new_status = etcd_cluster.wait_for(
        lambda s: leader_of(s) not in (None, old), timeout=20, what="a new leader"
    )
    before_new_leader = len(acked)
    wait_until(
        lambda: len(acked) >= before_new_leader + 20,
        timeout=20,
        what="writes acknowledged under the new leader",
    )
    stop.set()
    for t in threads:
        t.join()
    reader = url_of(new_status, leader_of(new_status))
    for key, value in acked.items():
        code, body, _ = http("GET", reader + "/v2/keys" + key + "?quorum=true")
        assert code == 200 and body["node"]["value"] == value, (key, code, body)


def test_a_partitioned_leader_stops_serving_and_the_logs_converge_after_healing(etcd_cluster):
    status = etcd_cluster.status()
    old = leader_of(status)
    others = [n["name"] for n in status["nodes"] if n["name"] != old]
    code, _, _ = http("PUT", url_of(status, old) + "/v2/keys/before", {"value": "1"})
    assert code in (200, 201)
    etcd_cluster.cli("fault", "partition", old, ",".join(others))
    etcd_cluster.wait_for(
        lambda s: leader_of(s) in others, timeout=20, what="a leader on the majority side"
    )
    code, body, _ = http(
        "PUT", url_of(status, old) + "/v2/keys/minority", {"value": "x"}, timeout=10
    )
    assert code >= 500, (code, body)
    code, body, _ = http("GET", url_of(status, old) + "/v2/keys/before?quorum=true", timeout=10)
    assert code >= 500, (code, body)
    code, _, _ = http("PUT", url_of(status, others[0]) + "/v2/keys/majority", {"value": "y"})
    assert code in (200, 201)
    etcd_cluster.cli("fault", "clear")

    def converged(s):
        commits = {n["commit_index"] for n in s["nodes"]}
        applied = {n["applied_index"] for n in s["nodes"]}
        return has_leader(s) and len(commits) == 1 and len(applied) == 1

    final = etcd_cluster.wait_for(converged, timeout=30, what="logs to converge")
    for node in final["nodes"]:
        code, body, _ = http("GET", node["client_url"] + "/v2/keys/majority")
        assert code == 200 and body["node"]["value"] == "y"
        code, _, _ = http("GET", node["client_url"] + "/v2/keys/minority")
        assert code == 404


def test_data_survives_stopping_and_restarting_every_node(etcd_cluster):
    status = etcd_cluster.status()
    url = url_of(status, "core-01")
    for i in range(30):
        assert http("PUT", f"{url}/v2/keys/keep/{i}", {"value": f"v{i}"})[0] in (200, 201)
    etcd_cluster.cli("fault", "stop", "all")
    etcd_cluster.cli("fault", "restart", "all")
    etcd_cluster.wait_for(agreed_leader, timeout=30, what="every node to know the new leader")
    for name in ("core-01", "core-02", "core-03"):
        code, body, _ = http(
            "GET", url_of(status, name) + "/v2/keys/keep?recursive=true&sorted=true&quorum=true"
        )
        assert code == 200
        assert sorted(n["value"] for n in body["node"]["nodes"]) == sorted(
            f"v{i}" for i in range(30)
        )


def test_garbage_and_malformed_requests_get_clear_errors_and_the_node_stays_up(etcd_cluster):
    status = etcd_cluster.status()
    node = next(n for n in status["nodes"] if n["name"] == "core-01")
    with socket.create_connection((node["address"], 2379), timeout=5) as s:
        s.sendall(os.urandom(512) + b"\r\n\r\n")
        reply = s.recv(200)
    assert reply.split(b" ", 2)[1] == b"400", reply
    code, body, _ = http("PUT", node["client_url"] + "/v2/keys/x", {"value": "1", "ttl": "abc"})
    assert code == 400 and body["errorCode"] == 202
    code, body, _ = http(
        "PUT", node["client_url"] + "/v2/keys/x", {"value": "1", "prevIndex": "zz"}
    )
    assert code == 400 and body["errorCode"] == 203
    big = "v" * (2 * 1024 * 1024)
    try:
        code, _, _ = http("PUT", node["client_url"] + "/v2/keys/big", {"value": big})
    except OSError:
        code = 413  # the server may close the connection while we are still sending
    assert code == 413
    again = etcd_cluster.node("core-01")
    assert again["state"] == "up" and again["pid"] == node["pid"]
    assert http("PUT", node["client_url"] + "/v2/keys/ok", {"value": "1"})[0] in (200, 201)


def test_a_non_member_runs_as_a_proxy_that_forwards_to_the_members(cluster_factory):
    run = cluster_factory(
        nodes=4, extra="overrides:\n  core-04: {cloud-config: {coreos: {etcd2: {proxy: 'on'}}}}\n"
    )
    run.up()
    status = run.wait_for(has_leader, timeout=30, what="an etcd leader")
    proxy = next(n for n in status["nodes"] if n["name"] == "core-04")
    assert proxy["role"] == "proxy"
    code, body, _ = http("PUT", proxy["client_url"] + "/v2/keys/via-proxy", {"value": "p"})
    assert code == 201 and body["node"]["value"] == "p"
    code, body, _ = http("GET", url_of(status, "core-01") + "/v2/keys/via-proxy?quorum=true")
    assert code == 200 and body["node"]["value"] == "p"
    code, body, _ = http("GET", proxy["client_url"] + "/v2/members")
    assert code == 200 and sorted(m["name"] for m in body["members"]) == [
        "core-01",
        "core-02",
        "core-03",
    ]


def test_stats_health_version_and_metrics_endpoints(etcd_cluster):
    status = etcd_cluster.status()
    leader = leader_of(status)
    url = url_of(status, leader)
    assert http("PUT", url + "/v2/keys/s", {"value": "1"})[0] == 201
    code, body, _ = http("GET", url + "/v2/stats/self")
    assert code == 200 and body["state"] == "StateLeader" and body["name"] == leader
    assert body["sendAppendRequestCnt"] >= 2 and body["recvAppendRequestCnt"] == 0
    follower = next(n["name"] for n in status["nodes"] if n["name"] != leader)
    f_url = url_of(status, follower)
    code, body, _ = http("GET", f_url + "/v2/stats/self")
    assert body["state"] == "StateFollower" and body["recvAppendRequestCnt"] >= 1
    assert body["sendAppendRequestCnt"] == 0

    def followers_measured():
        code, body, _ = http("GET", url + "/v2/stats/leader")
        assert code == 200 and len(body["followers"]) == 2
        stats = list(body["followers"].values())
        return body if all(f["counts"]["success"] >= 2 for f in stats) else None

    deadline = time.monotonic() + 10
    while (body := followers_measured()) is None:  # heartbeats go out every 100 ms
        assert time.monotonic() < deadline, "no heartbeat round trips measured"
        time.sleep(0.1)
    for f in body["followers"].values():
        lat = f["latency"]
        assert 0 < lat["minimum"] <= lat["average"] <= lat["maximum"] < 1000
        assert lat["standardDeviation"] >= 0 and lat["current"] > 0
    assert http("GET", f_url + "/v2/stats/leader")[0] == 403
    code, body, _ = http("GET", url + "/v2/stats/store")
    assert code == 200 and body["setsSuccess"] >= 1
    assert http("GET", url + "/health")[1] == {"health": "true"}
    assert "etcdserver" in http("GET", url + "/version")[1]
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert "etcd_server_has_leader 1.0" in text
    fsyncs = next(
        line
        for line in text.splitlines()
        if line.startswith("etcd_disk_wal_fsync_duration_seconds_count")
    )
    assert float(fsyncs.split()[1]) >= 1
    term = next(line for line in text.splitlines() if line.startswith("etcd_server_term "))
    assert float(term.split()[1]) >= 1


def metric(url, name):
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def put_together(url: str, first: int, count: int) -> list[int]:
    """``count`` PUTs sent back to back on connections opened beforehand, so that they reach
    the leader together; their status codes."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    conns = [socket.create_connection((host, port), timeout=10) for _ in range(count)]
    try:
        for i, conn in enumerate(conns):
            body = f"value={first + i}".encode()
            conn.sendall(
                f"PUT /v2/keys/batch/{first + i} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        return [int(conn.makefile("rb").readline().split()[1]) for conn in conns]
    finally:
        for conn in conns:
            conn.close()


def test_concurrent_writes_are_batched_fsynced_aside_and_reach_every_member(etcd_cluster):
    """Writes arriving together make one batch; the leader writes and fsyncs a batch on its WAL
    thread while its loop takes in the acks (the member's persist_aside port)."""
    status = etcd_cluster.status()
    url = url_of(status, leader_of(status))
    codes: list[int] = []
    written = 0
    for _ in range(5):  # 32 sent together make a batch; a few rounds in case one is split up
        codes += put_together(url, written, 32)
        written += 32
        if metric(url, "coreemu_wal_writes_aside_total") >= 1:
            break
    assert codes == [201] * written
    assert metric(url, "coreemu_wal_writes_aside_total") >= 1
    for node in status["nodes"]:

        def has_all(node=node):
            code, body, _ = http("GET", node["client_url"] + "/v2/keys/batch?recursive=true")
            return code == 200 and len(body["node"]["nodes"]) == written

        wait_until(has_all, timeout=10, what=f"every write on {node['name']}")


def test_writes_through_a_follower_apply_once_when_every_frame_is_duplicated(etcd_cluster):
    """A follower forwards its clients' writes to the leader in a Raft Propose; with the network
    sending every frame twice, each write must still apply once (not two in-order keys)."""
    status = etcd_cluster.status()
    leader = leader_of(status)
    follower = next(n for n in status["nodes"] if n["name"] != leader)
    etcd_cluster.cli("fault", "duplicate", "100%")
    for i in range(20):
        code, _, _ = http("POST", follower["client_url"] + "/v2/keys/queue", {"value": str(i)})
        assert code == 201
    etcd_cluster.cli("fault", "clear")
    for node in status["nodes"]:

        def queued(node=node):
            code, body, _ = http("GET", node["client_url"] + "/v2/keys/queue?sorted=true")
            return [n["value"] for n in body["node"]["nodes"]] if code == 200 else []

        wait_until(lambda: len(queued()) >= 20, timeout=10, what=f"the writes on {node['name']}")
        assert queued() == [str(i) for i in range(20)]
    # the leader saw each forwarded write twice and says how many copies it dropped
    assert metric(url_of(status, leader), "coreemu_raft_duplicate_proposals_total") >= 20
