"""``history.jsonl``: what happened to the cluster, for reports and checkers.

One JSON object a line: ``{"ts", "mono", "type", ...}`` — faults (phase start/end), node process
events (launched, exited, rebooting), and later client operations with invoke/complete times.
Each line is flushed at once so a crash loses nothing already said.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class History:
    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", buffering=1, encoding="utf-8")

    def record(self, type_: str, **fields: Any) -> None:
        entry = {"ts": round(time.time(), 6), "mono": round(time.monotonic(), 6), "type": type_}
        entry.update(fields)
        self._file.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._file.close()
