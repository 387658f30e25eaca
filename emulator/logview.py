"""``run.py logs``: every node's JSON-lines log merged in time order, filtered and rendered.

Files: ``<run>/supervisor.log`` (node "launcher") and ``<run>/nodes/*/node.log``. The merge streams
(heapq over one iterator per file) so large runs are never loaded whole; a torn or garbled line is
skipped. ``--follow`` keeps polling the files, and picks up node logs that appear later.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from emulator import rundir
from emulator.nodelog import LEVELS

_LEVEL_COLOUR = {"debug": "\033[2m", "info": "", "warning": "\033[33m", "error": "\033[31;1m"}
_NODE_COLOURS = [
    "\033[36m",
    "\033[32m",
    "\033[35m",
    "\033[34m",
    "\033[33m",
    "\033[96m",
    "\033[92m",
    "\033[95m",
]
_RESET = "\033[0m"
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--node", action="append", help="only this node (repeatable); the supervisor is 'launcher'"
    )
    parser.add_argument("--actor", action="append", help="only this actor (repeatable)")
    parser.add_argument("--level", choices=LEVELS, help="this level and above")
    parser.add_argument("--grep", help="regular expression matched against the rendered line")
    parser.add_argument(
        "--since", help="from this time: 2026-11-25T20:00:00, 20:00:05 (today) or 30s/5m ago"
    )
    parser.add_argument("--until", help="up to this time (same forms as --since)")
    parser.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until Ctrl-C"
    )
    parser.add_argument("--json", action="store_true", help="raw JSON records, merged and filtered")
    parser.add_argument("--no-color", action="store_true", help="plain text")


def parse_time(text: str, now: float | None = None) -> float:
    """An absolute time, a time of day (today) or a duration before now → epoch seconds."""
    now = time.time() if now is None else now
    m = _RELATIVE.match(text.strip())
    if m:
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return now - float(m.group(1)) * scale
    for fmt in ("%H:%M:%S", "%H:%M:%S.%f", "%H:%M"):
        try:
            t = datetime.strptime(text, fmt).time()
            return datetime.combine(datetime.fromtimestamp(now).date(), t).timestamp()
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (try 2026-11-25T20:00:00, 20:00:05 or 5m)"
        ) from None


def log_files(run: Path) -> list[Path]:
    files = [run / "supervisor.log"] if (run / "supervisor.log").exists() else []
    return files + sorted((run / "nodes").glob("*/node.log"))


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            record = _parse(line)
            if record is not None:
                yield record


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None  # a torn last line, or garbage: skip it
    if not isinstance(record, dict) or not isinstance(record.get("ts"), (int, float)):
        return None
    return record


def merged(files: list[Path]) -> Iterator[dict[str, Any]]:
    streams = [((r["ts"], i, r) for r in read_records(p)) for i, p in enumerate(files)]
    for _, _, record in heapq.merge(*streams, key=lambda x: (x[0], x[1])):
        yield record


class Filter:
    def __init__(self, args: argparse.Namespace, now: float | None = None):
        self.nodes = set(args.node or ())
        self.actors = set(args.actor or ())
        self.min_level = LEVELS.index(args.level) if args.level else 0
        self.grep = re.compile(args.grep) if args.grep else None
        self.since = parse_time(args.since, now) if args.since else None
        self.until = parse_time(args.until, now) if args.until else None

    def __call__(self, record: dict[str, Any]) -> bool:
        if self.nodes and record.get("node") not in self.nodes:
            return False
        if self.actors and record.get("actor") not in self.actors:
            return False
        level = record.get("level", "info")
        if (LEVELS.index(level) if level in LEVELS else 1) < self.min_level:
            return False
        if self.since is not None and record["ts"] < self.since:
            return False
        if self.until is not None and record["ts"] > self.until:
            return False
        return self.grep is None or bool(self.grep.search(render(record, colour=False)))


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, default=str, separators=(",", ":"))
    return f'"{text}"' if isinstance(v, str) and (" " in text or not text) else text


def render(record: dict[str, Any], colour: bool, node_colours: dict[str, str] | None = None) -> str:
    stamp = datetime.fromtimestamp(record["ts"]).strftime("%H:%M:%S.%f")[:-3]
    node = str(record.get("node", "?"))
    level = str(record.get("level", "info"))
    fields = record.get("fields") or {}
    tail = (
        " ".join(f"{k}={_value(v)}" for k, v in fields.items())
        if isinstance(fields, dict)
        else str(fields)
    )
    event = str(record.get("event", ""))
    if not colour:
        return f"{stamp} {node:<8} {record.get('actor', ''):<10} {level:<7} {event} {tail}".rstrip()
    nc = (node_colours or {}).setdefault(
        node, _NODE_COLOURS[len(node_colours or {}) % len(_NODE_COLOURS)]
    )
    lc = _LEVEL_COLOUR.get(level, "")
    return (
        f"\033[2m{stamp}{_RESET} {nc}{node:<8}{_RESET} {record.get('actor', ''):<10} "
        f"{lc}{level:<7}{_RESET} {lc}{event}{_RESET} {tail}"
    ).rstrip()


def _emit(
    record: dict[str, Any], args: argparse.Namespace, colour: bool, node_colours: dict, out: TextIO
) -> None:
    if args.json:
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
    else:
        out.write(render(record, colour, node_colours) + "\n")


def _follow(
    run: Path, keep: Filter, args: argparse.Namespace, colour: bool, node_colours: dict, out: TextIO
) -> None:
    offsets: dict[Path, int] = {p: p.stat().st_size for p in log_files(run)}
    partial: dict[Path, str] = {}
    while True:
        time.sleep(0.2)
        batch = []
        for path in log_files(run):
            start = offsets.get(path, 0)
            size = path.stat().st_size
            if size <= start:
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                f.seek(start)
                chunk = partial.pop(path, "") + f.read(size - start)
            offsets[path] = size
            lines = chunk.split("\n")
            if lines[-1]:
                partial[path] = lines[-1]  # a line still being written
            for line in lines[:-1]:
                record = _parse(line)
                if record is not None and keep(record):
                    batch.append(record)
        for record in sorted(batch, key=lambda r: r["ts"]):
            _emit(record, args, colour, node_colours, out)
        out.flush()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        run_dir = rundir.resolve_run(args.run)
        keep = Filter(args)
    except (rundir.RunNotFound, ValueError, re.error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    colour = not (args.no_color or args.json or os.environ.get("NO_COLOR")) and out.isatty()
    node_colours: dict[str, str] = {}
    try:
        for record in merged(log_files(run_dir)):
            if keep(record):
                _emit(record, args, colour, node_colours, out)
        if args.follow:
            out.flush()
            _follow(run_dir, keep, args, colour, node_colours, out)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        pass
    return 0
