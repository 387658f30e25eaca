"""run.py etcdctl: output, errors and exit codes compared with the real ``ETCDCTL_API=2 etcdctl``.

The comparisons run both clients against a real etcd 3.4 (``--enable-v2``) started here; writes
are compared from the same starting state with etcd indices made relative to that state.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from proc_waits import wait_until

from emulator import etcdctl
from emulator.etcdctl_client import (
    ClusterError,
    KeysResponse,
    V2Client,
    check_health,
    keys_path,
    transport_error,
    validate_peer_url,
)
from emulator.etcdctl_format import (
    format_response,
    go_quote,
    go_time,
    ls_lines,
    member_added,
    member_line,
    response_json,
)

REPO = Path(__file__).resolve().parent.parent
ETCD, ETCDCTL = Path("/usr/bin/etcd"), Path("/usr/bin/etcdctl")


# --- real etcd ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, procs: list[subprocess.Popen], deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("etcd exited during start")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                if json.loads(r.read()).get("health") == "true":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"etcd at {url} not healthy after {deadline_s}s")


def start_etcd(tmp: Path, names: list[str]) -> tuple[list[str], list[subprocess.Popen]]:
    if not ETCD.exists() or not ETCDCTL.exists():
        pytest.skip("real etcd/etcdctl 3.4 not installed at /usr/bin (apt-get install etcd)")
    peers = {n: f"http://127.0.0.1:{free_port()}" for n in names}
    clients = {n: f"http://127.0.0.1:{free_port()}" for n in names}
    initial = ",".join(f"{n}={u}" for n, u in peers.items())
    procs = []
    for n in names:
        cmd = [str(ETCD), "--name", n, "--data-dir", str(tmp / n), "--enable-v2",
               "--listen-client-urls", clients[n], "--advertise-client-urls", clients[n],
               "--listen-peer-urls", peers[n], "--initial-advertise-peer-urls", peers[n],
               "--initial-cluster", initial, "--initial-cluster-token", tmp.name]  # fmt: skip
        log = open(tmp / f"{n}.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    try:
        for u in clients.values():
            wait_healthy(u, procs)
    except Exception:
        stop(procs)
        raise
    return list(clients.values()), procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


@pytest.fixture(scope="module")
def ep(tmp_path_factory) -> str:
    urls, procs = start_etcd(tmp_path_factory.mktemp("etcd1"), ["solo"])
    yield urls[0]
    stop(procs)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    urls, procs = start_etcd(tmp_path_factory.mktemp("etcd2"), ["alpha", "beta"])
    yield urls
    stop(procs)


def http(method: str, url: str, form: dict | None = None, data: bytes | None = None):
    body = urllib.parse.urlencode(form).encode() if form is not None else data
    req = urllib.request.Request(url, data=body, method=method)
    if form is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def index(ep: str) -> int:
    return int(http("GET", ep + "/v2/keys/")[1]["X-Etcd-Index"])


def real(ep: str, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
    env["ETCDCTL_API"] = "2"
    p = subprocess.run([str(ETCDCTL), "--endpoints", ep, *argv], input=stdin, env=env,
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    return p.returncode, p.stdout, p.stderr


def ours(ep: str | None, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = etcdctl.main(list(argv), endpoint=ep, out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def relative(text: str, base: int) -> str:
    """Indices as offsets from ``base``; expiration times hidden (they differ between runs)."""

    def rel(m: re.Match[str]) -> str:
        return f"{m.group(1)}{int(m.group(2)) - base:+d}{m.group(3)}"

    text = re.sub(r'("(?:createdIndex|modifiedIndex)":)(\d+)()', rel, text)
    text = re.sub(r"(?m)^((?:Created-|Modified-)?Index: )(\d+)()$", rel, text)
    text = re.sub(r"(\[)(\d+)(\]\n)", rel, text)
    text = re.sub(r"(\[\d+ != )(\d+)(\])", rel, text)  # "Compare failed ([1 != 34])"
    text = re.sub(r"(/)(\d{20})()", rel, text)  # in-order keys
    return re.sub(r'"expiration":"[^"]+"', '"expiration":"T"', text)


Setup = list[tuple[str, str, dict | None]]


def same_as_real(ep: str, setup: Setup, argv: list, stdin: str = "") -> tuple[int, str, str]:
    """Run ``argv`` with both clients, each from the state ``setup`` makes under /t."""
    results = []
    for client in (real, ours):
        http("DELETE", ep + "/v2/keys/t?recursive=true")
        for method, path, form in setup:
            status, _, body = http(method, ep + keys_url(path), form)
            assert status < 300, body
        base = index(ep)
        args = [a(base) if callable(a) else a for a in argv]
        code, out, err = client(ep, *args, stdin=stdin)
        results.append((code, relative(out, base), relative(err, base)))
    assert results[1] == results[0]
    return results[0]


def keys_url(path: str) -> str:
    key, _, query = path.partition("?dir=")
    return keys_path(key) + ("?dir=" + query if query else "")


def put(key: str, value: str = "v", **extra) -> tuple[str, str, dict]:
    return ("PUT", key, {"value": value, **extra})


def mkd(key: str) -> tuple[str, str, dict]:
    return ("PUT", key + "?dir=true", {})


# --- keys commands against real etcdctl -----------------------------------------------------

TREE = [put("/t/a", "1"), mkd("/t/d"), put("/t/d/x", "2"), mkd("/t/d/e"), put("/t/b", "3")]

KEY_CASES = [
    ([], ["set", "/t/a", "1"]),
    ([put("/t/a", "0")], ["-o", "extended", "set", "/t/a", "2"]),
    ([put("/t/a", "0")], ["-o", "json", "set", "/t/a", 'x<&>\u2028é\t"q"\x07']),
    ([], ["-o", "json", "set", "--ttl", "100", "/t/ttl", "v"]),
    ([put("/t/a", "old")], ["set", "--swap-with-value", "nope", "/t/a", "new"]),
    ([put("/t/a", "old")], ["set", "--swap-with-value", "old", "/t/a", "new"]),
    ([put("/t/a", "old")], ["set", "--swap-with-index", "1", "/t/a", "new"]),
    ([put("/t/a", "old")], ["set", "--swap-with-index", lambda base: str(base), "/t/a", "n"]),
    ([mkd("/t/d")], ["set", "/t/d", "v"]),
    ([put("/t/a")], ["mk", "/t/a", "v"]),
    ([], ["-o", "extended", "mk", "/t/new", "v"]),
    ([mkd("/t/q")], ["-o", "json", "mk", "--in-order", "/t/q", "first"]),
    ([], ["mkdir", "/t/nd"]),
    ([mkd("/t/nd")], ["mkdir", "/t/nd"]),
    ([], ["setdir", "/t/sd"]),
    ([put("/t/a")], ["setdir", "/t/a"]),
    ([], ["updatedir", "/t/nd"]),
    ([mkd("/t/nd")], ["updatedir", "--ttl", "50", "/t/nd"]),
    ([], ["update", "/t/none", "v"]),
    ([put("/t/a", "0")], ["-o", "json", "update", "--ttl", "60", "/t/a", "1"]),
    (TREE, ["get", "/t/a"]),
    (TREE, ["get", "/t/d"]),
    (TREE, ["get", "/t/none"]),
    (TREE, ["-o", "json", "get", "/t/d/x"]),
    (TREE, ["-o", "extended", "get", "--quorum", "/t/b"]),
    ([put("/t/ttl", "v", ttl="300")], ["-o", "extended", "get", "/t/ttl"]),
    (TREE, ["ls", "--sort", "/t"]),  # without --sort etcd's order is random
    (TREE, ["ls", "--sort", "-r", "/t"]),
    (TREE, ["ls", "/t/d/e"]),
    (TREE, ["ls", "--sort", "-r", "-p", "/t"]),
    (TREE, ["ls", "/t/a"]),
    (TREE, ["ls", "/t/none"]),
    (TREE, ["rm", "/t/a"]),
    (TREE, ["rm", "/t/d"]),
    (TREE, ["rm", "-r", "/t/d"]),
    (TREE, ["rm", "--dir", "/t/d/e"]),
    (TREE, ["rm", "--with-value", "no", "/t/a"]),
    (TREE, ["rm", "--with-value", "1", "/t/a"]),
    (TREE, ["rm", "--with-index", "2", "/t/a"]),
    (TREE, ["-o", "json", "rm", "/t/b"]),
    (TREE, ["-o", "extended", "rm", "/t/b"]),
    (TREE, ["rmdir", "/t/d"]),
    (TREE, ["rmdir", "/t/d/e"]),
    (TREE, ["rmdir", "/t/a"]),
    ([], ["set", "/t/sp ace/q?x/%41/ü", "odd"]),
    ([put("/t/sp ace/q?x/%41/ü", "odd")], ["ls", "-r", "/t"]),
    ([mkd("/t/e")], ["ls", "-p", "/t"]),
    ([], ["get"]),
    ([], ["set", "/t/a"]),
    ([], ["rm"]),
]


# ids name a callable argument (an index computed at run time) by its name, not its address,
# so every pytest-xdist worker collects the same ids
@pytest.mark.parametrize(
    "setup,argv", KEY_CASES, ids=lambda x: " ".join(str(getattr(a, "__name__", a)) for a in x)
)
def test_keys_command_prints_what_etcdctl_prints(ep, setup, argv):
    same_as_real(ep, setup, argv)


def test_value_from_stdin(ep):
    code, out, _ = same_as_real(ep, [], ["set", "/t/in"], stdin="from stdin\n")
    assert (code, out) == (0, "from stdin\n\n")


def test_exit_codes_and_messages_match_for_errors(ep):
    assert same_as_real(ep, [put("/t/m")], ["mk", "/t/m", "x"])[0:3:2] == (
        4,
        "Error:  105: Key already exists (/t/m) [+0]\n",
    )
    assert same_as_real(ep, TREE, ["get", "/t/d"])[0:3:2] == (1, "/t/d: is a directory\n")
    assert same_as_real(ep, [], ["get"])[0] == 1


# --- watch ----------------------------------------------------------------------------------


def test_watch_prints_the_change_after_the_index(ep):
    http("DELETE", ep + "/v2/keys/t?recursive=true")
    start = index(ep)
    for method, path, form in [put("/t/w", "1"), put("/t/w", "2"), mkd("/t/wd"), put("/t/wd/k")]:
        http(method, ep + keys_url(path), form)
    http("DELETE", ep + keys_path("/t/w"))
    for argv in (
        ["watch", "--after-index", str(start), "/t/w"],
        ["watch", "--after-index", str(start + 1), "/t/w"],
        ["watch", "--after-index", str(start + 2), "/t/w"],
        ["watch", "-r", "--after-index", str(start + 2), "/t"],  # skips the dir event
        ["-o", "json", "watch", "-r", "--after-index", str(start), "/t"],
        ["-o", "extended", "watch", "--after-index", str(start + 1), "/t/w"],
        ["watch", "--after-index", "1", "/t/w"],  # cleared history: etcd error 401
    ):
        assert ours(ep, *argv) == real(ep, *argv), argv
    assert ours(ep, "watch", "--after-index", str(start), "/t/w")[1] == "1\n"


def test_watch_of_an_expiring_key(ep):
    http("DELETE", ep + "/v2/keys/t?recursive=true")
    start = index(ep)
    http("PUT", ep + keys_path("/t/exp"), {"value": "v", "ttl": "1"})
    deadline = time.monotonic() + 10
    while http("GET", ep + keys_path("/t/exp"))[0] != 404:
        assert time.monotonic() < deadline, "key did not expire"
        time.sleep(0.1)
    argv = ["watch", "-r", "--after-index", str(start + 1), "/t"]
    assert ours(ep, *argv) == real(ep, *argv) == (0, "[expire] /t/exp\n\n", "")


def _ctrl_c_default() -> None:
    """Start the watch as a terminal's shell would, with Ctrl-C at its default. A suite started
    in the background (``pytest &``) has SIGINT ignored, children inherit that, and a Python
    etcdctl then rightly ignores the test's Ctrl-C as a background job would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_watch_forever_until_ctrl_c(ep):
    http("DELETE", ep + "/v2/keys/t?recursive=true")
    start = index(ep)
    for path, value in (("/t/f/a", "1"), ("/t/f/b", "2"), ("/t/f/a", "3")):
        http("PUT", ep + keys_path(path), {"value": value})
    argv = ["watch", "--forever", "-r", "--after-index", str(start), "/t/f"]
    env = {**os.environ, "ETCDCTL_API": "2"}
    commands = (
        [str(ETCDCTL), "--endpoints", ep, *argv],
        [sys.executable, "-m", "emulator.etcdctl", "--endpoint", ep, *argv],
    )
    outputs = []
    for cmd in commands:
        p = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_default
        )
        killer = threading.Timer(60, p.kill)  # stops a hang; generous for a loaded machine
        killer.start()
        lines = [p.stdout.readline() for _ in range(6)]
        p.send_signal(signal.SIGINT)
        code = p.wait(timeout=60)
        killer.cancel()
        outputs.append((code, "".join(lines)))
    assert outputs[1] == outputs[0]
    assert outputs[1] == (0, "[set] /t/f/a\n1\n[set] /t/f/b\n2\n[set] /t/f/a\n3\n")


