"""Waiting on conditions and finding a test's own processes, for tests that run real children."""

from __future__ import annotations

import os
import time
from pathlib import Path


def procs_under(root: Path) -> list[int]:
    """Live (not zombie) processes whose working directory is inside ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cwd.startswith(str(root)):
            found.append(int(entry.name))
    return found


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something true; the timeout only stops hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
