"""A tiny Omaha update server for tests: offers one release and serves its package."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from actors.update import omaha
from actors.update.payload import build_payload, release_key, rogue_key, sha256_hex, signed_package


class OmahaTestServer:
    """Serves ``version`` on ``/v1/update/`` to every request; records the requests it got."""

    def __init__(self, host: str, token: str, version: str = "1.1.0", *, size: int = 256 * 1024,
                 bad_signature: bool = False, corrupt: bool = False, broken_boot: bool = False,
                 port: int = 0):  # fmt: skip
        image = build_payload(version, "stable", "test-build", size, broken_boot=broken_boot)
        key = rogue_key(token) if bad_signature else release_key(token)
        self.package = signed_package(image, key)
        self.announced_sha = sha256_hex(self.package)
        self.served = bytearray(self.package)
        if corrupt:
            self.served[len(self.served) // 2] ^= 0xFF
        self.version = version
        self.offering = True
        self.requests: list[omaha.Request] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/v1/update/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OmahaTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self) -> list[tuple[str, omaha.Event]]:
        with self.lock:
            return [(r.machine_id, e) for r in self.requests for e in r.events]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    req = omaha.parse_request(body)
                except omaha.OmahaError:
                    self.send_error(400)
                    return
                with server.lock:
                    server.requests.append(req)
                resp = omaha.Response(ping=req.ping, event_acks=len(req.events))
                if req.update_check:
                    host = self.headers.get("Host")
                    if server.offering and req.version != server.version:
                        up = omaha.Update(
                            server.version,
                            (f"http://{host}/packages/",),
                            omaha.Package("update.gz", len(server.package), server.announced_sha),
                        )
                        resp = omaha.Response(update_status="ok", update=up, ping=req.ping,
                                              event_acks=len(req.events))  # fmt: skip
                    else:
                        resp = omaha.Response(update_status="noupdate", ping=req.ping,
                                              event_acks=len(req.events))  # fmt: skip
                self._send(omaha.build_response(resp), "text/xml")

            def do_GET(self):  # noqa: N802
                if self.path == "/packages/update.gz":
                    self._send(bytes(server.served), "application/octet-stream")
                else:
                    self.send_error(404)

            def _send(self, data: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
