"""The service's HTTP face over a real socket: routes, limits, errors, the escaped status page."""

from __future__ import annotations

import http.client
import json

import pytest

from actors.update.omaha import Request, build_request, parse_response
from actors.updateservice.server import MAX_BODY, UpdateServer
from actors.updateservice.service import UpdateService
from emulator.config.updateservice import UpdateServiceConfig


@pytest.fixture
def server():
    svc = UpdateService(UpdateServiceConfig(payload_size=512), "tok", "http://x", None)
    srv = UpdateServer("127.0.0.1", 0, svc)
    srv.service.base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    srv.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def call(srv, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def test_publish_check_and_download(server):
    status, _, body = call(server, "POST", "/api/v1/releases",
                           json.dumps({"channel": "stable", "version": "1.1.0"}))  # fmt: skip
    assert status == 201 and json.loads(body)["id"] == "stable-1.1.0"
    req = build_request(Request("1.0.0", "stable", "a" * 32, "b1"))
    status, ctype, body = call(server, "POST", "/v1/update/", req)
    assert status == 200 and ctype.startswith("text/xml")
    update = parse_response(body).update
    path = update.download_url.split(str(server.server_address[1]), 1)[1]
    status, _, data = call(server, "GET", path)
    assert status == 200 and len(data) == update.package.size


@pytest.mark.parametrize(
    "method, path, body, headers, expected",
    [
        ("POST", "/api/v1/releases", b"{not json", None, 400),
        ("POST", "/api/v1/releases", b"[]", None, 400),
        ("POST", "/api/v1/releases", b'{"channel": "stable"}', None, 400),
        ("POST", "/api/v1/promote", b'{"from": "beta", "to": "stable"}', None, 400),
        ("POST", "/api/v1/groups/nope", b'{"resume": true}', None, 400),
        ("POST", "/api/v1/nothing", b"{}", None, 404),
        ("GET", "/packages/stable-9.9.9/update.gz", None, None, 404),
        ("GET", "/nowhere", None, None, 404),
        ("GET", "/v1/update/", None, None, 405),
        ("PUT", "/api/v1/releases", b"{}", None, 405),
        ("POST", "/v1/update/", b"x", {"Content-Length": str(MAX_BODY + 1)}, 413),
    ],
)
def test_bad_requests_get_clear_errors(server, method, path, body, headers, expected):
    status, _, answer = call(server, method, path, body, headers)
    assert status == expected
    if status != 405 or path != "/v1/update/":
        assert json.loads(answer)["error"]
    assert call(server, "GET", "/api/v1/status")[0] == 200  # and the service still answers


def test_hostile_omaha_over_http_is_an_omaha_error(server):
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    )
    status, ctype, body = call(server, "POST", "/v1/update/", hostile)
    assert status == 400 and ctype.startswith("text/xml")
    assert b"error-invalidRequest" in body and b"root:" not in body


def test_status_page_escapes_what_nodes_send(server):
    evil = "<script>alert(1)</script>"
    call(server, "POST", "/v1/update/", build_request(Request("1.0.0", evil, evil, "b1")))
    status, ctype, page = call(server, "GET", "/")
    assert status == 200 and ctype.startswith("text/html")
    assert b"<script>" not in page and b"&lt;script&gt;" in page
