"""Discovery bootstrap and runtime membership changes: the discovery service in-process and
against a real etcd, then whole clusters driven with run.py, curl-like HTTP and real etcdctl."""

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
from cluster_harness import leader_of, unique_subnet
from proc_waits import wait_until

from emulator.discovery import DiscoveryJoin, DiscoveryService, DiscoveryStopped
from emulator.discovery_registry import BootstrapRole
from emulator.etcdctl_client import ClusterError, EtcdError, V2Client, http_request

JSON = "application/json"

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
DISCOVERY_5_OF_3 = (
    "cloud-config: |\n  #cloud-config\n  coreos:\n    etcd2:\n      discovery: auto?size=3\n"
)


def http(method, url, data=None, timeout=5.0, json_body=None, content_type=None):
    body, ctype = None, content_type
    if json_body is not None:
        body, ctype = json.dumps(json_body).encode(), ctype or "application/json"
    elif data is not None:
        body = urllib.parse.urlencode(data).encode()
        ctype = ctype or "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"null")
        except ValueError:
            return err.code, raw.decode()


def etcdctl(endpoint, *args, check=True):
    proc = subprocess.run(
        [ETCDCTL, "--endpoints", endpoint, *args],
        env=dict(os.environ, ETCDCTL_API="2"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"etcdctl {' '.join(args)}: {proc.returncode}\n{proc.stderr}")
    return proc


def port_open(address, port=2379):
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


# --- the service and the join, in this process -------------------------------------------------
def test_five_joins_through_the_http_service_pick_three_members_and_two_proxies(tmp_path):
    service = DiscoveryService(tmp_path, seed=3)
    try:
        url = f"{service.serve()}/{service.shared.new_token(3)}"
        results, errors = {}, []

        def join(i):
            try:
                j = DiscoveryJoin(url, f"n{i}", (f"http://127.0.0.1:{3000 + i}",), f"id{i}", _quiet)
                results[f"n{i}"] = j.run(threading.Event())
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=join, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert not errors and len(results) == 5
        members = sorted(n for n, b in results.items() if b.role is BootstrapRole.MEMBER)
        assert len(members) == 3
        assert {tuple(p.name for p in b.members) for b in results.values()} == {
            tuple(p.name for p in next(iter(results.values())).members)
        }
        assert sorted(p.name for p in results["n0"].members) == members
        on_disk = json.loads((tmp_path / "discovery.json").read_text())
        regs = on_disk["tokens"][url.rsplit("/", 1)[1]]["registrations"]
        assert [r["value"].split("=")[0] for r in regs][:3] == [
            p.name for p in results["n0"].members
        ]
        with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/new?size=5", timeout=5) as resp:
            minted = resp.read().decode()
        assert minted.startswith(url.rsplit("/", 1)[0] + "/")
        code, size = http("GET", minted + "/_config/size")
        assert code == 200 and size["node"]["value"] == "5"
    finally:
        service.stop()


@pytest.fixture
def service():
    """A discovery service with no run dir, stopped after the test."""
    svc = DiscoveryService(None, seed=1)
    yield svc
    svc.stop()


def test_a_join_waiting_for_more_members_stops_when_asked(service):
    url = f"{service.serve()}/{service.shared.new_token(3)}"
    stop = threading.Event()
    join = DiscoveryJoin(url, "lonely", ("http://127.0.0.1:3999",), "id-lonely", _quiet)
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(DiscoveryStopped):
        join.run(stop)
    assert join.registered and time.monotonic() - started < 5


def test_the_service_answers_as_etcd_over_http_and_drops_a_watch_whose_client_left(service):
    base = service.serve()
    token = service.shared.new_token(1)
    client = V2Client([base], keys_prefix="")  # the URL's path is the key, as etcd's discovery
    created = client.set(f"/{token}/m1", "n1=http://127.0.0.1:1", prev_exist=False)
    assert created.action == "create" and created.index == created.node["createdIndex"] == 2
    with pytest.raises(EtcdError) as taken:
        client.set(f"/{token}/m1", "other", prev_exist=False)
    assert (taken.value.code, taken.value.cause, taken.value.index) == (
        105, f"/_etcd/registry/{token}/m1", 2,
    )  # fmt: skip
    reply = http_request(f"{base}/v2/keys/_etcd/registry/{token}/m1")
    assert reply.status == 200 and reply.headers["X-Etcd-Index"] == "2"
    assert reply.headers["X-Raft-Term"] == "1" and reply.headers["Content-Type"] == JSON
    with pytest.raises(ClusterError) as quiet:
        V2Client([base], timeout=0.3, keys_prefix="").wait(f"/{token}", 3, recursive=True)
    assert quiet.value.timed_out
    registry = service.shared.registry
    wait_until(lambda: registry.store.hub.count == 0, 5, "the abandoned watch to be dropped")


def test_a_join_through_the_self_hosted_url_form_decides(service):
    url = f"{service.serve()}/v2/keys/_etcd/registry/{service.shared.new_token(1)}"
    join = DiscoveryJoin(url, "solo", ("http://127.0.0.1:3998",), "id-solo", _quiet)
    decided = join.run(threading.Event())
    assert decided.role is BootstrapRole.MEMBER and decided.members[0].name == "solo"
    assert decided.discovery_url == url


def _quiet(*args, **kwargs):
    pass


@pytest.mark.skipif(ETCD is None, reason="real etcd not installed")
def test_real_etcd_bootstraps_from_the_discovery_service(tmp_path):
    """The service speaks etcd's own discovery protocol: real etcd 3.4 forms a 3-member cluster
    from it, and a fourth finds the cluster full and falls back to proxy."""
    service = DiscoveryService(tmp_path, seed=5)
    base = unique_subnet().rsplit(".", 1)[0]
    procs = []
    try:
        url = f"{service.serve()}/{service.shared.new_token(3)}"
        for i in range(1, 5):
            ip = f"{base}.{i}"
            log = open(tmp_path / f"etcd{i}.log", "w")
            procs.append(
                subprocess.Popen(
                    [
                        ETCD,
                        "--name",
                        f"e{i}",
                        "--data-dir",
                        str(tmp_path / f"e{i}"),
                        "--listen-peer-urls",
                        f"http://{ip}:2380",
                        "--initial-advertise-peer-urls",
                        f"http://{ip}:2380",
                        "--listen-client-urls",
                        f"http://{ip}:2379",
                        "--advertise-client-urls",
                        f"http://{ip}:2379",
                        "--discovery",
                        url,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
            if i == 3:  # the fourth starts once the first three registered
                wait_until(
                    lambda: (
                        len(
                            service.shared.snapshot()["tokens"][url.rsplit("/", 1)[1]][
                                "registrations"
                            ]
                        )
                        == 3
                    ),  # fmt: skip
                    20,
                    "three registrations",
                )
        wait_until(
            lambda: "falling back to proxy" in (tmp_path / "etcd4.log").read_text(),
            20,
            "the fourth etcd to become a proxy",
        )
        listing = subprocess.run(
            [ETCDCTL, "--endpoints", f"http://{base}.1:2379", "member", "list"],
            env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        names = sorted(line.split(", ")[2] for line in listing.stdout.splitlines())
        assert names == ["e1", "e2", "e3"], listing.stdout + listing.stderr
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(10)
        service.stop()


# --- whole clusters ----------------------------------------------------------------------------
@pytest.mark.cluster
def test_discovery_makes_three_members_and_two_proxies_and_writes_via_a_proxy_work(
    cluster_factory,
):
    run = cluster_factory(nodes=5, extra=DISCOVERY_5_OF_3 + "      proxy-refresh-interval: 300\n")
    run.up()
    status = run.wait_for(leader_of, timeout=30, what="an etcd leader")
    roles = {n["name"]: n["role"] for n in status["nodes"]}
    members = sorted(n for n, r in roles.items() if r != "proxy")
    proxies = sorted(n for n, r in roles.items() if r == "proxy")
    assert len(members) == 3 and len(proxies) == 2, roles
    registry = json.loads((run.run_dir / "discovery.json").read_text())
    (token,) = registry["tokens"].values()
    assert token["size"] == 3
    first3 = sorted(r["value"].split("=")[0] for r in token["registrations"][:3])
    assert first3 == members
    urls = {n["name"]: n["client_url"] for n in status["nodes"]}
    code, body = http("GET", urls[members[0]] + "/v2/members")
    assert code == 200 and sorted(m["name"] for m in body["members"]) == members
    for proxy in proxies:
        code, body = http("PUT", urls[proxy] + f"/v2/keys/via/{proxy}", {"value": proxy})
        assert code == 201 and body["node"]["value"] == proxy
        code, body = http("GET", urls[members[1]] + f"/v2/keys/via/{proxy}?quorum=true")
        assert code == 200 and body["node"]["value"] == proxy
    # a proxy cannot be made a member: coreemu's node set and roles are fixed for the run
    proxy_peer = urls[proxies[0]].replace(":2379", ":2380")
    code, body = http(
        "POST", urls[members[0]] + "/v2/members", json_body={"peerURLs": [proxy_peer]}
    )
    assert code == 400 and "runs as an etcd proxy" in body["message"]

    # proxies re-read the member list (proxy-refresh-interval): a removed member drops out of
    # it, and comes back when added back
    def proxies_see(count):
        return lambda s: all(
            len(n.get("proxy", {}).get("members", ())) == count
            for n in s["nodes"]
            if n["name"] in proxies
        )

    assert proxies_see(3)(run.status())
    leader = leader_of(run.status())
    gone = next(m for m in members[::-1] if m != leader)  # removing the leader is another test
    _, listing = http("GET", urls[members[0]] + "/v2/members")
    gone_id = next(m["id"] for m in listing["members"] if m["name"] == gone)
    assert http("DELETE", urls[members[0]] + f"/v2/members/{gone_id}")[0] == 204
    status = run.wait_for(proxies_see(2), timeout=20, what="the proxies to drop the member")
    assert all(
        urls[gone] not in n["proxy"]["members"] for n in status["nodes"] if n["name"] in proxies
    )
    code, body = http("PUT", urls[proxies[0]] + "/v2/keys/after-remove", {"value": "x"})
    assert code == 201, body
    gone_peer = urls[gone].replace(":2379", ":2380")
    code, _ = http("POST", urls[members[0]] + "/v2/members", json_body={"peerURLs": [gone_peer]})
    assert code == 201
    run.wait_for(proxies_see(3), timeout=20, what="the proxies to see the member again")


@pytest.mark.cluster
@pytest.mark.skipif(ETCDCTL is None, reason="etcdctl not installed")
def test_a_member_removed_with_etcdctl_leaves_two_working_and_catches_up_when_added_back(
    cluster_factory,
):
    run = cluster_factory(nodes=3)
    run.up()
    status = run.wait_for(leader_of, timeout=30, what="an etcd leader")
    leader = leader_of(status)
    nodes = {n["name"]: n for n in status["nodes"]}
    victim = next(n for n in sorted(nodes) if n != leader)
    stay = [n for n in nodes if n != victim]
    ep = nodes[leader]["client_url"]
    _, listing = http("GET", ep + "/v2/members")
    ids = {m["name"]: m["id"] for m in listing["members"]}
    assert http("PUT", ep + "/v2/keys/before", {"value": "b"})[0] == 201

    out = etcdctl(ep, "member", "remove", ids[victim]).stdout
    assert out == f"Removed member {ids[victim]} from cluster\n"
    _, listing = http("GET", ep + "/v2/members")
    assert sorted(m["name"] for m in listing["members"]) == sorted(stay)
    wait_until(lambda: not port_open(nodes[victim]["address"]), 10, "the removed port to close")
    assert http("DELETE", ep + f"/v2/members/{ids[victim]}")[0] == 410
    for i in range(20):
        target = nodes[stay[i % 2]]["client_url"]
        assert http("PUT", f"{target}/v2/keys/while/{i}", {"value": str(i)})[0] == 201

    peer_url = f"http://{nodes[victim]['address']}:2380"
    code, body = http("POST", ep + "/v2/members", json_body={"peerURLs": [peer_url]})
    assert code == 201, body
    assert body == {"id": ids[victim], "name": "", "peerURLs": [peer_url], "clientURLs": []}
    code, body = http("POST", ep + "/v2/members", json_body={"peerURLs": [peer_url]})
    assert code == 409 and body["message"] == "etcdserver: peerURL exists"
    # remove again with etcdctl and add back with etcdctl: the same id comes back
    etcdctl(ep, "member", "remove", ids[victim])
    added = etcdctl(ep, "member", "add", victim, peer_url).stdout
    assert f"Added member named {victim} with ID {ids[victim]} to cluster" in added
    assert 'ETCD_INITIAL_CLUSTER_STATE="existing"' in added
    assert http("PUT", ep + "/v2/keys/after", {"value": "a"})[0] == 201

    def caught_up(s):
        live = [n for n in s["nodes"] if n.get("commit_index") is not None]
        return (
            leader_of(s) is not None
            and len(live) == 3
            and len({n["commit_index"] for n in live}) == 1
            and len({n["applied_index"] for n in live}) == 1
        )

    run.wait_for(caught_up, timeout=20, what="the added-back member to catch up")
    wait_until(lambda: port_open(nodes[victim]["address"]), 10, "the port to open again")
    mine = nodes[victim]["client_url"]
    code, body = http("GET", mine + "/v2/keys/while?recursive=true")
    assert code == 200 and sorted(int(n["value"]) for n in body["node"]["nodes"]) == list(range(20))
    assert http("GET", mine + "/v2/keys/after")[1]["node"]["value"] == "a"
    _, listing = http("GET", mine + "/v2/members")
    assert sorted(m["name"] for m in listing["members"]) == sorted(nodes)


@pytest.mark.cluster
def test_membership_requests_get_etcds_errors(cluster_factory):
    run = cluster_factory(nodes=3)
    run.up()
    status = run.wait_for(leader_of, timeout=30, what="an etcd leader")
    ep = status["nodes"][0]["client_url"]
    members = ep + "/v2/members"
    code, body = http("POST", members, json_body={"peerURLs": ["http://127.0.0.99:2380"]})
    assert code == 400 and "name no node of this cluster" in body["message"]
    code, body = http("POST", members, data={"peerURLs": "x"})
    assert code == 415 and body["message"].startswith("Bad Content-Type")
    code, body = http("POST", members, content_type="application/json", data={})
    assert code == 400
    code, body = http("POST", members, json_body={"peerURLs": ["ftp://127.0.0.1:1"]})
    assert code == 400 and body["message"].startswith("URL scheme must be")
    code, body = http("DELETE", members + "/123abc")
    assert code == 404 and body["message"] == "No such member: 123abc"
    assert http("DELETE", members + "/not-hex")[0] == 404
    assert http("PATCH", members + "/123abc")[0] == 405
