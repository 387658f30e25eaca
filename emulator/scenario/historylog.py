"""Appending to a run's ``history.jsonl`` from the scenario runner, alongside the supervisor.

Both processes append to the same file. Each record here is one ``os.write`` of one whole line
on a descriptor opened with ``O_APPEND``: the kernel places each such write at the end of the
file atomically, so lines from the two writers never interleave. Client threads share one
writer; the lock only keeps the op counter and the write together.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class HistoryAppender:
    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def record(self, type_: str, **fields: Any) -> dict[str, Any]:
        entry = {"ts": round(time.time(), 6), "mono": round(time.monotonic(), 6), "type": type_}
        entry.update(fields)
        line = (json.dumps(entry, default=str, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
        return entry

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
