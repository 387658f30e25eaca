"""Partition sides are disjoint: ``partition leader majority`` is the leader against a majority
drawn from the other nodes; naming a node on two sides is an error."""

from __future__ import annotations

import random

import pytest

from emulator.faults import FaultError, FaultKind, FaultSpec
from emulator.netrules import compile_fault, partition_sides

NODES = ["core-01", "core-02", "core-03", "core-04", "core-05"]


def resolver(name):
    return ["core-02"] if name == "leader" else [name]


@pytest.mark.parametrize("seed", range(20))
def test_leader_against_majority_never_puts_the_leader_on_both_sides(seed):
    spec = FaultSpec(FaultKind.PARTITION, sides=(("leader",), ("majority",)))
    sides = partition_sides(spec, NODES, random.Random(seed), resolver)
    assert sides[0] == ["core-02"]
    assert len(sides[1]) == 3 and "core-02" not in sides[1]
    assert sorted(n for side in sides for n in side) == NODES  # each node on exactly one side
    rules = compile_fault(spec, NODES, random.Random(seed), resolver)
    blocked = {(r.src, r.dst) for r in rules}
    majority = sides[1]
    assert all((a, b) not in blocked for a in majority for b in majority)
    assert all(("core-02", b) in blocked for b in majority)


def test_a_node_named_on_two_sides_is_an_error():
    spec = FaultSpec(FaultKind.PARTITION, sides=(("leader",), ("core-02", "core-03")))
    with pytest.raises(FaultError, match="core-02 .* already on an earlier side"):
        partition_sides(spec, NODES, random.Random(1), resolver)


def test_a_majority_that_no_longer_fits_is_an_error():
    spec = FaultSpec(FaultKind.PARTITION, sides=(("core-01", "core-03", "core-04"), ("majority",)))
    with pytest.raises(FaultError, match="no majority"):
        partition_sides(spec, NODES, random.Random(1), resolver)