# --- cluster commands -----------------------------------------------------------------------


def test_cluster_health_and_member_list_match(ep, pair):
    for endpoint in (ep, pair[0]):
        for argv in (["cluster-health"], ["member", "list"], ["member", "list", "x"]):
            assert ours(endpoint, *argv) == real(endpoint, *argv), argv
    code, out, _ = ours(pair[1], "member", "list")
    assert code == 0 and out.count("isLeader=true") == 1 and "name=beta" in out


def in_id_order(text: str, new_id: str) -> str:
    """Member output with the new (random) ID replaced and lines put in a fixed order: etcd
    lists members by ID, so where the new one lands differs between runs."""
    text = text.replace(new_id, "ID")
    text = re.sub(
        r'(ETCD_INITIAL_CLUSTER=")([^"]*)', lambda m: m[1] + ",".join(sorted(m[2].split(","))), text
    )
    lines = text.splitlines(keepends=True)
    if lines and lines[-1].startswith("cluster is"):
        return "".join(sorted(lines[:-1])) + lines[-1]
    return text if text.startswith("Added") else "".join(sorted(lines))


def test_member_add_and_remove_match(pair):
    peer = f"http://127.0.0.1:{free_port()}"
    deadline = time.monotonic() + 20
    results = []
    for client in (real, ours):
        code, out, err = client(pair[0], "member", "add", "gamma", peer)
        # etcd refuses (503) to add members until its peers have been connected for 5 s
        while "has no leader" in err and time.monotonic() < deadline:
            time.sleep(0.2)
            code, out, err = client(pair[0], "member", "add", "gamma", peer)
        assert (code, err) == (0, ""), err
        # real etcdctl syncs and may send the add to beta; alpha applies it a heartbeat later
        new = wait_until(lambda: [m for m in members(pair[0]) if peer in m["peerURLs"]], 10)
        assert len(new) == 1 and new[0]["name"] == ""
        new_id = new[0]["id"]
        health_code, health, _ = client(pair[0], "cluster-health")  # one unstarted: degraded
        outputs = [
            in_id_order(out, new_id),
            in_id_order(client(pair[0], "member", "list")[1], new_id),
            (health_code, in_id_order(health, new_id)),
        ]
        code, out, err = client(pair[0], "member", "remove", new_id)
        assert (code, out, err) == (0, f"Removed member {new_id} from cluster\n", "")
        wait_until(lambda: peer not in json.dumps(members(pair[0])), 10, "alpha to drop the member")
        results.append(outputs)
    assert results[1] == results[0]
    added, listed, (health_code, health) = results[0]
    assert added.startswith("Added member named gamma with ID ID to cluster\n\n")
    assert 'ETCD_NAME="gamma"\n' in added and "gamma=" + peer in added
    assert "ID[unstarted]: peerURLs=" + peer in listed
    assert health_code == 5 and health.endswith("cluster is degraded\n")


