"""run.py update-engine against a stand-in control endpoint: answers, refusals, silence."""

from __future__ import annotations

import argparse
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulator import updatectl

STATUS = {"current_operation": "UPDATE_STATUS_IDLE", "new_version": "1.1.0", "new_size": 7}


class _Control(BaseHTTPRequestHandler):
    def _answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/status"):
            self._answer(200, STATUS)
        else:
            self._answer(404, {"error": "no such path"})

    def do_POST(self) -> None:
        self._answer(404, {"error": "no such path"})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def run_dir(tmp_path):
    """A run whose only node's control endpoint (client port + 5) is the stand-in."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Control)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    nodes = [{"name": "core-01", "client_url": f"http://127.0.0.1:{port - 5}"}]
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": nodes}))
    yield tmp_path
    server.shutdown()
    server.server_close()


def args(run, *flags):
    parser = argparse.ArgumentParser()
    updatectl.configure(parser)
    return parser.parse_args([str(run), *flags])


def test_status_lines_come_from_the_control_endpoint(run_dir, capsys):
    assert updatectl.run(args(run_dir, "-status")) == 0
    out = capsys.readouterr().out
    assert "NEW_VERSION=1.1.0" in out and "NEW_SIZE=7" in out


def test_an_error_status_and_no_answer_are_reported_with_exit_1(run_dir, capsys):
    assert updatectl.run(args(run_dir, "-reset_status")) == 1
    assert "update-engine: core-01: update_engine answered 404" in capsys.readouterr().err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        gone = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    nodes = [{"name": "core-01", "client_url": f"http://127.0.0.1:{gone - 5}"}]
    (run_dir / "cluster.json").write_text(json.dumps({"nodes": nodes}))
    assert updatectl.run(args(run_dir, "-status")) == 1
    assert "cannot reach update_engine at" in capsys.readouterr().err
