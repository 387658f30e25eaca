"""The page's fault forms say exactly what ``run.py fault`` says."""

from __future__ import annotations

import pytest

from emulator.cli import build_parser, fault_mapping
from emulator.dashboard.forms import FormError, fault_request

NODES = ["core-01", "core-02", "core-03"]


def cli(words, *options):
    """What ``run.py fault WORDS OPTIONS`` sends."""
    args = build_parser().parse_args(["fault", *words, *options])
    return fault_mapping(args.words, args)


@pytest.mark.parametrize("kind", ["kill", "stop", "pause", "resume", "restart"])
def test_process_forms_match_the_cli(kind):
    mapping, duration = fault_request({"kind": kind, "targets": ["core-02"]}, NODES)
    assert mapping == cli([kind, "core-02"])
    assert duration is None


def test_partition_form_with_sides_one_way_and_duration():
    form = {
        "kind": "partition",
        "sides": [["core-01"], ["core-02", "core-03"]],
        "one_way": True,
        "for": "10s",
    }
    mapping, duration = fault_request(form, NODES)
    assert mapping == cli(["partition", "core-01", "core-02,core-03"], "--one-way")
    assert duration == 10.0


@pytest.mark.parametrize("mode", ["random-halves", "bridge", "majorities-ring"])
def test_generated_partitions_match_the_cli(mode):
    mapping, _ = fault_request({"kind": "partition", "mode": mode, "sides": [["x"]]}, NODES)
    assert mapping == cli(["partition", mode])


@pytest.mark.parametrize("kind", ["drop", "duplicate", "reorder"])
def test_probability_forms_match_the_cli(kind):
    mapping, _ = fault_request({"kind": kind, "value": "15", "to": "core-02"}, NODES)
    assert mapping == cli([kind, "15%"], "--to", "core-02")


def test_loss_and_delay_forms_carry_their_links_and_units():
    mapping, duration = fault_request(
        {"kind": "drop", "value": "30", "nodes": "core-01", "to": "", "for": "20s"}, NODES
    )
    assert mapping == cli(["drop", "30%"], "--nodes", "core-01")
    assert duration == 20.0
    mapping, _ = fault_request({"kind": "delay", "value": "200", "jitter": "50"}, NODES)
    assert mapping == cli(["delay", "200ms"], "--jitter", "50ms")


def test_clear_form_and_zero_duration_means_until_healed():
    mapping, duration = fault_request({"kind": "clear", "for": "0"}, NODES)
    assert mapping == {"clear": True} and duration is None


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "kill", "targets": []}, "choose at least one node"),
        ({"kind": "kill", "targets": ["core-09"]}, "unknown node 'core-09'"),
        ({"kind": "partition", "sides": [["core-01"]]}, "two sides"),
        ({"kind": "partition", "sides": [["core-01"], []]}, "side 2"),
        ({"kind": "partition", "sides": [["core-01"], ["core-01"]]}, "two sides"),
        ({"kind": "drop", "value": "300"}, "0..100"),
        ({"kind": "delay", "value": "soon"}, "duration"),
        ({"kind": "kill", "targets": ["core-01"], "for": "later"}, "for:"),
        ("kill core-01", "JSON object"),
        ({"kind": "delay", "value": "-5"}, "start with '-'"),
    ],
)
def test_bad_forms_say_what_is_wrong(form, says):
    with pytest.raises(FormError, match=says):
        fault_request(form, NODES)
