"""The checker registry: each checker takes what a run left behind and gives a verdict.

A checker is a pure function ``RunData -> Verdict`` registered under a name; the scenario file
lists names (default: every checker marked default). Later parts (reboot lock, update
convergence, fleet placement) register theirs from their own module in ``CHECKER_MODULES``;
neither the scenario runner nor ``run.py check`` changes. Loading a run from disk is
:mod:`emulator.checkers.rundata`'s job; nothing here does I/O.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.checkers.ops import Op

UNKNOWN = "unknown"

# Modules that register checkers when imported.
CHECKER_MODULES: tuple[str, ...] = (
    "emulator.checkers.linearizability",
    "emulator.checkers.survival",
    "emulator.checkers.raftlogs",
    "emulator.checkers.processes",
    "emulator.checkers.updates",
    "emulator.checkers.fleet",
)


@dataclass
class RunData:
    """Everything a checker may look at, already read from the run dir."""

    history: list[dict[str, Any]]  # history.jsonl lines
    ops: list[Op]
    node_logs: dict[str, list[dict[str, Any]]]  # node -> node.log records (dicts)
    status: list[dict[str, Any]]  # status samples the runner recorded
    leftover: list[int] | None  # pids of the run still alive after it ended; None: not known
    scenario: dict[str, Any]  # scenario.json (keys, options)
    options: dict[str, Any] = field(default_factory=dict)  # e.g. time limits


@dataclass
class Verdict:
    name: str
    valid: bool | str  # True, False or "unknown"
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    counterexample: list[str] | None = None  # human lines when invalid

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": self.valid, "summary": self.summary, **self.details}
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
        return out


CheckFn = Callable[[RunData], Verdict]


@dataclass(frozen=True)
class CheckerSpec:
    name: str
    run: CheckFn
    help: str
    default: bool


CHECKERS: dict[str, CheckerSpec] = {}


def register(name: str, help: str, default: bool = True) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        CHECKERS[name] = CheckerSpec(name, fn, help, default)
        return fn

    return deco


def load_checkers() -> None:
    for module in CHECKER_MODULES:
        importlib.import_module(module)


def default_checkers() -> list[str]:
    load_checkers()
    return [c.name for c in CHECKERS.values() if c.default]


def combine(verdicts: list[Verdict]) -> bool | str:
    """Invalid if any is; else unknown if any is; else valid."""
    values = [v.valid for v in verdicts]
    if False in values:
        return False
    if UNKNOWN in values:
        return UNKNOWN
    return True


def run_checkers(names: list[str], data: RunData) -> list[Verdict]:
    load_checkers()
    out = []
    for name in names:
        spec = CHECKERS.get(name)
        if spec is None:
            out.append(Verdict(name, UNKNOWN, f"no checker named {name!r} is registered"))
            continue
        try:
            out.append(spec.run(data))
        except Exception as exc:  # a checker's bug must not hide the other verdicts
            out.append(Verdict(name, UNKNOWN, f"checker failed: {type(exc).__name__}: {exc}"))
    return out
