"""What a scenario run shows while it runs (phase, ops, faults, leader) and the summary table."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

PLAIN_EVERY_S = 5.0  # without a terminal: one progress line this often


class Progress:
    def __init__(self, console: Console | None = None):
        self.console = console or (Console() if sys.stdout.isatty() else Console(width=140))
        self.live_mode = self.console.is_terminal
        self.phase = "starting"
        self.started = time.monotonic()
        self._live: Live | None = None
        self._last_plain = 0.0
        self._counts: dict[str, int] = {}
        self._report: dict[str, Any] | None = None

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        if self.live_mode:
            self._live = Live(self._line(), console=self.console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def update(self, counts: dict[str, int], report: dict[str, Any] | None) -> None:
        self._counts, self._report = dict(counts), report
        if self._live is not None:
            self._live.update(self._line())
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            self.console.print(self._line())

    def event(self, text: str) -> None:
        self.console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim] {text}")

    def _line(self) -> Text:
        c = self._counts
        total = sum(c.values())
        faults = ", ".join(f["fault"] for f in (self._report or {}).get("active_faults", []))
        leader = "-"
        for n in (self._report or {}).get("nodes", []):
            if n.get("role") == "leader" and n.get("state") == "up":
                leader = f"{n['name']} (term {n.get('term')})"
        return Text.assemble(
            (f"{time.monotonic() - self.started:6.1f}s ", "dim"),
            (f"{self.phase:<12}", "bold"),
            f" ops {total} (ok {c.get('ok', 0)}, fail {c.get('fail', 0)}, info {c.get('info', 0)})",
            f"  leader {leader}",
            ("  faults: " + (faults or "none"), "yellow" if faults else "dim"),
        )


def summary_table(results: dict[str, Any], elapsed: float | None) -> Table:
    valid = results["valid"]
    word = {True: "[green]valid[/green]", False: "[red]INVALID[/red]"}.get(
        valid, "[yellow]unknown[/yellow]"
    )
    ops = results.get("ops", {})
    table = Table(
        title=f"{results.get('scenario')} (seed {results.get('seed')}"
        f"{', unsafe reads' if results.get('unsafe_reads') else ''}): {word}"
        f"{f' in {elapsed:.0f}s' if elapsed is not None else ''}; "
        f"ops {ops.get('total', 0)}: ok {ops.get('ok', 0)}, fail {ops.get('fail', 0)}, info {ops.get('info', 0)}",
        title_justify="left",
    )
    table.add_column("checker")
    table.add_column("verdict")
    table.add_column("summary", overflow="fold")
    for name, v in results["checkers"].items():
        verdict = {True: "[green]valid[/green]", False: "[red]invalid[/red]"}.get(
            v["valid"], "[yellow]unknown[/yellow]"
        )
        table.add_row(name, verdict, v.get("summary", ""))
    return table
