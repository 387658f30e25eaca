"""The fault vocabulary: parsing, errors that name the key, and compiled link rules."""

import random

import pytest

from emulator.faults import FaultError, FaultKind, parse_duration, parse_fault, parse_percent
from emulator.netrules import LinkShaper, compile_fault, merge_rules

NODES = ("core-01", "core-02", "core-03", "core-04", "core-05")


def resolver(name):
    if name == "all":
        return list(NODES)
    if name == "random":
        return ["core-03"]
    return [name]


def test_partition_sides_from_strings_and_lists():
    spec = parse_fault({"partition": ["core-01", "core-02,core-03"]}, NODES)
    assert spec.kind is FaultKind.PARTITION
    assert spec.sides == (("core-01",), ("core-02", "core-03"))


@pytest.mark.parametrize(
    "data, key, text",
    [
        ({"partition": ["core-01", "core-09"]}, "partition", "unknown node 'core-09'"),
        ({"kill": "core-02", "pause": "core-03"}, None, "exactly one kind"),
        ({"drop": "150%"}, "drop", "0..100"),
        ({"delay": "fast"}, "delay", "duration"),
        ({"explode": "core-01"}, "explode", "unknown fault key"),
        ({"kill": "core-01", "jitter": "5ms"}, "jitter", "does not apply"),
        ({"partition": ["core-01", "core-01,core-02"]}, "partition", "two sides"),
    ],
)
def test_bad_faults_name_their_key(data, key, text):
    with pytest.raises(FaultError) as info:
        parse_fault(data, NODES)
    assert info.value.key == key
    assert text in info.value.message


def test_durations_and_percents():
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120
    assert parse_duration(3) == 3
    assert parse_duration(250, default_unit="ms") == 0.25
    assert parse_percent("30%") == pytest.approx(0.3)
    with pytest.raises(ValueError):
        parse_duration("-1s")


def blocked(rules):
    return {(r.src, r.dst) for r in rules if r.blocked}


def test_partition_blocks_every_link_across_sides_only():
    spec = parse_fault({"partition": ["core-01", "core-02,core-03"]}, NODES[:3])
    rules = compile_fault(spec, NODES[:3], random.Random(1), resolver)
    assert blocked(rules) == {
        ("core-01", "core-02"),
        ("core-01", "core-03"),
        ("core-02", "core-01"),
        ("core-03", "core-01"),
    }


def test_one_way_partition_blocks_only_the_first_sides_sends():
    spec = parse_fault({"partition": ["core-01", "core-02,core-03"], "one-way": True}, NODES[:3])
    rules = compile_fault(spec, NODES[:3], random.Random(1), resolver)
    assert blocked(rules) == {("core-01", "core-02"), ("core-01", "core-03")}


def test_single_side_isolates_it_from_the_rest():
    spec = parse_fault({"partition": "core-02"}, NODES)
    links = blocked(compile_fault(spec, NODES, random.Random(1), resolver))
    assert ("core-02", "core-01") in links and ("core-01", "core-02") in links
    assert ("core-01", "core-03") not in links


def test_random_halves_is_seeded():
    spec = parse_fault({"partition": "random-halves"}, NODES)
    a = compile_fault(spec, NODES, random.Random(7), resolver)
    b = compile_fault(spec, NODES, random.Random(7), resolver)
    assert a == b and blocked(a)


def test_majorities_ring_every_node_sees_a_majority_and_no_two_the_same():
    spec = parse_fault({"partition": "majorities-ring"}, NODES)
    links = blocked(compile_fault(spec, NODES, random.Random(3), resolver))
    views = []
    for n in NODES:
        view = frozenset({n} | {m for m in NODES if m != n and (n, m) not in links})
        assert len(view) >= len(NODES) // 2 + 1
        views.append(view)
    assert len(set(views)) == len(NODES)


def test_bridge_leaves_one_node_talking_to_both_halves():
    spec = parse_fault({"partition": "bridge"}, NODES)
    links = blocked(compile_fault(spec, NODES, random.Random(5), resolver))
    bridges = [n for n in NODES if not any(n in link for link in links)]
    assert len(bridges) == 1


def test_shaper_drop_delay_duplicate():
    rules = merge_rules(
        [
            compile_fault(
                parse_fault({"drop": "100%", "to": "core-02"}, NODES),
                NODES,
                random.Random(),
                resolver,
            ),
            compile_fault(
                parse_fault({"delay": "100ms", "to": "core-03"}, NODES),
                NODES,
                random.Random(),
                resolver,
            ),
            compile_fault(
                parse_fault({"duplicate": "100%", "to": "core-04"}, NODES),
                NODES,
                random.Random(),
                resolver,
            ),
        ]
    )
    shaper = LinkShaper("core-01", random.Random(1))
    assert shaper.install(1, rules)
    assert shaper.outbound("core-02") == []
    assert shaper.outbound("core-03") == [pytest.approx(0.1)]
    assert len(shaper.outbound("core-04")) == 2
    assert shaper.outbound("core-05") == [0.0]
    assert not shaper.install(0, ())  # an older table never replaces a newer one
    assert shaper.install(2, ())
    assert shaper.outbound("core-02") == [0.0]


def test_partition_also_holds_inbound():
    spec = parse_fault({"partition": ["core-01", "core-02"]}, NODES[:2])
    shaper = LinkShaper("core-02", random.Random(1))
    shaper.install(1, compile_fault(spec, NODES[:2], random.Random(1), resolver))
    assert not shaper.accepts_from("core-01")
