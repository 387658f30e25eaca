"""A child started with ``die_with_parent`` ends when its parent is SIGKILLed (nodes, the update
service and units' guards rely on it to leave nothing running after a crash)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.proc_waits import procs_under, wait_until

REPO = Path(__file__).resolve().parent.parent

# The parent starts a sleeping child (with or without the hook), says its pid, then waits.
PARENT = """
import subprocess, sys, time
from emulator.pdeathsig import die_with_parent
hook = die_with_parent if sys.argv[1] == "hook" else None
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=hook)
print(child.pid, flush=True)
time.sleep(60)
"""


def _start_parent(tmp_path, mode: str) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    return parent, child


@pytest.mark.parametrize("mode", ["hook", "none"])
def test_a_child_ends_with_its_sigkilled_parent_only_when_started_with_the_hook(tmp_path, mode):
    parent, child = _start_parent(tmp_path, mode)
    try:
        assert child in procs_under(tmp_path)
        parent.kill()
        parent.wait(timeout=10)
        if mode == "hook":
            wait_until(lambda: child not in procs_under(tmp_path), 10, "the orphan's SIGTERM")
        else:  # the check can fail: without the hook the orphan lives on
            assert child in procs_under(tmp_path)
    finally:
        parent.stdout.close()
        for pid in procs_under(tmp_path):
            os.kill(pid, signal.SIGKILL)
