"""The update service's HTTP face: Omaha, payload downloads, the status page, the admin API.

Routes::

    POST /v1/update/                    Omaha v3 (update_engine's requests)
    GET  /packages/<release>/update.gz  a release's payload
    GET  /                              the status page (HTML)
    GET  /api/v1/status                 everything as JSON
    POST /api/v1/releases               {"channel", "version", "broken_boot"|"bad_signature"|"corrupt"}
    POST /api/v1/promote                {"from", "to"}
    POST /api/v1/groups/<name>          policy fields, or {"resume": true}

Errors are JSON ``{"error": ...}`` with 400/404/405/411/413; Omaha errors are Omaha documents.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from actors.updateservice.page import render
from actors.updateservice.service import UpdateService
from actors.updateservice.state import StateError

MAX_BODY = 256 * 1024
OMAHA_PATHS = ("/v1/update/", "/v1/update")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UpdateServer
    server_version = "coreemu-update-service/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the service logs what matters itself

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, indent=1).encode() + b"\n", "application/json")

    def _body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            self._json(411, {"error": "Content-Length required"})
            return None
        try:
            n = int(length)
        except ValueError:
            self._json(400, {"error": f"bad Content-Length {length!r}"})
            return None
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            self._json(413, {"error": f"body of {n} bytes; at most {MAX_BODY}"})
            return None
        return self.rfile.read(n)

    def do_GET(self) -> None:
        service = self.server.service
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            self._send(200, render(service.snapshot()).encode(), "text/html; charset=utf-8")
        elif path == "/api/v1/status":
            self._json(200, service.snapshot())
        elif path.startswith("/packages/"):
            parts = path.split("/")
            data = service.payload(parts[2]) if len(parts) == 4 and parts[3] else None
            if data is None:
                self._json(404, {"error": f"no package at {path}"})
            else:
                self._send(200, data, "application/octet-stream")
        elif path in OMAHA_PATHS:
            self._json(405, {"error": "Omaha requests are POSTed"})
        else:
            self._json(404, {"error": f"no such page {path}"})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        path = unquote(urlsplit(self.path).path)
        body = self._body()
        if body is None:
            return
        service = self.server.service
        if path in OMAHA_PATHS:
            status, xml = service.omaha(body)
            self._send(status, xml, "text/xml; charset=utf-8")
            return
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise StateError("expected a JSON object")
            if path == "/api/v1/releases":
                flags = {k: bool(data.get(k)) for k in ("broken_boot", "bad_signature", "corrupt")}
                origin = str(data.get("origin") or "admin API")
                result = service.publish(
                    _str(data, "channel"), _str(data, "version"), origin, **flags
                )
                self._json(201, result)
            elif path == "/api/v1/promote":
                self._json(200, service.promote(_str(data, "from"), _str(data, "to")))
            elif path.startswith("/api/v1/groups/") and path.count("/") == 4:
                self._json(200, service.set_policy(path.rsplit("/", 1)[1], data))
            else:
                self._json(404, {"error": f"no such endpoint {path}"})
        except (ValueError, StateError) as exc:  # JSONDecodeError is a ValueError
            self._json(400, {"error": str(exc)})

    def do_PUT(self) -> None:
        self._json(405, {"error": f"{self.command} is not served"})

    do_DELETE = do_PATCH = do_PUT


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise StateError(f"{key!r} is required (a string)")
    return value


class UpdateServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, service: UpdateService):
        self.service = service
        super().__init__((host, port), _Handler)

    def start(self) -> threading.Thread:
        # shutdown() waits for the loop to see it: a short poll keeps run.py down quick
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="update-service",
            daemon=True,
        )
        thread.start()
        return thread
