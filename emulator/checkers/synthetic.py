"""Seeded register histories that are linearizable by construction (benchmarks, property tests).

Clients run ops back to back; each op takes effect at one instant between its invoke and its
complete, and the register is simulated in the order of those instants, so the history is
linearizable. Every ``kill_every`` seconds a ``kill_for``-long window plays a leader kill: ops
taking effect in it get no answer (``info``) — writes and cas ops inside it take effect or not,
by a coin — and reads in it fail. :func:`stale_read` then plants one stale read.
"""

from __future__ import annotations

import random
from dataclasses import replace

from emulator.checkers.ops import Op, Outcome


def register_history(
    ops: int = 10_000,
    keys: int = 5,
    clients: int = 10,
    seed: int = 1,
    kill_every: float = 1.0,
    kill_for: float = 0.15,
) -> list[Op]:
    rng = random.Random(seed)
    planned = []  # (lin time, invoke, complete, client, f, key)
    clock = [rng.random() * 0.001 for _ in range(clients)]
    for i in range(ops):
        c = i % clients
        invoke = clock[c]
        lin = invoke + rng.uniform(0.0002, 0.003)
        complete = lin + rng.uniform(0.0002, 0.003)
        clock[c] = complete + rng.uniform(0, 0.001)
        f = rng.choices(("read", "write", "cas"), (2, 1, 1))[0]
        planned.append((lin, invoke, complete, c, f, f"k{rng.randrange(keys)}"))
    planned.sort()
    state: dict[str, int | None] = {}
    out = []
    for oid, (lin, invoke, complete, c, f, key) in enumerate(planned, 1):
        killed = (lin % kill_every) < kill_for
        current = state.get(key)
        value: object
        outcome = Outcome.OK
        if f == "read":
            value = current
            if killed:
                outcome, value = Outcome.FAIL, None
        else:
            new = oid
            if f == "cas":
                expected = current if (current is not None and rng.random() < 0.7) else oid - 7
                value = (expected, new)
                applies = current == expected
            else:
                value, applies = new, True
            if killed:
                outcome = Outcome.INFO
                applies = applies and rng.random() < 0.5
            elif not applies:
                outcome = Outcome.FAIL
            if applies:
                state[key] = new
        out.append(
            Op(
                oid,
                c,
                f,
                key,
                value,
                outcome,
                invoke,
                None if outcome is Outcome.INFO else complete,
                f"core-0{1 + c % 3}",
            )  # fmt: skip
        )
    out.sort(key=lambda o: (o.invoke, o.id))
    return out


def stale_read(ops: list[Op], seed: int = 1) -> list[Op]:
    """The history with one late ok read changed to return a value overwritten long before."""
    rng = random.Random(seed)
    reads = [o for o in ops[len(ops) // 2 :] if o.f == "read" and o.outcome is Outcome.OK]
    for target in rng.sample(reads, len(reads)):
        old = [o for o in ops if o.key == target.key and o.f == "write"
               and o.outcome is Outcome.OK and o.complete is not None
               and o.complete < target.invoke - 0.05 and o.value != target.value]  # fmt: skip
        if old:
            stale = replace(target, value=old[len(old) // 2].value)
            return [stale if o.id == target.id else o for o in ops]
    raise ValueError("no read to make stale")
