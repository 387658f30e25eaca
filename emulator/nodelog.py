"""Structured logs: one JSON object a line, written by every node and by the supervisor.

Each record has ``ts`` (the node's wall clock, epoch seconds: a clock-skew or clock-strobe fault
shows here), ``mono`` (the machine's true monotonic seconds, never skewed), ``node``,
``actor``, ``level``, ``event`` and ``fields`` (a dict). ``emulator.logview`` merges and renders them.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from emulator.nodeclock import NodeClock

LEVELS = ("debug", "info", "warning", "error")


class NodeLog:
    """Thread-safe JSON-lines writer; one per process."""

    def __init__(
        self,
        node: str,
        path: Path | None,
        echo: TextIO | None = None,
        clock: NodeClock | None = None,
    ):
        self.node = node
        self.clock = clock or NodeClock()  # the node shares it with its parts (NodeContext.clock)
        self._lock = threading.Lock()
        self._file = open(path, "a", buffering=1, encoding="utf-8") if path else None
        self._echo = echo

    def event(self, actor: str, event: str, level: str = "info", **fields: Any) -> None:
        record = {
            "ts": round(self.clock.time(), 6),
            "mono": round(time.monotonic(), 6),
            "node": self.node,
            "actor": actor,
            "level": level,
            "event": event,
            "fields": fields,
        }
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file:
                self._file.write(line)
            if self._echo:
                self._echo.write(line)
                self._echo.flush()

    def for_actor(self, actor: str) -> ActorLog:
        return ActorLog(self, actor)

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None


class ActorLog:
    """A NodeLog bound to one actor name."""

    def __init__(self, log: NodeLog, actor: str):
        self._log = log
        self.actor = actor

    @property
    def clock(self) -> NodeClock:
        """The node's wall clock (the one its records are stamped with)."""
        return self._log.clock

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        self._log.event(self.actor, event, level, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log.event(self.actor, event, "warning", **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log.event(self.actor, event, "error", **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._log.event(self.actor, event, "debug", **fields)
