"""``run.py check [RUN]``: recompute a stored run's verdict (results.json, report.html) offline."""

from __future__ import annotations

import argparse

from emulator import rundir
from emulator.scenario.cli import finish
from emulator.scenario.progress import Progress


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check a stored scenario run again from its files (history.jsonl, node logs, status "
        "samples) and rewrite results.json and report.html. Exit 0 valid, 1 invalid, 2 unknown."
    )
    parser.add_argument("run", nargs="?", help="run dir or cluster name (default: runs/latest)")


def run(args: argparse.Namespace) -> int:
    try:
        run_dir = rundir.resolve_run(args.run)
    except rundir.RunNotFound as exc:
        raise SystemExit(f"error: {exc}") from None
    if not (run_dir / "history.jsonl").exists():
        raise SystemExit(f"error: {run_dir} has no history.jsonl to check")
    return finish(run_dir, Progress(), None)
