"""The ``linearizable`` checker: the register history of every key, with a shrunk counterexample."""

from __future__ import annotations

import time

from emulator.checkers import linearizable
from emulator.checkers.ops import Op
from emulator.checkers.registry import RunData, Verdict, register
from emulator.checkers.shrink import shrink

AROUND = 6  # ops of the failing key shown on each side of the counterexample in the report


@register("linearizable", "every key's reads, writes and cas ops can be ordered (Wing-Gong/Lowe)")
def check_linearizable(data: RunData) -> Verdict:
    limit = float(data.options.get("check_time_limit", 30.0))
    started = time.monotonic()
    result = linearizable.check(data.ops, time_limit=limit)
    elapsed = time.monotonic() - started
    per_key = {
        k: {"valid": r.valid, "ops": r.ops, "configurations": r.configurations}
        for k, r in result.keys.items()
    }
    details = {
        "ops": result.ops_total,
        "ops_searched": result.ops_searched,
        "check_s": round(elapsed, 3),
        "keys": per_key,
    }
    if result.valid is True:
        return Verdict(
            "linearizable",
            True,
            f"{result.ops_total} ops on {len(per_key)} keys: linearizable",
            details,
        )
    if result.valid != False:  # noqa: E712  (unknown)
        return Verdict(
            "linearizable",
            "unknown",
            f"search ran out of its {limit:g}s time limit before deciding",
            details,
        )
    key = result.failed_keys[0]
    key_ops = linearizable.prune([o for o in data.ops if o.key == key])
    blocked = result.keys[key].blocked
    small = shrink(key_ops, hint=blocked[0] if blocked else None)
    details["failed_key"] = key
    details["counterexample_ops"] = [o.to_json() for o in small]
    details["around_ops"] = [o.to_json() for o in _around(data.ops, key, small)]
    lines = [o.describe() for o in small]
    why = explain(small)
    if why:
        details["explanation"] = why
        lines.append(why)
    return Verdict(
        "linearizable",
        False,
        f"key {key}: these {len(small)} ops cannot be ordered (of {result.ops_total} ops)",
        details,
        lines,
    )


def _around(ops: list[Op], key: str, small: list[Op]) -> list[Op]:
    """The failing key's ops from a few before the counterexample to a few after it."""
    key_ops = [o for o in ops if o.key == key]
    ids = {o.id for o in small}
    idx = [i for i, o in enumerate(key_ops) if o.id in ids]
    if not idx:
        return []
    return key_ops[max(0, min(idx) - AROUND) : max(idx) + AROUND + 1]


def explain(ops: list[Op]) -> str:
    """A sentence for the common shape: a read returned a value that an acknowledged write,
    finished before the read began, had already replaced (a stale read)."""
    for r in ops:
        if r.f != "read" or r.complete is None:
            continue
        made = [p for p in ops if p.f in ("write", "cas") and _produces(p) == r.value]
        for p in made:
            for w in ops:
                if (w is not p and w.f in ("write", "cas") and w.complete is not None
                        and p.complete is not None and w.invoke > p.complete
                        and w.complete < r.invoke):  # fmt: skip
                    return (f"stale read: #{r.id} returned {r.value!r}, written by #{p.id}, but "
                            f"#{w.id} had replaced it (done at {w.complete:.4f}s) before the "
                            f"read began at {r.invoke:.4f}s")  # fmt: skip
    return ""


def _produces(op: Op) -> object:
    return op.value[1] if op.f == "cas" else op.value
