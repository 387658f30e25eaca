"""Shrinking a non-linearizable history to a few ops that still cannot be ordered."""

from __future__ import annotations

from histories import H

from emulator.checkers import linearizable
from emulator.checkers.shrink import closed, shrink
from emulator.checkers.synthetic import register_history, stale_read


def test_a_stale_read_shrinks_to_the_two_writes_and_the_read():
    h = H().w(1, 0, 1).r(1, 1.5, 1.6, p=3).w(2, 2, 3, p=1).r(2, 3.1, 3.2, p=2).w(3, 4, 5)
    h.r(1, 6, 7, p=2).r(3, 8, 9, p=1)
    small = shrink(h.ops)
    assert linearizable.check(small).valid is False
    assert sorted((o.f, o.value) for o in small) == [("read", 1), ("write", 1), ("write", 3)]


def test_the_counterexample_keeps_every_producer_of_what_it_reads():
    ops = stale_read(register_history(ops=2000, keys=1, clients=10, seed=4), 4)
    pruned = linearizable.prune(ops)
    result = linearizable.check_key(pruned)
    assert result.valid is False and result.blocked
    small = shrink(pruned, hint=result.blocked[0])
    assert linearizable.check(small).valid is False
    assert len(small) <= 6
    assert {o.id for o in closed(small, ops)} == {o.id for o in small}


def test_closed_adds_the_writers_of_read_values():
    h = H().w(1, 0, 1).w(2, 2, 3).r(2, 4, 5).cas(2, 7, 6, 7, "info")
    read = [o for o in h.ops if o.f == "read"]
    assert {o.value for o in closed(read, h.ops) if o.f == "write"} == {2}
