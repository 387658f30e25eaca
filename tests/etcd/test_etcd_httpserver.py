"""The client port end to end in one process: a one-voter member behind the HTTP/1.1 server,
spoken to over loopback sockets (keep-alive, pipelining, 100-continue, chunked bodies, 413/400,
long-poll and streamed watches, routes), and the batching of thread crossings."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import pytest

from actors.etcd.admin import AdminRoutes, MemberInfo
from actors.etcd.http import ClientServer
from actors.etcd.member import ClientBatch, EtcdMember, MemberSettings
from emulator.nodeclock import ClockFaults
from emulator.nodectx import NodeContext
from emulator.nodelog import NodeLog
from emulator.nodeloop import NodeLoop
from emulator.ticker import Ticker

FORM = "application/x-www-form-urlencoded"


class _NoNetwork:
    def send(self, node, actor, msg):  # a one-voter cluster has nobody to talk to
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port(served):
    return served[0]


@pytest.fixture
def served(tmp_path):
    """(port, the node's log): a one-member node's client port."""
    ticker = Ticker("ticker-test")
    ticker.start()
    log = NodeLog("n1", None)
    ctx = NodeContext("n1", (), tmp_path, log, _NoNetwork(), ticker)
    settings = MemberSettings(voters=("n1",), heartbeat_ms=10, election_ms=50, token="t")
    loop = NodeLoop("n1")  # member and port on one loop, as in a node
    loop.start()
    member = EtcdMember.start(ctx, settings, None, loop)
    number = _free_port()
    url = f"http://127.0.0.1:{number}"
    admin = AdminRoutes(
        name="n1", token="t", members={"n1": MemberInfo("n1", (), (url,))}, metrics=None
    )
    server = ClientServer(
        host="127.0.0.1",
        port=number,
        member=member,
        admin=admin,
        log=ctx.actor_log("etcd-http"),
        cluster_id="c1d",
        loop=loop,
    )
    server.start_and_wait()
    try:
        deadline = time.monotonic() + 10
        while request(number, "GET", "/health")[0] != 200:
            assert time.monotonic() < deadline, "the one-voter member never became leader"
            time.sleep(0.02)
        yield number, log
    finally:
        server.stop()
        member.stop(timeout=5)
        ticker.stop()
        loop.stop()


def request(port, method, path, form=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        body = urlencode(form) if form is not None else None
        hdrs = dict(headers or {})
        if body is not None:
            hdrs["Content-Type"] = FORM
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.headers
    finally:
        conn.close()


def read_response(sock: socket.socket, buf: bytearray) -> tuple[int, dict, bytes]:
    """One whole Content-Length answer from ``sock`` (``buf`` carries what was read ahead)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, f"connection closed mid-answer: {bytes(buf)!r}"
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        data = sock.recv(65536)
        assert data, "connection closed mid-body"
        rest += data
    buf[:] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length]


