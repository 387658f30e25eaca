"""fleet's API semantics over the registry: validation, PUT rules, paging (registry faked)."""

from __future__ import annotations

import re

import pytest
from fleet_fakes import OPTS, FakeRegistry

from actors.fleet.client import FleetClient, FleetError, PageToken, page, validate_unit
from actors.unitfile import parse_unit


def unit(xfleet=""):
    return parse_unit(
        "[Service]\nExecStart=/bin/true\n" + (f"[X-Fleet]\n{xfleet}\n" if xfleet else "")
    )


@pytest.mark.parametrize(
    "xfleet, message",
    [
        ("MachineID=abc\nConflicts=x*", "MachineID cannot be used with Conflicts"),
        ("MachineID=abc\nGlobal=true", "MachineID cannot be used with Global"),
        ("MachineID=abc\nMachineOf=x.service", "MachineID cannot be used with Peers"),
        ("MachineID=abc\nReplaces=x.service", "MachineID cannot be used with Replaces"),
        ("Global=true\nMachineOf=x.service", "Global cannot be used with Peers"),
        ("Global=true\nReplaces=x.service", "Global cannot be used with Replaces"),
        ("Conflicts=x*\nReplaces=y.service", "Conflicts cannot be used with Replaces"),
        ("MachineOf=db.service\nConflicts=d*", "peer 'db.service' matches conflict 'd*'"),
        ("Replaces=u.service", "u.service replaces itself"),
    ],
)
def test_invalid_combinations(xfleet, message):
    with pytest.raises(FleetError, match=re.escape(message)) as info:
        validate_unit("u.service", unit(xfleet))
    assert info.value.code == 400


def test_circular_replaces_with_a_unit_in_the_registry():
    reg = FakeRegistry()
    reg.create_unit("a.service", unit("Replaces=b.service"))
    with pytest.raises(FleetError, match="circular Replaces"):
        validate_unit("b.service", unit("Replaces=a.service"), reg.snap)


def test_bad_names_and_unknown_keys():
    with pytest.raises(FleetError, match="unsupported type"):
        validate_unit("u.txt", unit())
    assert validate_unit("u.service", unit("Bogus=1")) == [
        "unrecognized requirement in [X-Fleet] section: 'Bogus'"
    ]


def test_put_creates_then_sets_state():
    reg = FakeRegistry()
    client = FleetClient(reg)
    assert client.put_unit("a.service", {"options": OPTS, "desiredState": "loaded"}) == 201
    assert client.put_unit("a.service", {"desiredState": "launched"}) == 204
    assert reg.writes == [
        ("create", "a.service", "loaded"),
        ("target-state", "a.service", "launched"),
    ]
    got = client.unit("a.service")
    assert got == {"name": "a.service", "options": OPTS, "desiredState": "launched",
                   "currentState": "inactive"}  # fmt: skip


@pytest.mark.parametrize(
    "name, body, code, message",
    [
        ("a.service", {}, 409, "unit does not exist and options field empty"),
        ("a.service", {"name": "b.service"}, 400, "differs from unit name"),
        ("a.service", {"options": OPTS, "desiredState": "running"}, 400, "invalid value"),
        ("a", {"options": OPTS}, 400, "no type suffix"),
    ],
)
def test_put_refusals_change_nothing(name, body, code, message):
    reg = FakeRegistry()
    with pytest.raises(FleetError, match=message) as info:
        FleetClient(reg).put_unit(name, body)
    assert info.value.code == code and reg.writes == []


def test_template_cannot_be_activated():
    reg = FakeRegistry()
    client = FleetClient(reg)
    client.put_unit("t@.service", {"options": OPTS})
    with pytest.raises(FleetError, match="cannot activate template"):
        client.put_unit("t@.service", {"desiredState": "launched"})


def test_existing_unit_needs_desired_state():
    reg = FakeRegistry()
    client = FleetClient(reg)
    client.put_unit("a.service", {"options": OPTS})
    with pytest.raises(FleetError, match="must provide DesiredState") as info:
        client.put_unit("a.service", {"options": OPTS})
    assert info.value.code == 409


def test_destroy_missing_is_404():
    with pytest.raises(FleetError) as info:
        FleetClient(FakeRegistry()).destroy_unit("nope.service")
    assert info.value.code == 404


def test_page_tokens_as_fleet_encodes_them():
    tok = PageToken(100, 2)
    assert tok.encode() == "ZAACAA=="
    assert PageToken.decode("ZAACAA==", 100) == tok
    with pytest.raises(FleetError, match="token limit must be 100"):
        PageToken.decode(PageToken(5, 1).encode(), 100)
    with pytest.raises(FleetError, match="greater than zero"):
        PageToken.decode(PageToken(100, 0).encode(), 100)


def test_paging():
    items = list(range(5))
    assert page(items, PageToken(2, 1)) == ([0, 1], PageToken(2, 2).encode())
    assert page(items, PageToken(2, 3)) == ([4], "")
    assert page(items, PageToken(5, 1)) == (items, PageToken(5, 2).encode())  # as fleet does
    assert page(items, PageToken(5, 2)) == ([], "")
