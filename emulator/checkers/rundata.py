"""Reading a stored run into :class:`RunData`, checking it, and writing ``results.json``.

This is the I/O shell around the pure checkers: ``run.py run`` calls :func:`check_run` after the
cluster is down, ``run.py check RUN`` calls it again on a stored run (same files, same verdict).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from emulator.checkers.ops import ops_from_history, read_history
from emulator.checkers.registry import RunData, Verdict, combine, default_checkers, run_checkers

SCENARIO_JSON = "scenario.json"
STATUS_JSONL = "status.jsonl"
LEFTOVER_JSON = "leftover.json"
RESULTS_JSON = "results.json"
# What checkers read of node logs (the rest is skipped unread: node logs are big).
NODE_LOG_EVENTS = (
    "raft.leader_changed",
    "raft.applied_mark",
    "locksmith.locked",
    "locksmith.unlocked",
)


def read_jsonl(path: Path, keep=None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if keep is not None and not any(k in line for k in keep):
                continue  # cheap filter before decoding: node logs are big
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn line from a killed process
    return out


def load_run(run: Path) -> RunData:
    history = read_history(run / "history.jsonl") if (run / "history.jsonl").exists() else []
    nodes_dir = run / "nodes"
    logs = {}
    if nodes_dir.is_dir():
        for d in sorted(nodes_dir.iterdir()):
            logs[d.name] = read_jsonl(d / "node.log", NODE_LOG_EVENTS)
    scenario = (
        json.loads((run / SCENARIO_JSON).read_text()) if (run / SCENARIO_JSON).exists() else {}
    )
    leftover = None
    if (run / LEFTOVER_JSON).exists():
        leftover = list(json.loads((run / LEFTOVER_JSON).read_text()).get("pids", []))
    return RunData(
        history=history,
        ops=ops_from_history(history),
        node_logs=logs,
        status=read_jsonl(run / STATUS_JSONL),
        leftover=leftover,
        scenario=scenario,
        options={"check_time_limit": scenario.get("check_time_limit_s", 30.0)},
    )


def check_run(run: Path, checkers: list[str] | None = None) -> tuple[dict[str, Any], list[Verdict]]:
    """Check a stored run; write and return ``results.json``'s content."""
    data = load_run(run)
    names = checkers or list(data.scenario.get("checkers") or default_checkers())
    verdicts = run_checkers(names, data)
    results = {
        "valid": combine(verdicts),
        "scenario": data.scenario.get("scenario"),
        "seed": data.scenario.get("seed"),
        "unsafe_reads": data.scenario.get("unsafe_reads", False),
        "run_dir": str(run),
        "ops": _op_counts(data),
        "checkers": {v.name: v.to_json() for v in verdicts},
    }
    tmp = run / (RESULTS_JSON + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str))
    os.replace(tmp, run / RESULTS_JSON)
    return results, verdicts


def _op_counts(data: RunData) -> dict[str, int]:
    counts = {"total": len(data.ops), "ok": 0, "fail": 0, "info": 0}
    for op in data.ops:
        counts[op.outcome.value] += 1
    return counts


def exit_code(valid: bool | str) -> int:
    return 0 if valid is True else 1 if valid is False else 2
