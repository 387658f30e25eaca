"""The web server that stands in for ``coreos/apache`` and ``nginx`` inside an emulated container.

Started by the node's docker daemon with the published ports already bound (their sockets passed
as file descriptors, as docker-proxy holds them): it serves on every one of them a page naming the
machine (node name and address) and the container, logs each request as an access log line, and
on SIGTERM finishes as apache does on ``docker stop`` — exit 0. The container's own command (e.g.
``/usr/sbin/apache2ctl -D FOREGROUND``) is logged and otherwise ignored.
"""

from __future__ import annotations

import html
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def page() -> bytes:
    env = os.environ
    node, addr = env.get("COREEMU_NODE", "?"), env.get("COREEMU_ADDRESS", "?")
    name, cid = env.get("COREEMU_CONTAINER", "?"), env.get("COREEMU_CONTAINER_ID", "?")[:12]
    image = env.get("COREEMU_IMAGE", "?")
    return (
        (
            "<!DOCTYPE html>\n<html><head><title>{t}</title></head><body>\n"
            "<h1>{t}</h1>\n<p>machine: {node} ({addr})</p>\n<p>container: {name} ({cid})</p>\n"
            "<p>image: {image}</p>\n</body></html>\n"
        )
        .format(
            t=html.escape(f"{image} on {node}"),
            node=html.escape(node),
            addr=html.escape(addr),
            name=html.escape(name),
            cid=html.escape(cid),
            image=html.escape(image),
        )
        .encode()
    )


class Handler(BaseHTTPRequestHandler):
    server_version = "Apache/2.4 (coreemu)"

    def do_GET(self) -> None:
        body = page()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        print(
            f'{self.client_address[0]} - - [{stamp}] "{self.requestline}" {args[1] if len(args) > 1 else "-"} -',
            flush=True,
        )


def serve(fd: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=fd)
    server.server_address = server.socket.getsockname()
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


_STOP = {signal.SIGTERM, signal.SIGINT}


def main(argv: list[str]) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)  # before any thread starts: they inherit it
    image = os.environ.get("COREEMU_IMAGE", "web")
    if argv:
        print(f"{image}: command {' '.join(argv)!r} stands for the web server; serving", flush=True)
    servers = []
    for item in filter(None, os.environ.get("COREEMU_WEB_FDS", "").split(",")):
        fd, where = item.split("=", 1)
        servers.append(serve(int(fd)))
        print(f"{image}: listening on {where}", flush=True)
    if not servers:
        print(f"{image}: no port published; serving nothing reachable", flush=True)
    signal.sigwait(_STOP)  # blocked in every thread since main() began: it waits here
    for server in servers:
        server.socket.close()  # no new connections; the process ends with its serving threads
    print(f"{image}: caught SIGTERM, shutting down", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
