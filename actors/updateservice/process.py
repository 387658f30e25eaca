"""The supervisor's handle on the run's update service process: start, stop, report.

The service runs as ``python -m actors.updateservice --run-dir DIR`` (its own process, as
CoreUpdate is its own server), dies with the supervisor (PR_SET_PDEATHSIG, like the nodes), and
writes its stderr to ``update-service.stderr`` in the run dir. ``start`` waits until the service
listens (it has written ``update-service.json`` with its own pid), so nodes started right after
find it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.updateservice.address import INFO_FILE, update_service_base
from emulator.pdeathsig import die_with_parent

MODULE = "actors.updateservice"  # in the process's command line (tests look for it)
READY_WAIT_S = 10.0


class UpdateServiceProcess:
    def __init__(self, cfg: Any, run_dir: Path, log: Callable[..., Any]):
        self.run_dir = run_dir
        self.log = log
        self.url = update_service_base(cfg)
        self.popen: subprocess.Popen | None = None
        self.down_by_fault = False

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.alive and self.popen is not None else None

    def start(self) -> bool:
        """Start it (if not running) and wait until it listens; False if it did not come up."""
        if self.alive:
            return True
        err = open(self.run_dir / "update-service.stderr", "ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--run-dir", str(self.run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            preexec_fn=die_with_parent,
            close_fds=True,
        )
        err.close()
        deadline = time.monotonic() + READY_WAIT_S
        while time.monotonic() < deadline and self.popen.poll() is None:
            if self._listening():
                self.log("update_service.up", url=self.url, pid=self.popen.pid)
                return True
            time.sleep(0.05)
        self.log("update_service.failed", level="error", url=self.url, exit=self.popen.poll(),
                 hint=str(self.run_dir / "update-service.stderr"))  # fmt: skip
        return False

    def _listening(self) -> bool:
        try:
            info = json.loads((self.run_dir / INFO_FILE).read_text())
        except (OSError, ValueError):
            return False
        return self.popen is not None and info.get("pid") == self.popen.pid

    def stop(self, timeout: float = 5.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
        self.log("update_service.stopped", url=self.url)

    def set_up(self, up: bool) -> None:
        """The ``update-service down|up`` fault."""
        self.down_by_fault = not up
        if up:
            self.start()
        else:
            self.stop()

    def report(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "omaha_url": self.url + "/v1/update/",
            "pid": self.pid,
            "state": "up" if self.alive else "down",
        }
