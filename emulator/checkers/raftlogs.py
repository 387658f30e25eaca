"""The ``raft-invariants`` checker: Raft's safety properties as the node logs tell them.

- One leader per term: every ``raft.leader_changed`` record names the leader a node followed (or
  was) in a term; two different names for one term, from any nodes, break election safety.
- A committed index never changes its entry: members log a CRC of each window of 100 applied
  entries (``raft.applied_mark``: the window's last index and term, and a CRC chained over every
  entry's term and data; see ``actors/etcd/appliedmarks.py``); one window with two CRCs — on two
  nodes, or on one node before and after a restart — means some entry in it was applied with
  another term or data, which breaks state machine safety.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.checkers.registry import RunData, Verdict, register


def leaders_by_term(records: Iterable[tuple[str, dict[str, Any]]]) -> dict[int, dict[str, str]]:
    """term -> {leader: first node that reported it}."""
    out: dict[int, dict[str, str]] = {}
    for node, rec in records:
        if rec.get("event") != "raft.leader_changed":
            continue
        f = rec.get("fields", {})
        leader, term = f.get("leader"), f.get("term")
        if leader is None or term is None:
            continue
        out.setdefault(int(term), {}).setdefault(str(leader), node)
    return out


def applied_conflicts(records: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    seen: dict[int, tuple[int, int, str]] = {}
    problems = []
    for node, rec in records:
        if rec.get("event") != "raft.applied_mark":
            continue
        f = rec.get("fields", {})
        index, mark = int(f["index"]), (int(f["term"]), int(f["crc"]))
        known = seen.setdefault(index, (*mark, node))
        if known[:2] != mark:
            problems.append(
                f"index {index}: {known[2]} applied term {known[0]} crc {known[1]}, "
                f"{node} applied term {mark[0]} crc {mark[1]}"
            )
    return problems


def _records(data: RunData) -> list[tuple[str, dict[str, Any]]]:
    return [(node, rec) for node, recs in sorted(data.node_logs.items()) for rec in recs]


@register("raft-invariants", "one leader per term; a committed index never changes its entry")
def check_raft(data: RunData) -> Verdict:
    records = _records(data)
    if not records:
        return Verdict("raft-invariants", "unknown", "no node logs to read")
    leaders = leaders_by_term(records)
    problems = [
        f"term {term}: leaders "
        + ", ".join(f"{leader} (per {node})" for leader, node in who.items())
        for term, who in sorted(leaders.items())
        if len(who) > 1
    ]
    problems += applied_conflicts(records)
    mark_fields = [r.get("fields", {}) for _, r in records if r.get("event") == "raft.applied_mark"]
    marks, windows = len(mark_fields), len({f.get("index") for f in mark_fields})
    details = {"terms": len(leaders), "applied_marks": marks, "applied_windows": windows,
               "leaders": {str(t): sorted(w) for t, w in sorted(leaders.items())}}  # fmt: skip
    if problems:
        return Verdict("raft-invariants", False, f"{len(problems)} violation(s)", details, problems)
    return Verdict(
        "raft-invariants", True,
        f"{len(leaders)} terms with one leader each; applied entries agree across nodes in "
        f"{windows} window(s) ({marks} marks)", details,
    )  # fmt: skip
