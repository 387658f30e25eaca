"""Step kinds: the registry a scenario's ``phases:`` are read and run from.

A phase is a mapping with one step kind as its key (``faults: 20s``, ``heal: 5s``,
``wait-for: {condition: leader, timeout: 10s}``) or a bare kind (``final-reads``). Each kind
registers a *reader* (pure: the YAML node and the cluster's node names → its parameters, problems
to the ProblemLog) and a *runner* (does it against the live cluster through a
:class:`StepContext`). Later parts (updates, fleet) add kinds with :func:`register` from their
own module, listed in ``STEP_MODULES``; the scenario runner's core does not change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Kind, ProblemLog, YNode

# Modules that register step kinds (and conditions) when imported.
STEP_MODULES: tuple[str, ...] = ("emulator.scenario.etcdsteps", "emulator.scenario.partsteps")


class StepContext(Protocol):
    """What a step runner may do with the run (implemented by the runner)."""

    seed: int
    run: Path  # the run dir

    def set_phase(self, name: str) -> None: ...
    def wait(self, seconds: float) -> bool: ...  # False: the time limit or Ctrl-C ended it
    def fault(self, fault: dict[str, Any], duration: float | None) -> bool: ...
    def heal(self) -> None: ...
    def run_nemesis(self, seconds: float) -> None: ...
    def status(self) -> dict[str, Any] | None: ...
    def stop_workload(self) -> None: ...
    def final_reads(self, timeout: float) -> None: ...
    def note(self, text: str) -> None: ...
    def record(self, type_: str, **fields: Any) -> None: ...  # a line in history.jsonl
    def urls(self) -> dict[str, str]: ...  # node -> etcd client URL


Reader = Callable[[YNode, ProblemLog, Sequence[str]], Any]
Runner = Callable[[StepContext, Any], None]


@dataclass(frozen=True)
class StepKind:
    name: str
    read: Reader
    run: Runner
    help: str
    bare: bool = False  # may be written as a bare word (``- final-reads``)


STEP_KINDS: dict[str, StepKind] = {}

# Conditions for ``wait-for``: (status report, the condition's value or None) → met?
# Also a registry, for later parts.
Condition = Callable[[dict[str, Any], Any], bool]
CONDITIONS: dict[str, Condition] = {}


def register(name: str, read: Reader, help: str, bare: bool = False) -> Callable[[Runner], Runner]:
    def deco(run: Runner) -> Runner:
        STEP_KINDS[name] = StepKind(name, read, run, help, bare)
        return run

    return deco


def condition(name: str) -> Callable[[Condition], Condition]:
    def deco(fn: Condition) -> Condition:
        CONDITIONS[name] = fn
        return fn

    return deco


def load_step_modules() -> None:
    for module in STEP_MODULES:
        importlib.import_module(module)


# --- readers shared by step kinds -----------------------------------------------------------
def read_duration(node: YNode, log: ProblemLog, names: Sequence[str]) -> float | None:
    try:
        return ys.seconds(node)
    except ValueError as exc:
        log.error(node, str(exc))
        return None


def read_nothing(node: YNode, log: ProblemLog, names: Sequence[str]) -> None:
    if not node.is_null and not (node.kind is Kind.SCALAR and node.value is True):
        log.error(node, f"takes no argument, got {node.describe()}")
    return None
