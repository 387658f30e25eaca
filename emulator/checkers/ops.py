"""Client operations as checkers see them, read back from a run's ``history.jsonl``.

The runner writes two lines per operation, as Jepsen does: ``{"type": "op", "phase": "invoke",
"op": id, "process", "f", "key", "value", "node"}`` when a client sends it and ``{"type": "op",
"phase": "complete", "op": id, "outcome": "ok"|"fail"|"info", "value", "error"}`` when it learns
the answer. :func:`ops_from_history` pairs them into :class:`Op` records; an invoke with no
complete line (the runner died) is an ``info`` op: its effect is unknown.

Values: a ``write`` carries the value written, a ``cas`` the pair ``[expected, new]``, a ``read``
the value it observed (``None``: the key did not exist).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


class Outcome(str, Enum):
    OK = "ok"
    FAIL = "fail"  # the op certainly did not take effect
    INFO = "info"  # unknown: it may or may not have taken effect (timeouts, lost leaders)


@dataclass(frozen=True)
class Op:
    id: int
    process: int
    f: str  # read | write | cas
    key: str
    value: Any
    outcome: Outcome
    invoke: float  # seconds since the history began (monotonic clock)
    complete: float | None  # None: never answered (info)
    node: str = ""
    error: str = ""

    def describe(self) -> str:
        if self.f == "cas":
            expected, new = self.value
            what = f"cas({expected!r}->{new!r})"
        elif self.f == "write":
            what = f"write({self.value!r})"
        else:
            what = f"read()={self.value!r}" if self.outcome is Outcome.OK else "read()"
        span = "∞" if self.complete is None else f"{self.complete:.4f}"
        return (
            f"#{self.id} p{self.process} {self.key} {what} {self.outcome.value} "
            f"[{self.invoke:.4f}s, {span}s] via {self.node}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "process": self.process,
            "f": self.f,
            "key": self.key,
            "value": self.value,
            "outcome": self.outcome.value,
            "invoke": self.invoke,
            "complete": self.complete,
            "node": self.node,
            "error": self.error,
        }


def read_history(path: Path) -> list[dict[str, Any]]:
    """Every whole JSON line of a history file (a torn last line is skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def history_origin(entries: Sequence[dict[str, Any]]) -> float:
    """The monotonic time the history starts at: times are shown as seconds since then."""
    return float(entries[0]["mono"]) if entries else 0.0


def ops_from_history(entries: Sequence[dict[str, Any]]) -> list[Op]:
    """Pair invoke and complete lines into ops, in invoke order; times from the history's start."""
    origin = history_origin(entries)
    invokes: dict[int, dict[str, Any]] = {}
    completes: dict[int, dict[str, Any]] = {}
    for e in entries:
        if e.get("type") != "op":
            continue
        if e.get("phase") == "invoke":
            invokes[int(e["op"])] = e
        elif e.get("phase") == "complete":
            completes[int(e["op"])] = e
    ops = []
    for oid, inv in invokes.items():
        done = completes.get(oid)
        outcome = Outcome(done["outcome"]) if done else Outcome.INFO
        value = inv.get("value")
        if inv["f"] == "read":
            value = done.get("value") if done and outcome is Outcome.OK else None
        elif inv["f"] == "cas" and value is not None:
            value = tuple(value)
        ops.append(
            Op(
                id=oid,
                process=int(inv.get("process", 0)),
                f=inv["f"],
                key=str(inv["key"]),
                value=value,
                outcome=outcome,
                invoke=float(inv["mono"]) - origin,
                complete=float(done["mono"]) - origin
                if done and outcome is not Outcome.INFO
                else None,
                node=str(inv.get("node", "")),
                error=str(done.get("error", "")) if done else "no answer recorded",
            )
        )
    ops.sort(key=lambda o: (o.invoke, o.id))
    return ops


def by_key(ops: Iterable[Op]) -> dict[str, list[Op]]:
    out: dict[str, list[Op]] = {}
    for op in ops:
        out.setdefault(op.key, []).append(op)
    return out


def op_lines(ops: Iterable[Op]) -> Iterator[str]:
    for op in ops:
        yield op.describe()
