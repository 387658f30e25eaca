"""Shrinking a non-linearizable key history to a small set of ops that cannot be ordered.

A subset of a history is kept *closed under producers*: for every value a kept read returned or a
kept cas expected, every write or cas that produced that value is kept too. Such a subset of a
linearizable history is linearizable (restrict the linearization to it: each read still follows
its producer with no state change between), so a closed subset that is not linearizable is a
true counterexample — and never a trivial one like "a read of a value nobody wrote".

First a small invalid closed set is found: windows of growing width around the op the search
could not place, or else the shortest invalid prefix (by invoke order) by bisection (closed
prefixes grow monotonically, so non-linearizability is monotonic in the length). Then ops are
removed in chunks, halving the chunk size (delta debugging), while the rest stays invalid.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from emulator.checkers.linearizable import check_key
from emulator.checkers.ops import Op, Outcome

_STEP_LIMIT = 2.0  # seconds for one search inside the shrinker


def _needs(op: Op) -> Any:
    if op.f == "read" and op.outcome is Outcome.OK:
        return op.value
    if op.f == "cas":  # an info cas that took effect needed its expected value too
        return op.value[0]
    return _NOTHING


_NOTHING = object()


def _produces(op: Op) -> Any:
    return op.value[1] if op.f == "cas" else op.value if op.f == "write" else _NOTHING


def closed(subset: Sequence[Op], universe: Sequence[Op]) -> list[Op]:
    """``subset`` plus, repeatedly, the producers (in ``universe``) of every value it observes."""
    producers: dict[Any, list[Op]] = {}
    for op in universe:
        v = _produces(op)
        if v is not _NOTHING:
            producers.setdefault(_key(v), []).append(op)
    chosen = {op.id: op for op in subset}
    todo = list(subset)
    while todo:
        op = todo.pop()
        need = _needs(op)
        if need is _NOTHING:
            continue
        for p in producers.get(_key(need), ()):
            if p.id not in chosen:
                chosen[p.id] = p
                todo.append(p)
    return sorted(chosen.values(), key=lambda o: (o.invoke, o.id))


def _without(ops: Sequence[Op], drop: set[int]) -> list[Op]:
    """``ops`` less ``drop``, less every op left observing a value no kept op produces."""
    kept = [o for o in ops if o.id not in drop]
    while True:
        made = {_key(_produces(o)) for o in kept if _produces(o) is not _NOTHING}
        made.add(_key(None))  # the initial state: the key does not exist
        nxt = [o for o in kept if _needs(o) is _NOTHING or _key(_needs(o)) in made]
        if len(nxt) == len(kept):
            return kept
        kept = nxt


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _invalid(ops: Sequence[Op]) -> bool:
    return check_key(ops, time.monotonic() + _STEP_LIMIT).valid is False


def shrink(ops: Sequence[Op], budget_s: float = 5.0, hint: Op | None = None) -> list[Op]:
    """A small non-linearizable subset of ``ops`` (which must be non-linearizable).

    ``hint``: the op the search could not place (``KeyResult.blocked``); windows of ops around
    it, growing, are tried first — a search of a few ops is far cheaper than of a long prefix."""
    deadline = time.monotonic() + budget_s
    ordered = sorted(ops, key=lambda o: (o.invoke, o.id))
    best: list[Op] | None = None
    at = next((i for i, o in enumerate(ordered) if hint is not None and o.id == hint.id), None)
    if at is not None:
        width = 8
        while best is None and width < 2 * len(ordered) and time.monotonic() < deadline:
            window = closed(ordered[max(0, at - width) : at + width + 1], ordered)
            if _invalid(window):
                best = window
            width *= 2
    if best is None:
        best = _shortest_prefix(ordered, deadline)
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        i = 0
        progressed = False
        while i < len(best) and time.monotonic() < deadline:
            drop = {o.id for o in best[i : i + chunk]}
            candidate = _without(best, drop)
            if len(candidate) < len(best) and _invalid(candidate):
                best = candidate
                progressed = True
            else:
                i += chunk
        if chunk == 1 and not progressed:
            break
        chunk = max(1, chunk // 2) if chunk > 1 else chunk
    return best


def _shortest_prefix(ordered: list[Op], deadline: float) -> list[Op]:
    lo, hi = 1, len(ordered)  # the shortest invalid closed prefix has length in (lo-1, hi]
    while lo < hi and time.monotonic() < deadline:
        mid = (lo + hi) // 2
        if _invalid(closed(ordered[:mid], ordered)):
            hi = mid
        else:
            lo = mid + 1
    best = closed(ordered[:hi], ordered)
    return best if _invalid(best) else list(ordered)
