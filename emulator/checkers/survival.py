"""The ``writes-survive`` checker: every acknowledged write is still there at the end.

The final quorum read of each key (after the faults healed) returns the value of some write.
That write must not be older than an acknowledged write: if an ``ok`` write or cas was invoked
after the final value's producer had completed, that acknowledged write was lost (values are
unique per op, so the producer is known). A key never written by an ok op may hold anything an
info op wrote, or nothing.
"""

from __future__ import annotations

from typing import Any

from emulator.checkers.ops import Op, Outcome
from emulator.checkers.registry import RunData, Verdict, register


def _produced(op: Op) -> Any:
    return op.value[1] if op.f == "cas" else op.value


def lost_writes(ops: list[Op], final: dict[str, Any]) -> dict[str, list[Op]]:
    """Per key, the acknowledged writes the final value shows were lost."""
    lost: dict[str, list[Op]] = {}
    for key, value in final.items():
        writes = [o for o in ops if o.key == key and o.f in ("write", "cas")]
        acked = [o for o in writes if o.outcome is Outcome.OK]
        producers = [o for o in writes if o.outcome is not Outcome.FAIL and _produced(o) == value]
        if value is None:
            if acked:
                lost[key] = acked
            continue
        if not producers:
            lost[key] = acked  # a value no client wrote: report the acked writes around it
            continue
        earliest_done = min(
            (p.complete if p.complete is not None else float("inf")) for p in producers
        )
        after = [o for o in acked if o.invoke > earliest_done]
        if after:
            lost[key] = after
    return lost


@register("writes-survive", "acknowledged writes are still there after the faults (final reads)")
def check_survival(data: RunData) -> Verdict:
    keys = list(data.scenario.get("workload", {}).get("keys", []))
    final_ids = {int(e["op"]) for e in data.history if e.get("type") == "op" and e.get("final")}
    final: dict[str, Any] = {}
    for op in data.ops:
        if op.id in final_ids and op.outcome is Outcome.OK:
            final[op.key] = op.value
    missing = [k for k in keys if k not in final]
    body_ops = [o for o in data.ops if o.id not in final_ids]
    lost = lost_writes(body_ops, final)
    details = {"final_values": final, "keys_without_final_read": missing}
    if lost:
        lines = [f"{k}: final value {final[k]!r}, lost: " + ", ".join(o.describe() for o in v[:3])
                 for k, v in lost.items()]  # fmt: skip
        details["lost"] = {k: [o.to_json() for o in v] for k, v in lost.items()}
        return Verdict("writes-survive", False, f"acknowledged writes lost on {len(lost)} key(s)",
                       details, lines)  # fmt: skip
    if missing:
        return Verdict("writes-survive", "unknown",
                       f"no final read answered for {', '.join(missing)}", details)  # fmt: skip
    return Verdict(
        "writes-survive", True, f"{len(final)} keys: final values keep every acked write", details
    )
