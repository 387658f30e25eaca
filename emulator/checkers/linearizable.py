"""Linearizability of a key-value register with compare-and-set, key by key.

Theory of operation. A history is linearizable when each op can be given one instant between its
invoke and its complete so that the ops, taken in that order, are a legal run of the register
(a read sees the last value written; a cas succeeds only on its expected value). Keys are
independent (P-compositionality, Herlihy & Wing): the history is linearizable iff each key's
sub-history is, so each key is searched alone.

The search is Wing & Gong's, with Lowe's memoisation: the call and return events of the ops sit
in one time-ordered doubly linked list. Walking from the front, a call whose op is legal in the
current state is *linearized*: taken out of the list (with its return), pushed on a stack, and the
walk restarts. Meeting a return means some op that must already have happened could not be placed:
pop the last choice, put its op back and try the next call. A configuration is the set of ops
linearized so far (a bitset in an int) plus the register's state; one already explored is never
explored again, which is what keeps the search polynomial on real histories.

Indeterminate ops (``info``: timeouts, a lost leader) may have taken effect at any time after
their invoke, or never: they have no return event, so the search may place them or leave them
out. Two sound prunings keep many of them from blowing the search up:
- failed ops and info reads change nothing: dropped;
- an info write or cas whose new value nothing kept observes (no ok read returned it, no ok or
  kept info cas expected it; a fixpoint, as kept info cas ops need their expected value) can be
  left out of any linearization without breaking it: every kept op that reads the state still
  follows the same last state change, which is kept — so it is dropped.
Canonical order. Info ops that are kept still multiply the search: any subset of the pending
ones could be placed, in any order, before the next read. But a linearization with an info op
placed straight before a blind write stays one without that info op (nobody saw its value), so
the search only looks for linearizations where an info op is followed by an op that uses its
value (a read or a cas) — never by a write. That rule (a flag in the configuration) makes the
common case, many timed-out writes of which a few were read later, linear again.
A deadline turns a search that runs too long into ``unknown``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.checkers.ops import Op, Outcome, by_key

UNKNOWN = "unknown"
_CHECK_EVERY = 2048  # iterations between deadline checks


def step(state: Any, op: Op) -> tuple[bool, Any]:
    """The register model: is ``op`` legal in ``state``, and the state after it."""
    if op.f == "write":
        return True, op.value
    if op.f == "cas":
        expected, new = op.value
        return (True, new) if state == expected else (False, state)
    if op.f == "read":
        return state == op.value, state
    raise ValueError(f"unknown op {op.f!r}")


def prune(ops: Sequence[Op]) -> list[Op]:
    """The ops that matter to the search (see the module comment for why each drop is sound)."""
    kept = [o for o in ops if o.outcome is not Outcome.FAIL]
    kept = [o for o in kept if not (o.f == "read" and o.outcome is Outcome.INFO)]
    observed = set()
    for o in kept:
        if o.outcome is Outcome.OK and o.f == "read":
            observed.add(_hashable(o.value))
        elif o.outcome is Outcome.OK and o.f == "cas":
            observed.add(_hashable(o.value[0]))
    # An info cas that is kept needs its expected value written first: that value counts as
    # observed too, which may keep more info ops; repeat until nothing changes.
    info = [o for o in kept if o.outcome is Outcome.INFO]
    chosen: set[int] = set()
    grew = True
    while grew:
        grew = False
        for o in info:
            if o.id not in chosen and _hashable(_produced(o)) in observed:
                chosen.add(o.id)
                grew = True
                if o.f == "cas":
                    observed.add(_hashable(o.value[0]))
    return [o for o in kept if o.outcome is Outcome.OK or o.id in chosen]


def _produced(op: Op) -> Any:
    return op.value[1] if op.f == "cas" else op.value


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass
class KeyResult:
    key: str
    valid: bool | str  # True, False or "unknown"
    ops: int  # ops searched (after pruning)
    configurations: int
    blocked: list[Op] = field(default_factory=list)  # ops that could not be placed (if invalid)


def check_key(ops: Sequence[Op], deadline: float | None = None, initial: Any = None) -> KeyResult:
    """Search one key's (pruned) ops; ``deadline`` is a ``time.monotonic()`` value."""
    key = ops[0].key if ops else ""
    n = len(ops)
    if n == 0:
        return KeyResult(key, True, 0, 0)
    # Event list: node 0 is the head; call of op i is 2i+1, its return 2i+2; -1 ends the list.
    events: list[tuple[float, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.invoke, 0, 2 * i + 1))  # calls sort before returns at equal times:
        if op.complete is not None:  # ops touching at an instant count as concurrent
            events.append((op.complete, 1, 2 * i + 2))
    events.sort()
    size = 2 * n + 1
    nxt = [-1] * size
    prv = [-1] * size
    last = 0
    for _, _, node in events:
        nxt[last] = node
        prv[node] = last
        last = node
    has_return = [op.complete is not None for op in ops]
    remaining = sum(has_return)

    def unlink(node: int) -> None:
        p, q = prv[node], nxt[node]
        nxt[p] = q
        if q != -1:
            prv[q] = p

    def relink(node: int) -> None:
        p, q = prv[node], nxt[node]
        nxt[p] = node
        if q != -1:
            prv[q] = node

    state = initial
    linearized = 0
    fresh = False  # the last op placed was an info op whose value nothing has used yet
    info = [op.outcome is Outcome.INFO for op in ops]
    blind = [op.f == "write" for op in ops]
    seen: set[tuple[int, Any, bool]] = set()
    stack: list[tuple[int, Any, bool]] = []
    entry = nxt[0]
    iterations = 0
    deepest = 0
    blocked_at = -1
    while remaining > 0:
        iterations += 1
        if deadline is not None and iterations % _CHECK_EVERY == 0:
            if time.monotonic() > deadline:
                return KeyResult(key, UNKNOWN, n, len(seen))
        if entry == -1 or entry % 2 == 0:  # a return: the op it ends was never placed
            if len(stack) >= deepest and entry != -1:
                deepest, blocked_at = len(stack), entry
            if not stack:
                blocked = [ops[(blocked_at - 2) // 2]] if blocked_at > 0 else []
                return KeyResult(key, False, n, len(seen), blocked)
            call, state, fresh = stack.pop()
            i = (call - 1) // 2
            linearized &= ~(1 << i)
            if has_return[i]:
                relink(call + 1)
                remaining += 1
            relink(call)
            entry = nxt[call]
            continue
        i = (entry - 1) // 2
        if fresh and blind[i]:  # see "canonical order" above: not straight after an info op
            entry = nxt[entry]
            continue
        legal, new_state = step(state, ops[i])
        if legal:
            config = (linearized | (1 << i), _hashable(new_state), info[i])
            if config not in seen:
                seen.add(config)
                stack.append((entry, state, fresh))
                state, linearized, fresh = new_state, config[0], info[i]
                unlink(entry)
                if has_return[i]:
                    unlink(entry + 1)
                    remaining -= 1
                entry = nxt[0]
                continue
        entry = nxt[entry]
    return KeyResult(key, True, n, len(seen))


@dataclass
class LinearizabilityResult:
    valid: bool | str
    keys: dict[str, KeyResult]
    ops_total: int
    ops_searched: int

    @property
    def failed_keys(self) -> list[str]:
        return [k for k, r in self.keys.items() if r.valid is False]


def check(ops: Sequence[Op], time_limit: float | None = 30.0) -> LinearizabilityResult:
    """Every key of a register history; invalid if any key is, unknown if any ran out of time."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    results: dict[str, KeyResult] = {}
    searched = 0
    for key, key_ops in sorted(by_key(ops).items()):
        pruned = prune(key_ops)
        searched += len(pruned)
        results[key] = check_key(pruned, deadline)
    verdicts = [r.valid for r in results.values()]
    valid: bool | str = True
    if False in verdicts:
        valid = False
    elif UNKNOWN in verdicts:
        valid = UNKNOWN
    return LinearizabilityResult(valid, results, len(ops), searched)
