"""The step kinds and wait-for conditions every scenario has: load under faults, heal, final
reads, one-off faults, waiting for the cluster to reach a state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Kind, ProblemLog, YNode
from emulator.faults import FaultError, parse_fault
from emulator.scenario.steps import (
    CONDITIONS,
    StepContext,
    condition,
    read_duration,
    read_nothing,
    register,
)

FINAL_READ_TIMEOUT_S = 15.0


@register("faults", read_duration, "run the workload with the nemesis for a duration")
def run_faults(ctx: StepContext, seconds: float) -> None:
    ctx.set_phase("faults")
    ctx.run_nemesis(seconds)


@register("heal", read_duration, "end every fault, then keep the workload going for a duration")
def run_heal(ctx: StepContext, seconds: float) -> None:
    ctx.set_phase("heal")
    ctx.heal()
    ctx.wait(seconds)


@register("load", read_duration, "run the workload without new faults for a duration")
def run_load(ctx: StepContext, seconds: float) -> None:
    ctx.set_phase("load")
    ctx.wait(seconds)


@register("final-reads", read_nothing, "stop the workload; quorum-read every key", bare=True)
def run_final_reads(ctx: StepContext, _: None) -> None:
    ctx.set_phase("final reads")
    ctx.stop_workload()
    ctx.final_reads(FINAL_READ_TIMEOUT_S)


@dataclass(frozen=True)
class OneFault:
    fault: dict[str, Any]
    duration: float | None


def read_one_fault(node: YNode, log: ProblemLog, names: Sequence[str]) -> OneFault | None:
    if node.kind is not Kind.MAP:
        log.error(
            node, f"expected a fault mapping like {{kill: leader, for: 3s}}, got {node.describe()}"
        )
        return None
    duration = None
    for_e = node.get("for")
    if for_e is not None:
        duration = read_duration(for_e.node, log, names)
    rest = {e.key: e.node.to_plain() for e in node.entries if ys.norm(e.key) != "for"}
    try:
        parse_fault(rest, names)
    except FaultError as exc:
        entry = node.get(exc.key) if exc.key else None
        log.error(entry or node, exc.message)
        return None
    return OneFault(rest, duration)


@register("fault", read_one_fault, "inject one fault now (optionally `for: 3s`)")
def run_fault(ctx: StepContext, params: OneFault) -> None:
    ctx.fault(params.fault, params.duration)


@dataclass(frozen=True)
class WaitFor:
    condition: str
    timeout: float
    value: Any = None  # e.g. the version of all-on-version


def read_wait_for(node: YNode, log: ProblemLog, names: Sequence[str]) -> WaitFor | None:
    """``wait-for: leader`` or ``wait-for: {condition: all-on-version, value: 1.1.0,
    timeout: 60s}``."""
    value = None
    if node.kind is Kind.SCALAR:
        cond_node, timeout = node, 30.0
    else:
        sec = ys.read_section(
            node, {"condition": lambda n: n, "timeout": ys.seconds, "value": ys.text}, log
        )
        cond_node, timeout, value = sec.get("condition"), sec.get("timeout", 30.0), sec.get("value")
        if cond_node is None:
            log.error(node, "'condition' is required")
            return None
    try:
        name = ys.text(cond_node)
    except ValueError as exc:
        log.error(cond_node, str(exc))
        return None
    if name not in CONDITIONS:
        log.error(cond_node, f"unknown condition {name!r} (known: {', '.join(sorted(CONDITIONS))})")
        return None
    return WaitFor(name, timeout, value)


@register("wait-for", read_wait_for, "wait until a condition on the cluster's status holds")
def run_wait_for(ctx: StepContext, params: WaitFor) -> None:
    ctx.set_phase(f"wait for {params.condition}")
    waited = 0.0
    while waited < params.timeout:
        report = ctx.status()
        if report is not None and CONDITIONS[params.condition](report, params.value):
            return
        if not ctx.wait(0.5):
            return
        waited += 0.5
    ctx.note(f"wait-for {params.condition}: not met within {params.timeout:g}s")


# --- conditions -----------------------------------------------------------------------------
def _members(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in report.get("nodes", []) if n.get("role") not in (None, "proxy")]


@condition("all-up")
def all_up(report: dict[str, Any], _: Any = None) -> bool:
    return all(n.get("state") == "up" for n in report.get("nodes", []))


@condition("leader")
def one_leader(report: dict[str, Any], _: Any = None) -> bool:
    """Every node up and every member agrees on one leader."""
    members = _members(report)
    leaders = {n.get("leader") for n in members}
    return all_up(report) and bool(members) and len(leaders) == 1 and None not in leaders


@condition("no-faults")
def no_faults(report: dict[str, Any], _: Any = None) -> bool:
    return not report.get("active_faults")
