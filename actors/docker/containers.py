"""Containers as the daemon keeps them, and how ``docker ps`` shows them (pure formatting)."""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_LEFT = ("admiring", "brave", "clever", "dreamy", "eager", "focused", "gallant", "happy", "jolly",
         "keen", "loving", "modest", "nifty", "optimistic", "quirky", "serene", "trusting", "vibrant")  # fmt: skip
_RIGHT = ("babbage", "curie", "dijkstra", "euclid", "feynman", "goldberg", "hopper", "knuth",
          "lamport", "lovelace", "noether", "pike", "ritchie", "shannon", "thompson", "turing")  # fmt: skip


def random_name(rng: random.Random, taken: set[str]) -> str:
    """docker's adjective_scientist names."""
    while True:
        name = f"{rng.choice(_LEFT)}_{rng.choice(_RIGHT)}"
        if name not in taken:
            return name


@dataclass
class Container:
    id: str
    name: str
    image: str  # as the user wrote it
    cmd: list[str]
    created: float  # node clock
    ports: list[tuple[str, int, int]]  # (host address, host port, container port)
    env: list[str]
    auto_remove: bool
    dir: Path
    status: str = "created"  # created | running | exited
    pid: int = 0
    exit_code: int = 0
    started: float = 0.0
    finished: float = 0.0
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.dir / "container.log"

    @property
    def running(self) -> bool:
        return self.status == "running"

    def record(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "popen"}
        d["dir"] = str(self.dir)
        return d

    def save(self) -> None:
        """config.json beside the log, so users can look at a container's state."""
        (self.dir / "config.json").write_text(json.dumps(self.record(), indent=1), encoding="utf-8")


def human_duration(seconds: float) -> str:
    """docker's go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    return f"{h // 24} days"


def ps_status(c: dict, now: float) -> str:
    if c["status"] == "running":
        return f"Up {human_duration(now - c['started'])}"
    if c["status"] == "created":
        return "Created"
    return f"Exited ({c['exit_code']}) {human_duration(now - c['finished'])} ago"


def ps_table(rows: list[dict], now: float, no_trunc: bool = False) -> str:
    """``docker ps`` columns, padded as its tabwriter does (three spaces between columns)."""
    head = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
    lines = [head]
    for c in rows:
        command = " ".join(c["cmd"]) or c["default_cmd"]
        if not no_trunc and len(command) > 20:
            command = command[:19] + "…"
        ports = (
            ", ".join(f"{a}:{h}->{p}/tcp" for a, h, p in c["ports"])
            if c["status"] == "running"
            else ""
        )
        lines.append((
            c["id"] if no_trunc else c["id"][:12], c["image"], f'"{command}"',
            f"{human_duration(now - c['created'])} ago", ps_status(c, now), ports, c["name"],
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    return "\n".join(
        "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in lines
    )
