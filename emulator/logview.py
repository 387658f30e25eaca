"""``run.py logs``: merge the JSON-lines logs of a run in time order, filter and render them.

Theory of operation
-------------------
Every node writes ``<run>/nodes/<name>/node.log`` and the launcher writes ``<run>/supervisor.log``
(see ``emulator.nodelog``). Records are ordered by the machine's true time, not by their ``ts``:
``ts`` is the node's own wall clock, which a clock fault skews or steps back, while ``mono`` (the
machine's monotonic clock, shared by every process of the run) never is. Each file is in
``mono`` order, so the merged view is a k-way merge (``heapq.merge``) of one lazy reader per
file: memory stays at one pending record per file however large the logs are. The lines still
show each node's ``ts``, as its journal would.

A ``LogFile`` reads whole lines from its current offset to the end of the file and keeps a
partial last line back until its newline arrives, which is what ``--follow`` needs: every
``POLL_INTERVAL`` seconds ``LogTail.poll`` looks for node logs that appeared since, reads what is
new in every file and prints that batch sorted by time. A line that is not a JSON record (a
torn write from a killed node) is skipped; if a restarted node appended a good record right
after the torn fragment, that record is salvaged.

Filters (node, actor, level and above, time window, regex on the rendered line) are a frozen
``LogFilter``; times come in as numbers (``parse_when`` takes ``now``), so all of this is
testable without a clock.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from emulator.nodelog import LEVELS
from emulator.rundir import RunNotFound, resolve_run

SUPERVISOR_NODE = "launcher"
POLL_INTERVAL = 0.2
ACTOR_WIDTH = 10
LEVEL_WIDTH = 7  # len("warning")
MIN_NODE_WIDTH = 7  # len("core-01")
_SALVAGE_TRIES = 8
_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
_INFO_RANK = _LEVEL_RANK["info"]
# ``mono`` to epoch seconds on this machine (a record without ``mono`` is ordered by its ``ts``)
_MONO_TO_EPOCH = time.time() - time.monotonic()


@dataclass(frozen=True)
class LogRecord:
    ts: float  # the node's wall clock: shown
    node: str
    actor: str
    level: str
    event: str
    fields: dict[str, Any]
    raw: str  # the JSON text as read, for --json
    true_time: float | None = None  # from ``mono``; None: the record had none, its ``ts`` stands in

    @property
    def order(self) -> float:
        """What records are sorted by: the machine's true time where known."""
        return self.ts if self.true_time is None else self.true_time


def parse_record(line: str, default_node: str) -> LogRecord | None:
    """The record on one line, or None when the line is not one (blank, torn, not JSON)."""
    line = line.strip()
    if not line:
        return None
    record = _decode(line, default_node)
    start = 0
    for _ in range(_SALVAGE_TRIES):
        if record is not None:
            return record
        start = line.find('{"', start + 1)
        if start < 0:
            return None
        record = _decode(line[start:], default_node)
    return record


def _decode(text: str, default_node: str) -> LogRecord | None:
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    ts = obj.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return None
    fields = obj.get("fields")
    if not isinstance(fields, dict):
        fields = {} if fields is None else {"fields": fields}
    mono = obj.get("mono")
    return LogRecord(
        ts=float(ts),
        true_time=mono + _MONO_TO_EPOCH if type(mono) in (int, float) else None,
        node=_text(obj.get("node"), default_node),
        actor=_text(obj.get("actor"), "-"),
        level=_text(obj.get("level"), "info"),
        event=_text(obj.get("event"), ""),
        fields=fields,
        raw=text,
    )


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


