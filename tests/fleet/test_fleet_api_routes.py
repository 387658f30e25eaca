"""fleet's API v1 routing and error bodies, on a faked registry (no sockets)."""

from __future__ import annotations

import pytest
from fleet_fakes import OPTS, FakeRegistry

from actors.fleet.api import DISCOVERY, FleetApi, api_port
from actors.fleet.client import FleetClient, FleetError, PageToken
from actors.fleet.records import MachineState

JSON = {"Content-Type": "application/json"}


class Log:
    def warning(self, *a, **k):
        pass


def make_api():
    reg = FakeRegistry()
    reg.snap.machines["a" * 32] = MachineState("a" * 32, "127.0.61.1", {"region": "w"})
    return FleetApi(FleetClient(reg), None, Log()), reg


def call(api, method, path, query=None, body=b"", headers=JSON):
    try:
        return api.route(method, path, query or {}, body, headers)
    except FleetError as exc:
        return exc.code, exc.message


def test_discovery_and_machines():
    api, _ = make_api()
    assert call(api, "GET", "/fleet/v1/discovery") == (200, DISCOVERY)
    assert call(api, "GET", "/fleet/v1/machines") == (
        200,
        {"machines": [{"id": "a" * 32, "primaryIP": "127.0.61.1", "metadata": {"region": "w"}}]},
    )
    assert call(api, "GET", "/v1-alpha/machines")[0] == 200  # the older prefix too


def test_units_put_get_list_delete():
    api, _ = make_api()
    body = b'{"desiredState": "loaded", "options": [{"section": "Service", "name": "ExecStart", "value": "/bin/true"}]}'
    assert call(api, "PUT", "/fleet/v1/units/a.service", body=body) == (201, None)
    assert call(api, "GET", "/fleet/v1/units/a.service")[1]["options"] == OPTS
    assert [u["name"] for u in call(api, "GET", "/fleet/v1/units")[1]["units"]] == ["a.service"]
    assert call(api, "DELETE", "/fleet/v1/units/a.service") == (204, None)
    assert call(api, "GET", "/fleet/v1/units/a.service") == (404, "unit does not exist")
    assert call(api, "GET", "/fleet/v1/units") == (200, {})  # empty lists are left out


def test_paging_of_units():
    api, reg = make_api()
    client = FleetClient(reg)
    for i in range(101):
        client.put_unit(f"u{i:03}.service", {"options": OPTS})
    status, first = call(api, "GET", "/fleet/v1/units")
    assert len(first["units"]) == 100 and first["nextPageToken"] == PageToken(100, 2).encode()
    status, second = call(
        api, "GET", "/fleet/v1/units", {"nextPageToken": [first["nextPageToken"]]}
    )
    assert [u["name"] for u in second["units"]] == [
        "u100.service"
    ] and "nextPageToken" not in second
    bad = call(api, "GET", "/fleet/v1/units", {"nextPageToken": [PageToken(5, 1).encode()]})
    assert bad == (400, "token limit must be 100")


@pytest.mark.parametrize(
    "method, path, headers, body, expected",
    [
        ("GET", "/", JSON, b"", (405, "")),
        ("GET", "/nope", JSON, b"", (404, "")),
        ("POST", "/fleet/v1/units", JSON, b"", (405, "only GET supported against this resource")),
        (
            "PUT",
            "/fleet/v1/units/a.service",
            {},
            b"{}",
            (415, "only acceptable Content-Type is application/json"),
        ),
        ("PUT", "/fleet/v1/units/a.service", JSON, b"{", (400, None)),
        (
            "POST",
            "/fleet/v1/discovery",
            JSON,
            b"",
            (400, "only HTTP GET supported against this resource"),
        ),
        ("GET", "/fleet/v1/state/a.service", JSON, b"", (404, "unit state does not exist")),
        ("GET", "/coreemu/v1/journal/a.service", JSON, b"", (503, "this node runs no systemd")),
    ],
)
def test_errors(method, path, headers, body, expected):
    api, _ = make_api()
    code, message = call(api, method, path, body=body, headers=headers)
    assert code == expected[0]
    if expected[1] is not None:
        assert message == expected[1]


def test_api_port():
    class Spec:
        address, client_port = "127.0.61.3", 2379

    assert api_port(Spec) == 49153
    Spec.address, Spec.client_port = "127.0.0.1", 22389
    assert api_port(Spec) == 22396


def test_patch_machine_metadata():
    api, reg = make_api()
    ops = (
        b'[{"op": "add", "path": "/' + b"a" * 32 + b'/metadata/disk", "value": {"value": "ssd"}},'
        b' {"op": "remove", "path": "/' + b"a" * 32 + b'/metadata/region"}]'
    )
    assert call(api, "PATCH", "/fleet/v1/machines", body=ops) == (204, None)
    assert reg.writes == [
        ("metadata", "a" * 32, "disk", "ssd"),
        ("metadata", "a" * 32, "region", ""),
    ]


@pytest.mark.parametrize(
    "ops, message",
    [
        (
            b'[{"op": "move", "path": "/m/metadata/k"}]',
            "invalid op: expect add, remove, or replace",
        ),
        (
            b'[{"op": "add", "path": "/m/other/k", "value": {"value": "v"}}]',
            "machine metadata path invalid",
        ),
        (
            b'[{"op": "add", "path": "/m/metadata/k"}]',
            "invalid value: add and replace require a value",
        ),
    ],
)
def test_patch_refusals_change_nothing(ops, message):
    api, reg = make_api()
    good = b'{"op": "add", "path": "/m/metadata/a", "value": {"value": "1"}}, '
    assert call(api, "PATCH", "/fleet/v1/machines", body=b"[" + good + ops[1:]) == (400, message)
    assert reg.writes == []