def members(url: str) -> list[dict]:
    return json.loads(http("GET", url + "/v2/members")[2])["members"]


@pytest.mark.parametrize(
    "argv",
    [
        ["member", "add", "x"],
        ["member", "add", "x", "notaurl"],
        ["member", "add", "x", "http://127.0.0.1"],
        ["member", "add", "x", "http://127.0.0.1:9/path"],
        ["member", "remove"],
        ["member", "remove", "deadbeef"],
        ["member", "remove", "alpha"],
    ],
)
def test_member_errors_match(pair, argv):
    assert ours(pair[0], *argv) == real(pair[0], *argv)


class FakeEtcd(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str]] = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        status, body = self.routes.get(self.path.split("?")[0], (404, "404 page not found\n"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_PUT = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def fake():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEtcd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeEtcd.routes = {}
    yield f"http://127.0.0.1:{server.server_address[1]}", FakeEtcd.routes
    server.shutdown()
    server.server_close()
    thread.join()


def test_cluster_health_reports_unhealthy_unreachable_and_unpublished_members(ep, fake):
    url, routes = fake
    closed = f"http://127.0.0.1:{free_port()}"
    routes["/health"] = (503, '{"health":"false"}')
    routes["/v2/members"] = (200, json.dumps({"members": [
        {"id": "a1", "name": "one", "peerURLs": ["http://p1"], "clientURLs": [ep]},
        {"id": "b2", "name": "two", "peerURLs": ["http://p2"], "clientURLs": [url]},
        {"id": "c3", "name": "three", "peerURLs": ["http://p3"], "clientURLs": [closed]},
        {"id": "d4", "name": "", "peerURLs": ["http://p4"], "clientURLs": []},
    ]}))  # fmt: skip
    result = ours(url, "cluster-health")
    assert result == real(url, "cluster-health")
    assert result[0] == 5 and result[1].endswith("cluster is degraded\n")
    assert f'on {closed}: Get "{closed}/health": dial tcp' in result[1]


def test_a_member_without_leader_is_skipped_for_the_next_endpoint(ep, fake):
    url, routes = fake
    routes["/v2/keys/t/a"] = (500, '{"errorCode":300,"message":"Raft Internal Error"}')
    http("PUT", ep + keys_path("/t/a"), {"value": "here"})
    assert ours(f"{url},{ep}", "get", "/t/a") == (0, "here\n", "")
    code, out, err = ours(url, "get", "/t/a")
    assert (code, out) == (4, "")
    assert err == (
        "Error:  client: etcd cluster is unavailable or misconfigured; "
        f"error #0: client: etcd member {url} has no leader\n\n"
        f"error #0: client: etcd member {url} has no leader\n\n"
    )
    routes["/v2/members/leader"] = (503, "")
    routes["/v2/members"] = (200, '{"members":[]}')
    code, _, err = ours(url, "member", "list")
    assert code == 1 and err.startswith("Failed to get leader:  client: etcd cluster is unavail")


def test_nothing_answering_matches_etcdctl():
    closed = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    for argv in (["get", "/t/a"], ["member", "list"], ["cluster-health"]):
        result = ours(closed[0], *argv)
        assert result == real(closed[0], *argv), argv
    assert result[0] == 4  # cluster-health: "failed to list members"
    code, _, err = ours(",".join(closed), "get", "/t/a")  # etcdctl shuffles: compare the shape
    assert code == 2 and err.count("error #0: dial tcp 127.0.0.1:") == 2
    assert err.count("error #1: dial tcp 127.0.0.1:") == 2 and closed[1][7:] in err


# --- endpoints and the run ------------------------------------------------------------------


def write_run(tmp_path: Path, nodes: dict[str, str]) -> Path:
    run = tmp_path / "runs" / "demo" / "20261125-200000"
    run.mkdir(parents=True)
    cluster = {"cluster": "demo", "nodes": [{"name": n, "client_url": u} for n, u in nodes.items()]}
    (run / "cluster.json").write_text(json.dumps(cluster))
    return run


def test_default_endpoint_is_the_first_node_that_answers(ep, tmp_path, monkeypatch):
    closed = f"http://127.0.0.1:{free_port()}"
    run = write_run(tmp_path, {"core-01": closed, "core-02": ep})
    http("PUT", ep + keys_path("/t/r"), {"value": "from-run"})
    monkeypatch.setenv("COREEMU_RUNS", str(tmp_path / "runs"))
    assert ours(None, str(run), "get", "/t/r") == (0, "from-run\n", "")
    assert ours(None, "demo", "get", "/t/r") == (0, "from-run\n", "")
    assert ours(None, "demo", "--endpoint", "core-02", "get", "/t/r")[1] == "from-run\n"
    assert ours("core-02", "demo", "get", "/t/r")[1] == "from-run\n"
    code, _, err = ours("core-01", "demo", "get", "/t/r")
    assert code == 2 and "connection refused" in err
    code, _, err = ours("core-09", "demo", "get", "/t/r")
    assert code == 1 and "no node 'core-09' in this run (nodes: core-01, core-02)" in err


def test_endpoint_resolution(tmp_path):
    run = write_run(tmp_path, {"core-01": "http://127.0.10.1:2379", "core-02": "http://b:2379"})
    assert etcdctl.resolve_endpoints("http://x:1/", None) == ["http://x:1"]
    assert etcdctl.resolve_endpoints("127.0.0.1:2379", None) == ["http://127.0.0.1:2379"]
    assert etcdctl.resolve_endpoints(None, str(run)) == ["http://127.0.10.1:2379", "http://b:2379"]
    assert etcdctl.resolve_endpoints("core-02,http://c:1", str(run)) == [
        "http://b:2379",
        "http://c:1",
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(etcdctl.EndpointError, match="cluster.json .is the cluster up"):
        etcdctl.resolve_endpoints(None, str(tmp_path / "empty"))


def test_run_is_taken_from_before_the_command():
    assert etcdctl.split_run(["get", "/a"]) == (None, ["get", "/a"])
    assert etcdctl.split_run(["myrun", "get", "/a"]) == ("myrun", ["get", "/a"])
    assert etcdctl.split_run(["-o", "json", "r", "ls"]) == ("r", ["-o", "json", "ls"])
    assert etcdctl.split_run(["--endpoint", "core-01", "get", "x"])[0] is None
    assert etcdctl.split_run(["bogus"]) == (None, ["bogus"])


def test_configure_and_run_through_argparse(ep, capsys):
    parser = argparse.ArgumentParser()
    etcdctl.configure(parser)
    http("PUT", ep + keys_path("/t/cli"), {"value": "via-argparse"})
    args = parser.parse_args(["--endpoint", ep, "-o", "extended", "get", "/t/cli"])
    assert etcdctl.run(args) == 0
    assert capsys.readouterr().out.endswith("\nvia-argparse\n")
    args = parser.parse_args(["--endpoint", ep, "get", "--sort", "/t/cli"])
    assert etcdctl.run(args) == 0
    assert capsys.readouterr().out == "via-argparse\n"


# --- formatting without a server ------------------------------------------------------------


def test_keys_path_is_cleaned_and_escaped_like_go():
    assert keys_path("/a/b") == "/v2/keys/a/b"
    assert keys_path("a") == "/v2/keys/a"
    assert keys_path("") == "/v2/keys"
    assert keys_path("/") == "/v2/keys/"
    assert keys_path("/d//e/./f/") == "/v2/keys/d/e/f/"
    assert keys_path("/sp ace?#%") == "/v2/keys/sp%20ace%3F%23%25"
    assert keys_path("/ü") == "/v2/keys/%C3%BC"
    # a discovery URL's path is the key itself (Go's NewKeysAPIWithPrefix(c, ""))
    assert keys_path("/tok/_config/size", "") == "/tok/_config/size"
    assert keys_path("", "") == "/"
    assert V2Client(["http://x:1"], keys_prefix="").keys_path("/tok") == "/tok"


def test_a_cluster_error_says_whether_every_endpoint_only_timed_out():
    with socket.socket() as silent:  # accepts (into its backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        quiet = f"http://127.0.0.1:{silent.getsockname()[1]}"
        closed = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(ClusterError) as only_quiet:
            V2Client([quiet], timeout=0.2).get("/a")
        assert only_quiet.value.timed_out
        with pytest.raises(ClusterError) as mixed:
            V2Client([quiet, closed], timeout=0.2).get("/a")
        assert not mixed.value.timed_out and len(mixed.value.errors) == 2


def test_go_time_trims_like_time_marshal():
    assert go_time("2026-11-25T20:56:58.411506850Z") == "2026-11-25T20:56:58.41150685Z"
    assert go_time("2026-11-25T20:56:58.000+00:00") == "2026-11-25T20:56:58Z"
    assert go_time("2026-11-25T20:56:58.5+02:00") == "2026-11-25T20:56:58.5+02:00"


def resp(action="get", node=None, prev=None, index=7) -> KeysResponse:
    node = node or {"key": "/k", "value": "v", "createdIndex": 3, "modifiedIndex": 5}
    return KeysResponse(action, node, prev, index)


def test_response_formats():
    r = resp(prev={"key": "/k", "value": "old", "createdIndex": 1, "modifiedIndex": 1})
    assert format_response(r, "simple") == "v\n"
    assert format_response(r, "extended") == (
        "Key: /k\nCreated-Index: 3\nModified-Index: 5\nPrevNode.Value: old\nTTL: 0\nIndex: 7\n\nv\n"
    )
    deleted = resp("delete", {"key": "/k", "createdIndex": 3, "modifiedIndex": 9}, r.prev_node)
    assert format_response(deleted, "simple") == "PrevNode.Value: old\n"
    assert format_response(deleted, "extended").endswith("TTL: 0\nIndex: 7\n")
    assert response_json(resp(node={"key": "/d", "dir": True, "nodes": [], "ttl": 5})) == (
        '{"action":"get","node":{"key":"/d","dir":true,"value":"","nodes":[],'
        '"createdIndex":0,"modifiedIndex":0,"ttl":5},"prevNode":null}'
    )
    with pytest.raises(ValueError):
        format_response(r, "yaml")


def test_ls_lines_depth_first_with_slashes():
    tree = {"key": "/", "dir": True, "nodes": [
        {"key": "/a", "dir": True, "nodes": [{"key": "/a/x"}]}, {"key": "/b"}]}  # fmt: skip
    assert list(ls_lines(resp(node=tree), slash_dirs=True)) == ["/a/", "/a/x", "/b"]
    assert list(ls_lines(resp(node={"key": "/f"}), slash_dirs=True)) == ["/f"]


def test_member_lines_and_add_block():
    started = {"id": "a1", "name": "one", "peerURLs": ["http://p:1", "http://p:2"],
               "clientURLs": ["http://c:1"]}  # fmt: skip
    assert member_line(started, "a1") == (
        "a1: name=one peerURLs=http://p:1,http://p:2 clientURLs=http://c:1 isLeader=true"
    )
    assert member_line({"id": "b2", "peerURLs": ["http://q:1"]}, "a1") == (
        "b2[unstarted]: peerURLs=http://q:1"
    )
    text = member_added("new", "b2", [started, {"id": "b2", "peerURLs": ["http://q:1"]}])
    assert 'ETCD_INITIAL_CLUSTER="one=http://p:1,one=http://p:2,new=http://q:1"\n' in text
    assert go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'


def test_peer_url_checks_and_error_texts():
    assert validate_peer_url("http://127.0.0.1:2380") is None
    assert validate_peer_url("ftp://h:1").startswith("URL scheme must be")
    assert validate_peer_url("http://h").startswith("URL address does not have the form")
    assert validate_peer_url("http://h:1/x") == "URL must not contain a path: http://h:1/x"
    err = ClusterError(["e0", "e1"], connection_only=True)
    assert str(err) == (
        "client: etcd cluster is unavailable or misconfigured; error #0: e0\n; error #1: e1\n"
    )
    assert err.detail() == "error #0: e0\nerror #1: e1\n"
    assert transport_error("http://127.0.0.1:9", ConnectionRefusedError()) == (
        "dial tcp 127.0.0.1:9: connect: connection refused"
    )
    assert check_health(f"http://127.0.0.1:{free_port()}")[0] is None


def test_key_required_needs_no_server():
    code, out, err = ours("http://127.0.0.1:9", "rmdir")
    assert (code, out, err) == (1, "", "Error:  key required\n")
