"""A journal per unit: one text file of lines as ``journalctl -u UNIT`` prints them.

``Dec 02 16:10:00 core-01 docker[4242]: hello`` — time (the node's clock), host, the program's
name and pid, the message; systemd's own lines come from ``systemd[1]``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

from emulator.nodeclock import NodeClock


class Journal:
    def __init__(self, directory: Path, host: str, clock: NodeClock):
        self.directory = directory
        self.host = host
        self.clock = clock
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, unit: str) -> Path:
        return self.directory / f"{unit}.log"

    def write(self, unit: str, ident: str, pid: int, message: str) -> None:
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime(self.clock.time()))
        text = "".join(
            f"{stamp} {self.host} {ident}[{pid}]: {line}\n"
            for line in message.rstrip("\n").split("\n")
        )
        with self._lock, open(self.path(unit), "a", encoding="utf-8") as f:
            f.write(text)

    def system(self, unit: str, message: str) -> None:
        self.write(unit, "systemd", 1, message)

    def lines(self, unit: str, count: int | None = None) -> list[str]:
        """The unit's journal lines, the last ``count`` of them when given."""
        try:
            with open(self.path(unit), encoding="utf-8", errors="replace") as f:
                if count is None:
                    return [line.rstrip("\n") for line in f]
                return [line.rstrip("\n") for line in deque(f, maxlen=max(count, 0))]
        except FileNotFoundError:
            return []