class LogFile:
    """One log file read incrementally from where the last read stopped."""

    def __init__(self, path: Path, node: str):
        self.path = path
        self.node = node
        self._fh = open(path, "rb")  # kept open for --follow
        self._ino = os.fstat(self._fh.fileno()).st_ino
        self._partial = b""

    def read_available(self, final: bool = False) -> Iterator[LogRecord]:
        """Records on the complete lines up to the end of the file, lazily.

        With ``final`` a last line without its newline is read too; otherwise it waits for the
        next call (the writer may be half-way through it).
        """
        self._check_replaced()
        while True:
            chunk = self._fh.read(65536)
            if not chunk:
                break
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            for raw in lines:
                record = parse_record(raw.decode("utf-8", "replace"), self.node)
                if record is not None:
                    yield record
        if final and self._partial:
            record = parse_record(self._partial.decode("utf-8", "replace"), self.node)
            self._partial = b""
            if record is not None:
                yield record

    def _check_replaced(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if st.st_ino != self._ino or st.st_size < self._fh.tell():
            self._fh.close()
            self._fh = open(self.path, "rb")
            self._ino = os.fstat(self._fh.fileno()).st_ino
            self._partial = b""

    def close(self) -> None:
        self._fh.close()


def log_paths(run: Path) -> list[tuple[str, Path]]:
    """(node, path) of every log in a run: the supervisor's first, then nodes by name."""
    found = []
    supervisor = run / "supervisor.log"
    if supervisor.is_file():
        found.append((SUPERVISOR_NODE, supervisor))
    for path in sorted((run / "nodes").glob("*/node.log")):
        found.append((path.parent.name, path))
    return found


def merge(streams: Iterable[Iterator[LogRecord]]) -> Iterator[LogRecord]:
    """One stream in true-time order from per-file streams that are each in that order."""
    return heapq.merge(*streams, key=lambda record: record.order)


class LogTail:
    """The logs of a run as they grow: ``poll`` returns what was written since the last call."""

    def __init__(self, run: Path):
        self.run = run
        self.files: dict[Path, LogFile] = {}

    def discover(self) -> list[LogFile]:
        """Open the logs that appeared since the last look; returns the newly opened ones."""
        new = []
        for node, path in log_paths(self.run):
            if path not in self.files:
                try:
                    self.files[path] = LogFile(path, node)
                except FileNotFoundError:
                    continue
                new.append(self.files[path])
        return new

    def initial(self) -> Iterator[LogRecord]:
        """Everything already in the logs, merged in time order, streaming."""
        self.discover()
        return merge(f.read_available() for f in list(self.files.values()))

    def poll(self) -> list[LogRecord]:
        self.discover()
        batch = [r for f in list(self.files.values()) for r in f.read_available()]
        batch.sort(key=lambda record: record.order)
        return batch

    def close(self) -> None:
        for f in self.files.values():
            f.close()


@dataclass(frozen=True)
class LogFilter:
    nodes: frozenset[str] = frozenset()  # empty: all
    actors: frozenset[str] = frozenset()
    min_level: str = "debug"
    pattern: re.Pattern[str] | None = None
    since: float | None = None
    until: float | None = None

    def accepts_fields(self, record: LogRecord) -> bool:
        """The cheap checks, done before a line is rendered."""
        if self.nodes and record.node not in self.nodes:
            return False
        if self.actors and record.actor not in self.actors:
            return False
        if _LEVEL_RANK.get(record.level, _INFO_RANK) < _LEVEL_RANK[self.min_level]:
            return False
        if self.since is not None and record.ts < self.since:
            return False
        return self.until is None or record.ts <= self.until

    def accepts_line(self, plain_line: str) -> bool:
        return self.pattern is None or self.pattern.search(plain_line) is not None


_SIMPLE_VALUE = re.compile(r'[^\s"=]+')
_RESET = "\x1b[0m"
_LEVEL_COLORS = {
    "debug": "\x1b[2m",
    "info": "\x1b[32m",
    "warning": "\x1b[33m",
    "error": "\x1b[1;31m",
}
_NODE_COLORS = ("36", "35", "34", "32", "33", "96", "95", "94", "92", "93")


def format_value(value: Any) -> str:
    """A field value as logfmt would show it: bare when it can be, JSON otherwise."""
    if isinstance(value, str):
        return value if _SIMPLE_VALUE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def format_clock(ts: float) -> str:
    millis = int(round(ts * 1000))
    return time.strftime("%H:%M:%S", time.localtime(millis // 1000)) + f".{millis % 1000:03d}"


class Renderer:
    """Renders records as one readable line each, optionally with ANSI colours."""

    def __init__(self, nodes: Iterable[str] = (), color: bool = False):
        self.color = color
        self._node_colors: dict[str, str] = {SUPERVISOR_NODE: "1;37"}
        self.node_width = MIN_NODE_WIDTH
        for node in sorted(nodes):
            self._see(node)

    def _see(self, node: str) -> str:
        code = self._node_colors.get(node)
        if code is None:
            code = _NODE_COLORS[(len(self._node_colors) - 1) % len(_NODE_COLORS)]
            self._node_colors[node] = code
        self.node_width = max(self.node_width, len(node))
        return code

    def parts(self, record: LogRecord) -> tuple[str, str, str, str, str, str]:
        fields = " ".join(f"{k}={format_value(v)}" for k, v in record.fields.items())
        return (
            format_clock(record.ts),
            record.node.ljust(self.node_width),
            record.actor.ljust(ACTOR_WIDTH),
            record.level.ljust(LEVEL_WIDTH),
            record.event,
            fields,
        )

    def plain(self, record: LogRecord) -> str:
        self._see(record.node)
        return " ".join(p for p in self.parts(record) if p)

    def colored(self, record: LogRecord) -> str:
        node_code = self._see(record.node)
        clock, node, actor, level, event, fields = self.parts(record)
        level_code = _LEVEL_COLORS.get(record.level, "")
        out = [
            f"\x1b[2m{clock}{_RESET}",
            f"\x1b[{node_code}m{node}{_RESET}",
            actor,
            f"{level_code}{level}{_RESET}" if level_code else level,
            f"\x1b[1m{event}{_RESET}" if event else "",
            f"\x1b[2m{fields}{_RESET}" if fields else "",
        ]
        return " ".join(p for p in out if p)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_CLOCK_ONLY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")


def parse_duration(text: str) -> float | None:
    """Seconds in "30s", "5m", "1h30m", "250ms"; None when the text is not a duration."""
    if not text or _DURATION_PART.sub("", text):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def parse_when(text: str, now: float) -> float:
    """Epoch seconds for --since/--until: ISO date-time (local unless it says), a time of day
    today, or a duration meaning that long before ``now``."""
    text = text.strip()
    ago = parse_duration(text)
    if ago is not None:
        return now - ago
    try:
        if _CLOCK_ONLY.fullmatch(text):
            today = datetime.fromtimestamp(now).date().isoformat()
            return datetime.fromisoformat(f"{today}T{text.zfill(5)}").timestamp()
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    raise ValueError(
        f"can't read the time {text!r}: use a date-time (2026-11-25T20:00:00), "
        "a time today (20:00:05) or how long ago (30s, 5m, 2h)"
    )


def show(
    run: Path,
    filt: LogFilter,
    out: TextIO,
    *,
    as_json: bool = False,
    color: bool = False,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print a run's logs; with ``follow`` keep printing new lines until KeyboardInterrupt."""
    tail = LogTail(run)
    try:
        initial = tail.initial()
        if not tail.files and not follow:
            print(f"logs: no log files in {run}", file=sys.stderr)
            return 1
        renderer = Renderer((f.node for f in tail.files.values()), color=color)
        _print_records(initial, filt, renderer, out, as_json)
        if not follow:
            return 0
        while True:
            out.flush()
            sleep(POLL_INTERVAL)
            _print_records(tail.poll(), filt, renderer, out, as_json)
    except KeyboardInterrupt:
        return 0
    finally:
        tail.close()


def _print_records(
    records: Iterable[LogRecord], filt: LogFilter, renderer: Renderer, out: TextIO, as_json: bool
) -> None:
    for record in records:
        if not filt.accepts_fields(record):
            continue
        plain = renderer.plain(record)
        if not filt.accepts_line(plain):
            continue
        if as_json:
            out.write(record.raw + "\n")
        else:
            out.write((renderer.colored(record) if renderer.color else plain) + "\n")


def configure(parser: argparse.ArgumentParser) -> None:
    if not any(action.dest == "run" for action in parser._actions):  # cli may have added it
        parser.add_argument("run", nargs="?", help="run dir or cluster name (default: latest)")
    parser.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="NAME",
        help="only this node (repeatable; the supervisor is 'launcher')",
    )
    parser.add_argument(
        "--actor", action="append", default=[], metavar="NAME", help="only this actor (repeatable)"
    )
    parser.add_argument("--level", choices=LEVELS, default="debug", help="this level and above")
    parser.add_argument("--grep", metavar="RE", help="regex matched against the rendered line")
    parser.add_argument("--since", metavar="T", help="2026-11-25T20:00:00, 20:00:05 or 5m (ago)")
    parser.add_argument("--until", metavar="T", help="same forms as --since")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    parser.add_argument("--json", action="store_true", help="print the raw JSON records")
    parser.add_argument("--no-color", action="store_true", help="no ANSI colours")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    try:
        run_dir = resolve_run(args.run)
    except RunNotFound as exc:
        print(f"logs: {exc}", file=sys.stderr)
        return 1
    now = time.time()
    try:
        pattern = re.compile(args.grep) if args.grep else None
        since = parse_when(args.since, now) if args.since else None
        until = parse_when(args.until, now) if args.until else None
    except (re.error, ValueError) as exc:
        print(f"logs: {exc}", file=sys.stderr)
        return 2
    filt = LogFilter(frozenset(args.node), frozenset(args.actor), args.level, pattern, since, until)
    known = {node for node, _ in log_paths(run_dir)}
    unknown = sorted(set(args.node) - known) if not args.follow else []
    for node in unknown:  # with --follow it may still appear
        listed = ", ".join(sorted(known)) or "none"
        print(f"logs: no log for node {node!r} in {run_dir} (nodes: {listed})", file=sys.stderr)
    out = out or sys.stdout
    color = not args.json and not args.no_color and not os.environ.get("NO_COLOR") and out.isatty()
    try:
        return show(run_dir, filt, out, as_json=args.json, color=color, follow=args.follow)
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
