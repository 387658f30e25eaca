"""The dashboard's HTTP server: a thin layer of routes over the feed, the guard and the forms.

Standard library only (``ThreadingHTTPServer``): one thread per connection, which suits a page or
two holding a server-sent-events stream each. It runs in daemon threads inside the supervisor's
process and talks to the supervisor only through its control socket (see ``feed``).

Routes: ``GET /`` the page · ``GET /static/*`` its script and style · ``GET /api/state`` the view
as JSON · ``GET /events`` the live stream (``state``, ``logs`` and, when the run stops, ``end``) ·
``POST /api/fault`` start a fault (a form of ``forms``), recorded with origin ``dashboard``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulator.control import Failure, FaultCommand, FaultStarted
from emulator.dashboard import guard
from emulator.dashboard.feed import Feed
from emulator.dashboard.forms import FormError, fault_request
from emulator.supervisor_client import SupervisorUnavailable, request

STATIC = Path(__file__).with_name("static")
ASSETS = {
    "dashboard.js": "text/javascript",
    "panels.js": "text/javascript",
    "dashboard.css": "text/css",
}
KEEPALIVE_S = 15.0
MAX_BODY = 64 * 1024
ORIGIN = "dashboard"  # the fault's origin in history.jsonl
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the URL carries the secret
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


class Dashboard:
    """A running dashboard: ``url`` (with the secret), ``stop()``."""

    def __init__(
        self,
        run_dir: Path,
        port: int = 0,
        *,
        token: str | None = None,
        ask: Callable[[Any], Any] | None = None,
        log: Callable[..., None] | None = None,
    ):
        self.run_dir = run_dir
        self.token = token or guard.new_token()
        self.ask = ask or (lambda msg: request(run_dir, msg, timeout=5.0))
        self.log = log or (lambda *a, **k: None)
        self.feed = Feed(run_dir, ask=ask)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.dashboard = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() (so run.py down) waits for it
            name="dashboard-http",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def start(self) -> Dashboard:
        self.feed.start()
        self._thread.start()
        return self

    def stop(self, reason: str = "the run stopped") -> None:
        self.feed.stop(reason)  # open pages get an `end` event and their stream closes
        self.httpd.shutdown()
        self.httpd.server_close()

    def node_names(self) -> list[str]:
        report = self.feed.view.get("report") or {}
        names = [n["name"] for n in report.get("nodes", [])]
        if not names:
            try:
                data = json.loads((self.run_dir / "cluster.json").read_text())
                names = [n["name"] for n in data.get("nodes", [])]
            except (OSError, ValueError):
                pass
        return names

    def start_fault(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            mapping, duration = fault_request(form, self.node_names())
        except FormError as exc:
            return 400, {"error": str(exc)}
        try:
            reply = self.ask(FaultCommand(mapping, duration, origin=ORIGIN))
        except SupervisorUnavailable as exc:
            return 503, {"error": str(exc)}
        if isinstance(reply, FaultStarted):
            return 200, {
                "fault_id": reply.fault_id,
                "description": reply.description,
                "nodes": list(reply.nodes),
            }
        if isinstance(reply, Failure):
            return 409, {"error": reply.error}
        return 502, {"error": f"unexpected answer {reply!r}"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "coreemu-dashboard"
    protocol_version = "HTTP/1.0"  # one request a connection: the event stream ends by closing

    @property
    def dash(self) -> Dashboard:
        return self.server.dashboard  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # refusals are logged on their own; the rest would only be noise

    # --- responses -------------------------------------------------------------------------
    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _refuse(self, why: str) -> None:
        self.dash.log(
            "dashboard.refused",
            level="warning",
            method=self.command,
            path=urlsplit(self.path).path,  # never the query: it may hold the secret
            why=why,
        )
        self._send(HTTPStatus.FORBIDDEN, f"403 forbidden: {why}\n".encode(), "text/plain")

    # --- GET -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        port, token = self.dash.port, self.dash.token
        if not guard.host_ok(self.headers, port):
            return self._refuse("wrong Host header")
        if url.path.startswith("/static/"):
            name = url.path.removeprefix("/static/")
            if name not in ASSETS:
                return self._send(404, b"not found\n", "text/plain")
            return self._send(200, (STATIC / name).read_bytes(), ASSETS[name])
        if url.path == "/favicon.ico":
            return self._send(204, b"", "image/x-icon")
        if url.path not in ("/", "/api/state", "/events"):
            return self._send(404, b"not found\n", "text/plain")
        if not guard.may_read(self.headers, url.query, port, token):
            return self._refuse(
                "open the dashboard with the URL that `run.py up` printed (it ends in ?token=...)"
            )
        if url.path == "/" and guard.query_token(url.query):
            # keep the secret out of the address bar and history: the cookie carries it on
            return self._send(
                HTTPStatus.SEE_OTHER,
                b"",
                "text/plain",
                {"Location": "/", "Set-Cookie": guard.set_cookie_header(port, token)},
            )
        if url.path == "/":
            page = (STATIC / "index.html").read_text().replace("{{TOKEN}}", token)
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if url.path == "/api/state":
            return self._json(200, self.dash.feed.view)
        return self._events()

    def _events(self) -> None:
        feed = self.dash.feed
        self.send_response(200)
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        feed.watching(+1)
        try:
            self.wfile.write(b"retry: 1000\n\n")  # reconnect fast after a hiccup
            self.wfile.flush()
            version, log_seq = -1, 0
            while True:
                version, view, logs, log_seq = feed.wait(version, log_seq, KEEPALIVE_S)
                ended = feed.ended  # read once: it may be set while we write
                chunks = []
                if view is not None:
                    chunks.append(_event("state", view))
                if logs:
                    chunks.append(_event("logs", logs))
                if ended is not None:
                    chunks.append(_event("end", {"reason": ended}))
                self.wfile.write(b"".join(chunks) or b": keepalive\n\n")
                self.wfile.flush()
                if ended is not None:
                    return
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return  # the page went away
        finally:
            feed.watching(-1)

    # --- POST ------------------------------------------------------------------------------
    def do_POST(self) -> None:
        url = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return self._send(
                413, b"a body of 0 to 64 KiB, with its Content-Length\n", "text/plain"
            )
        body = self.rfile.read(length) if length else b""
        form = _parse_body(body, self.headers.get("Content-Type") or "")
        form_token = form.pop("token", None) if isinstance(form, dict) else None
        if not isinstance(form_token, str):
            form_token = None
        allowed, why = guard.may_act(self.headers, form_token, self.dash.port, self.dash.token)
        if not allowed:
            return self._refuse(why)
        if url.path != "/api/fault":
            return self._send(404, b"not found\n", "text/plain")
        if form is None:
            return self._json(400, {"error": "expected a JSON object or a form"})
        status, answer = self.dash.start_fault(form)
        self._json(status, answer)

    def _not_allowed(self) -> None:
        # no CORS preflight answer: a cross-origin page can't send the secret header
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", "text/plain")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _parse_body(body: bytes, ctype: str) -> dict[str, Any] | None:
    """A JSON object, or a urlencoded form (one value a field), or None."""
    if ctype.startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"))
        return {k: v[0] for k, v in fields.items()}
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def start_dashboard(
    run_dir: Path, port: int = 0, log: Callable[..., None] | None = None
) -> Dashboard:
    """Serve the dashboard of the run in ``run_dir`` on 127.0.0.1 (``port`` 0: a free one)."""
    return Dashboard(run_dir, port, log=log).start()
