import json
import random

import pytest

from emulator.faults import FaultError, FaultKind, parse_fault
from emulator.history import History
from emulator.nemesis import Nemesis
from emulator.nodelog import NodeLog


@pytest.mark.parametrize("value", ["down", ["down"], ("down",)])
def test_update_service_fault_parses_from_config_and_command_line(value):
    spec = parse_fault({"update-service": value})
    assert spec.kind is FaultKind.UPDATE_SERVICE and spec.mode == "down"
    assert spec.describe() == "update-service down"


@pytest.mark.parametrize(
    "data",
    [
        {"update-service": "sideways"},
        {"update-service": ["down", "up"]},
        {"update-service": "down", "nodes": "core-01"},
    ],  # fmt: skip
)
def test_bad_update_service_faults_are_refused(data):
    with pytest.raises(FaultError):
        parse_fault(data)


def nemesis(tmp_path, calls):
    return Nemesis(
        nodes=[], procs={}, rng=random.Random(1), history=History(tmp_path / "h.jsonl"),
        log=NodeLog("t", None).for_actor("nemesis"), roles=dict, launch=lambda p: None,
        update_service=calls.append,
    )  # fmt: skip


def test_down_for_a_while_comes_back_up_and_both_ends_are_in_history(tmp_path):
    calls: list[bool] = []
    nem = nemesis(tmp_path, calls)
    fault = nem.start(parse_fault({"update-service": "down"}), 5.0, now=100.0, origin="test")
    assert calls == [False] and fault.id in nem.active
    nem.expire(104.0)
    assert calls == [False]
    nem.expire(105.0)
    assert calls == [False, True] and not nem.active
    history = [json.loads(x) for x in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert [(h["phase"], h["fault"]) for h in history] == [
        ("start", "update-service down"),
        ("end", "update-service down"),
    ]


def test_up_and_clear_bring_the_service_back(tmp_path):
    calls: list[bool] = []
    nem = nemesis(tmp_path, calls)
    nem.start(parse_fault({"update-service": "down"}), None, now=1.0, origin="test")
    nem.start(parse_fault({"update-service": "up"}), None, now=2.0, origin="test")
    nem.start(parse_fault({"update-service": "down"}), None, now=3.0, origin="test")
    nem.start(parse_fault({"clear": True}), None, now=4.0, origin="test")
    assert calls == [False, True, False, True]
