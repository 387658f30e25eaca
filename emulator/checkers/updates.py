"""Checkers for the update parts: the reboot lock held by at most ``max`` nodes at a time, and
every node ending on the release it should run (the new one, or the old one after a broken
release rolled back). Not run by default: scenarios that update list them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.checkers.registry import RunData, Verdict, register

LOCK_MAX = 1  # locksmith's default semaphore max


def lock_overlaps(records: Iterable[tuple[str, dict[str, Any]]], limit: int) -> list[str]:
    """Moments when more than ``limit`` nodes held the lock, from locked/unlocked records."""
    events = []
    problems = []
    for node, rec in records:
        event = rec.get("event")
        if event == "locksmith.locked":
            holders = rec.get("fields", {}).get("holders") or []
            if len(holders) > limit:
                problems.append(f"{node} locked with holders {holders} (max {limit})")
            events.append((float(rec.get("mono", 0)), 1, node))
        elif event == "locksmith.unlocked":
            events.append((float(rec.get("mono", 0)), -1, node))
    holding: set[str] = set()
    for mono, change, node in sorted(events, key=lambda e: (e[0], e[1])):
        if change > 0:
            holding.add(node)
            if len(holding) > limit:
                problems.append(f"at mono {mono:.3f} {len(holding)} holders: {sorted(holding)}")
        else:
            holding.discard(node)
    return problems


def semaphore_problems(history: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """From the supervisor's ``lock`` entries (each semaphore value, in etcd's order): how many
    changes, and every value holding more than its max."""
    changes, problems = 0, []
    for e in history:
        if e.get("type") != "lock":
            continue
        changes += 1
        holders, most = e.get("nodes") or e.get("holders") or [], e.get("max")
        if isinstance(most, int) and len(holders) > most:
            problems.append(f"etcd index {e.get('index')}: holders {holders} (max {most})")
    return changes, problems


@register("reboot-lock", "never more nodes holding locksmith's reboot lock than its max", False)
def check_reboot_lock(data: RunData) -> Verdict:
    """Two witnesses: the semaphore's values in etcd's order (history ``lock`` entries, from the
    supervisor's watch) and the lock/unlock records of every node's locksmith."""
    records = [(n, r) for n, recs in sorted(data.node_logs.items()) for r in recs]
    locks = sum(1 for _, r in records if r.get("event") == "locksmith.locked")
    changes, problems = semaphore_problems(data.history)
    if not locks and not changes:
        return Verdict("reboot-lock", "unknown", "no node took the reboot lock")
    limit = int(data.scenario.get("reboot_lock_max", LOCK_MAX))
    problems += lock_overlaps(records, limit)
    details = {"locks_taken": locks, "semaphore_changes": changes}
    if problems:
        return Verdict("reboot-lock", False, "more holders than the semaphore's max", details,
                       problems)  # fmt: skip
    return Verdict("reboot-lock", True, f"{locks} lock(s) taken, {changes} semaphore changes; "
                   f"never more holders than max", details)  # fmt: skip


def expected_version(releases: list[dict[str, Any]], initial: set[str]) -> str | None:
    """The version every node should end on: the last good release published."""
    good = [r["version"] for r in releases if not r.get("fault")]
    if good:
        return str(good[-1])
    return next(iter(initial)) if len(initial) == 1 else None


@register("update-convergence", "every node ends on the last good release", False)
def check_convergence(data: RunData) -> Verdict:
    releases = [e for e in data.history if e.get("type") == "release"]
    samples = [s for s in data.status if s.get("nodes")]
    if not releases or not samples:
        return Verdict("update-convergence", "unknown", "no release published or no status seen")
    initial = {str(n.get("version")) for n in samples[0]["nodes"].values() if n.get("version")}
    target = expected_version(releases, initial)
    final = {name: n.get("version") for name, n in samples[-1]["nodes"].items()}
    details = {"expected": target, "final_versions": final,
               "releases": [{k: r.get(k) for k in ("version", "channel", "fault")} for r in releases]}  # fmt: skip
    off = [f"{name} runs {v}, expected {target}" for name, v in final.items() if str(v) != target]
    if off:
        return Verdict("update-convergence", False, f"{len(off)} node(s) not on {target}",
                       details, off)  # fmt: skip
    return Verdict("update-convergence", True, f"every node on {target}", details)
