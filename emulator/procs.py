"""Node processes as the supervisor sees them: launch, signal, reap, and the state users see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from emulator.node import REBOOT_EXIT_CODE
from emulator.pdeathsig import die_with_parent


class NodeState(str, Enum):
    STARTING = "starting"
    UP = "up"
    DOWN = "down"
    PAUSED = "paused"
    REBOOTING = "rebooting"


@dataclass
class NodeProcess:
    name: str
    config: Path
    data_dir: Path
    seed: int
    popen: subprocess.Popen | None = None
    state: NodeState = NodeState.DOWN
    started_mono: float = 0.0
    expected_exit: bool = False  # we killed/stopped it on purpose
    restarts: int = 0
    last_exit: int | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen and self.popen.poll() is None else None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def launch(self, rebooting: bool = False) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        err = open(self.data_dir / "stderr.log", "ab")
        cmd = [
            sys.executable,
            "-m",
            "emulator.node",
            "--config",
            str(self.config),
            "--node",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--seed",
            str(self.seed),
        ]
        self.popen = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            preexec_fn=die_with_parent,  # the supervisor gone: the node gets SIGTERM
            close_fds=True,
        )
        err.close()
        self.state = NodeState.REBOOTING if rebooting else NodeState.STARTING
        self.started_mono = time.monotonic()
        self.expected_exit = False

    def signal(self, sig: int) -> bool:
        if not self.alive:
            return False
        os.kill(self.popen.pid, sig)
        return True

    def poll_exit(self) -> int | None:
        """The exit code if the process ended since the last call (and it was running)."""
        if self.popen is None or self.state is NodeState.DOWN:
            return None
        code = self.popen.poll()
        if code is None:
            return None
        self.last_exit = code
        return code

    def terminate(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; waits for the process to be gone."""
        if self.popen is None:
            return
        self.expected_exit = True
        if self.popen.poll() is None:
            self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.state = NodeState.DOWN

    def kill(self) -> None:
        if self.popen is None:
            return
        self.expected_exit = True
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)
        self.state = NodeState.DOWN

    @property
    def wants_reboot(self) -> bool:
        return self.last_exit == REBOOT_EXIT_CODE
