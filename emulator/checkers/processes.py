"""The ``no-processes-left`` checker: after the run went down, none of its processes runs."""

from __future__ import annotations

from emulator.checkers.registry import RunData, Verdict, register


@register("no-processes-left", "no node or supervisor process of the run is left after it")
def check_processes(data: RunData) -> Verdict:
    if data.leftover is None:
        return Verdict("no-processes-left", "unknown", "the run recorded no process check")
    if data.leftover:
        return Verdict("no-processes-left", False, f"{len(data.leftover)} process(es) left",
                       {"pids": data.leftover}, [f"pid {p}" for p in data.leftover])  # fmt: skip
    return Verdict("no-processes-left", True, "nothing of the run was still running after it")