def put(path: str, value: str, extra: str = "") -> bytes:
    body = f"value={value}".encode()
    return (
        f"PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {FORM}\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_writes_and_reads_over_one_keep_alive_connection(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("PUT", "/v2/keys/a", body="value=1", headers={"Content-Type": FORM})
    resp = conn.getresponse()
    created = json.loads(resp.read())
    assert resp.status == 201 and created["node"]["value"] == "1"
    assert resp.headers["X-Etcd-Cluster-Id"] == "c1d" and resp.headers["Date"]
    conn.request("GET", "/v2/keys/a")
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200 and json.loads(body)["node"]["value"] == "1"
    assert resp.headers["X-Etcd-Index"] == str(created["node"]["modifiedIndex"])
    conn.request("HEAD", "/v2/keys/a")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b""
    assert resp.headers["Content-Length"] == str(len(body))
    conn.close()


def test_the_date_header_is_the_nodes_clock_with_its_skew(served):
    number, log = served
    log.clock.faults = ClockFaults(offset_s=-400 * 86400.0)  # `fault clock-skew` as it sets it
    conn = http.client.HTTPConnection("127.0.0.1", number, timeout=5)
    conn.request("GET", "/v2/keys/")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    shown = parsedate_to_datetime(resp.headers["Date"]).timestamp()
    assert abs(shown - (time.time() - 400 * 86400)) < 5  # not the machine's own clock


def test_pipelined_requests_are_answered_in_order(port):
    with connect(port) as s:
        s.sendall(
            put("/v2/keys/p", "1")
            + put("/v2/keys/p", "2")
            + b"GET /v2/keys/p HTTP/1.1\r\n\r\nGET /version HTTP/1.1\r\n\r\n"
        )
        buf = bytearray()
        answers = [read_response(s, buf) for _ in range(4)]
    assert [status for status, _, _ in answers] == [201, 200, 200, 200]
    assert json.loads(answers[2][2])["node"]["value"] == "2"
    assert "etcdserver" in json.loads(answers[3][2])


def test_a_client_waiting_for_100_continue_gets_it_then_its_answer(port):
    with connect(port) as s:
        head, _, body = put("/v2/keys/c", "x", "Expect: 100-continue\r\n").partition(b"\r\n\r\n")
        s.sendall(head + b"\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        assert read_response(s, bytearray())[0] == 201


def test_a_chunked_request_body_is_accepted(port):
    with connect(port) as s:
        s.sendall(
            f"PUT /v2/keys/ch HTTP/1.1\r\nContent-Type: {FORM}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n3\r\nval\r\n4\r\nue=z\r\n0\r\n\r\n".encode()
        )
        status, _, body = read_response(s, bytearray())
    assert status == 201 and json.loads(body)["node"]["value"] == "z"


def test_an_over_large_body_gets_etcds_413_and_the_connection_closes(port):
    big = 2 * 1024 * 1024
    with connect(port) as s:
        s.sendall(f"PUT /v2/keys/big HTTP/1.1\r\nContent-Length: {big}\r\n\r\n".encode())
        s.sendall(b"v" * big)
        status, headers, body = read_response(s, bytearray())
        assert status == 413 and headers["connection"] == "close"
        assert "max-request-bytes" in json.loads(body)["message"]
        assert s.recv(10) == b""
    with connect(port) as s:  # waiting for 100-continue: refused at once, body never sent
        s.sendall(
            f"PUT /v2/keys/big HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {big}\r\n\r\n".encode()
        )
        assert read_response(s, bytearray())[0] == 413
        assert s.recv(10) == b""


def test_garbage_gets_400_and_the_port_keeps_serving(port):
    with connect(port) as s:
        s.sendall(bytes(range(256)) * 2 + b"\r\n\r\n")
        status, headers, _ = read_response(s, bytearray())
        assert status == 400 and headers["connection"] == "close"
        assert s.recv(10) == b""
    assert request(port, "PUT", "/v2/keys/after", {"value": "ok"})[0] == 201


def test_an_http10_client_gets_its_answer_and_a_close(port):
    with connect(port) as s:
        s.sendall(b"GET /version HTTP/1.0\r\n\r\n")
        status, headers, _ = read_response(s, bytearray())
        assert status == 200 and headers["connection"] == "close"
        assert s.recv(10) == b""


def test_a_long_poll_watch_answers_with_the_next_change(port):
    with connect(port) as s:
        s.sendall(b"GET /v2/keys/w?wait=true HTTP/1.1\r\n\r\n")
        assert request(port, "PUT", "/v2/keys/w", {"value": "seen"})[0] == 201
        status, headers, body = read_response(s, bytearray())
    event = json.loads(body)
    assert status == 200 and event["action"] == "set" and event["node"]["value"] == "seen"
    assert "x-etcd-index" in headers


def test_a_streamed_watch_sends_each_change_as_one_chunk(port):
    with connect(port) as s:
        s.sendall(b"GET /v2/keys/s?wait=true&stream=true HTTP/1.1\r\n\r\n")
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
        for value in ("1", "2"):
            assert request(port, "PUT", "/v2/keys/s", {"value": value})[0] in (200, 201)
        values = []
        while len(values) < 2:
            size, sep, tail = rest.partition(b"\r\n")
            if sep and len(tail) >= int(size, 16) + 2:
                n = int(size, 16)
                values.append(json.loads(tail[:n])["node"]["value"])
                rest = tail[n + 2 :]
                continue
            rest += s.recv(4096)
    assert values == ["1", "2"]


def test_a_watch_whose_client_left_is_dropped(port):
    def watchers() -> int:
        return json.loads(request(port, "GET", "/v2/stats/store")[1])["watchers"]

    with connect(port) as s:
        s.sendall(b"GET /v2/keys/gone?wait=true HTTP/1.1\r\n\r\n")
        deadline = time.monotonic() + 5
        while watchers() != 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    deadline = time.monotonic() + 5
    while watchers() != 0:
        assert time.monotonic() < deadline, "the watcher of a closed connection stayed"
        time.sleep(0.02)


def test_routes_that_are_not_there_or_take_other_methods(port):
    status, body, _ = request(port, "GET", "/nope")
    assert status == 404 and body == b"404 page not found\n"
    assert request(port, "GET", "/v2/keysfoo")[0] == 404
    status, _, headers = request(port, "POST", "/version")
    assert status == 405 and "GET" in headers["Allow"]
    status, _, headers = request(port, "DELETE", "/v2/members")
    assert status == 405 and headers["Allow"] == "GET, HEAD, POST"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/v2/keys//a?recursive=true")
    resp = conn.getresponse()
    assert resp.status == 301 and resp.headers["Location"] == "/v2/keys/a?recursive=true"
    conn.close()
    status, body, _ = request(port, "GET", "/v2/members")
    assert status == 200 and [m["name"] for m in json.loads(body)["members"]] == ["n1"]


# --- batching, without sockets ------------------------------------------------------------------
class _Loop:
    def __init__(self):
        self.soon, self.threadsafe = [], []

    def call_soon(self, fn):
        self.soon.append(fn)

    def call_soon_threadsafe(self, fn):
        self.threadsafe.append(fn)


class _Member:
    def __init__(self):
        self.told = []

    def tell(self, message):
        self.told.append(message)


def _bare_server():
    server = ClientServer(host="h", port=0, member=_Member(), admin=None, log=None)
    server._loop = _Loop()
    return server


def test_requests_of_one_loop_iteration_cross_to_the_member_in_one_tell_in_order():
    server = _bare_server()
    for n in range(3):
        server._submit(n)
    assert len(server._loop.soon) == 1
    server._loop.soon.pop()()
    server._submit("alone")
    server._loop.soon.pop()()
    assert server.member.told == [ClientBatch((0, 1, 2)), "alone"]


class ErrorLog:
    """Records the events logged as errors."""

    def __init__(self):
        self.errors = []

    def error(self, event, **fields):
        self.errors.append(event)


def boom(_):
    raise RuntimeError("bad answer")


def test_answers_queued_before_the_loop_runs_cross_back_in_one_wake_up():
    server = _bare_server()
    server.log = ErrorLog()
    got = []

    server._post(got.append, 1)
    server._post(boom, 2)
    server._post(got.append, 3)
    assert len(server._loop.threadsafe) == 1
    server._loop.threadsafe.pop()()
    assert got == [1, 3] and server.log.errors == ["http.reply_failed"]
    server._post(got.append, 4)  # after a delivery, the next answer wakes the loop again
    assert len(server._loop.threadsafe) == 1


def test_answers_from_a_member_on_the_ports_own_loop_are_written_at_once():
    server = _bare_server()
    server.log = ErrorLog()
    server._loop_thread = threading.get_ident()  # this thread plays the port's loop
    got = []

    server._post(got.append, 1)
    server._post(boom, 2)
    server._post(got.append, 3)
    assert got == [1, 3] and server.log.errors == ["http.reply_failed"]
    assert server._loop.soon == [] and server._loop.threadsafe == []  # no hop at all


def test_a_client_that_pipelines_without_reading_still_gets_every_answer_in_order(port):
    many = 3000
    with connect(port) as s:
        s.sendall(b"GET /version HTTP/1.1\r\n\r\n" * many + b"GET /nope HTTP/1.1\r\n\r\n")
        buf = bytearray()
        statuses = [read_response(s, buf)[0] for _ in range(many + 1)]
    assert statuses == [200] * many + [404]
