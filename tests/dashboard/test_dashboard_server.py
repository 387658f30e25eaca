"""The dashboard's HTTP surface against a stand-in supervisor: secrets, origins, the stream."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from emulator.control import ClusterStatus, ClusterStatusQuery, FaultCommand, FaultStarted
from emulator.dashboard import Dashboard, guard

REPORT = {
    "cluster": "t",
    "run_dir": "/tmp/x",
    "seed": 1,
    "active_faults": [],
    "nodes": [
        {"name": "core-01", "state": "up", "role": "leader", "term": 2, "peers": {}},
        {"name": "core-02", "state": "up", "role": "follower", "term": 2, "peers": {}},
    ],
}


class FakeSupervisor:
    def __init__(self):
        self.faults: list[FaultCommand] = []
        self.lock = threading.Lock()

    def __call__(self, msg):
        if isinstance(msg, ClusterStatusQuery):
            return ClusterStatus(REPORT)
        with self.lock:
            self.faults.append(msg)
        return FaultStarted(len(self.faults), "kill core-02", ("core-02",))


@pytest.fixture
def dash(tmp_path):
    # as the supervisor does before it starts the dashboard: the node names, before any status
    names = [{"name": n["name"]} for n in REPORT["nodes"]]
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": names}))
    sup = FakeSupervisor()
    d = Dashboard(tmp_path, 0, ask=sup).start()
    d.sup = sup
    yield d
    d.stop()


def call(dash, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=5)
    hdrs = {"Host": f"127.0.0.1:{dash.port}", **(headers or {})}
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


KILL = json.dumps({"kind": "kill", "targets": ["core-02"]})


def test_a_fault_with_the_secret_reaches_the_supervisor_marked_as_from_the_dashboard(dash):
    resp, data = call(dash, "POST", "/api/fault", KILL, {guard.TOKEN_HEADER: dash.token})
    assert resp.status == 200, data
    assert json.loads(data)["nodes"] == ["core-02"]
    (cmd,) = dash.sup.faults
    assert cmd.fault == {"kill": ["core-02"]} and cmd.origin == "dashboard"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {guard.TOKEN_HEADER: "wrong"},
        {"Cookie": "placeholder"},  # the cookie alone never acts
        {guard.TOKEN_HEADER: "ok", "Origin": "http://evil.example"},
        {guard.TOKEN_HEADER: "ok", "Host": "evil.example"},
    ],
)
def test_a_fault_without_the_secret_or_from_elsewhere_is_403_and_changes_nothing(dash, headers):
    headers = {k: (dash.token if v == "ok" else v) for k, v in headers.items()}
    if "Cookie" in headers:
        headers["Cookie"] = guard.set_cookie_header(dash.port, dash.token).split(";")[0]
    resp, _ = call(dash, "POST", "/api/fault", KILL, headers)
    assert resp.status == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert dash.sup.faults == []


def test_a_bad_form_is_400_with_the_reason(dash):
    body = json.dumps({"kind": "kill", "targets": ["core-09"]})
    resp, data = call(dash, "POST", "/api/fault", body, {guard.TOKEN_HEADER: dash.token})
    assert resp.status == 400 and "core-09" in json.loads(data)["error"]
    assert dash.sup.faults == []


def test_the_page_needs_the_secret_then_keeps_it_in_a_cookie(dash):
    resp, _ = call(dash, "GET", "/")
    assert resp.status == 403
    resp, _ = call(dash, "GET", f"/?token={dash.token}")
    assert resp.status == 303 and resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in resp.headers["Set-Cookie"]
    resp, page = call(dash, "GET", "/", headers={"Cookie": cookie})
    assert resp.status == 200 and dash.token.encode() in page
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    resp, _ = call(dash, "GET", "/static/dashboard.js")
    assert resp.status == 200
    resp, _ = call(dash, "GET", "/static/../server.py")
    assert resp.status == 404


def test_the_stream_sends_the_state_then_an_end_when_the_run_stops(dash):
    conn = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=10)
    conn.request("GET", "/events", headers={guard.TOKEN_HEADER: dash.token})
    resp = conn.getresponse()
    assert resp.headers["Content-Type"] == "text/event-stream"
    events = []
    while True:
        line = resp.fp.readline().decode()
        if line.startswith("event: "):
            events.append(line.split()[1])
        if line.startswith("data: ") and events[-1] == "state":
            view = json.loads(line[6:])
            if view["alive"]:
                break
    assert [(link["a"], link["b"], link["status"]) for link in view["links"]] == [
        ("core-01", "core-02", "ok")
    ]
    assert view["etcd"]["leader"] == "core-01"
    dash.feed.stop("test over")
    rest = resp.read().decode()  # the server closes the stream after `end`
    assert "event: end" in rest and "test over" in rest
    conn.close()
