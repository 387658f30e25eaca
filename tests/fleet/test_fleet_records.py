"""fleet's registry formats, byte for byte (golden records)."""

from __future__ import annotations

from actors.fleet import records as r
from actors.unitfile import parse_unit

MID = "0123456789abcdef0123456789abcdef"


def test_unit_hash_matches_fleets_own_test():
    # coreos/fleet unit/unit_test.go TestUnitHash
    unit = parse_unit("[Service]\nExecStart=/bin/sleep 100\n")
    assert r.unit_hash(unit) == "1c6fb6f3684bafb0c173d8b8b957ceff031180c1"


def test_canonical_text_groups_sections_with_one_blank_line():
    unit = parse_unit(
        "[Unit]\nDescription=x\n\n\n[Service]\nExecStart=/bin/true\n[Unit]\nAfter=y\n"
    )
    assert r.unit_text(unit) == "[Unit]\nDescription=x\nAfter=y\n\n[Service]\nExecStart=/bin/true\n"


def test_unit_record():
    unit = parse_unit("[Service]\nExecStart=/bin/sh -c 'a && b > c'\n")
    assert r.encode_unit(unit) == (
        '{"Raw":"[Service]\\nExecStart=/bin/sh -c \'a \\u0026\\u0026 b \\u003e c\'\\n"}'
    )


def test_job_object_hash_as_twenty_integers():
    value = r.encode_job("hello@1.service", "1c6fb6f3684bafb0c173d8b8b957ceff031180c1")
    assert value == (
        '{"Name":"hello@1.service","UnitHash":[28,111,182,243,104,75,175,176,193,115,216,184,'
        "185,87,206,255,3,17,128,193]}"
    )
    assert r.decode_job(value) == ("hello@1.service", "1c6fb6f3684bafb0c173d8b8b957ceff031180c1")


def test_machine_object():
    ms = r.MachineState(MID, "127.0.61.1", {"region": "us-west", "disk": "ssd"}, "0.11.8")
    assert ms.encode() == (
        '{"ID":"0123456789abcdef0123456789abcdef","PublicIP":"127.0.61.1",'
        '"Metadata":{"disk":"ssd","region":"us-west"},"Capabilities":null,"Version":"0.11.8"}'
    )
    assert r.MachineState.from_go(__import__("json").loads(ms.encode())) == ms


def test_unit_state_record():
    ms = r.MachineState(MID, "127.0.61.1", {}, "0.11.8")
    st = r.UnitState("a.service", MID, "loaded", "active", "running", "ab" * 20)
    value = st.encode(ms)
    assert value == (
        '{"loadState":"loaded","activeState":"active","subState":"running","machineState":'
        '{"ID":"0123456789abcdef0123456789abcdef","PublicIP":"127.0.61.1","Metadata":{},'
        '"Capabilities":null,"Version":"0.11.8"},"unitHash":"' + "ab" * 20 + '"}'
    )
    assert r.UnitState.decode("a.service", MID, value) == st


def test_lease_record_and_legacy_value():
    assert r.encode_lease(MID) == '{"MachineID":"0123456789abcdef0123456789abcdef","Version":1}'
    assert r.decode_lease(r.encode_lease(MID)) == (MID, 1)
    assert r.decode_lease(MID) == (MID, 0)  # an old engine wrote the bare id


def test_keys():
    assert r.machine_key(MID) == f"/_coreos.com/fleet/machines/{MID}/object"
    assert r.job_key("a.service", "target-state") == "/_coreos.com/fleet/job/a.service/target-state"
    assert r.state_key("a.service", MID) == f"/_coreos.com/fleet/states/a.service/{MID}"
    assert r.lease_key() == "/_coreos.com/fleet/lease/engine-leader"
    assert r.ENGINE_VERSION_KEY == "/_coreos.com/fleet/engine/version"
    assert r.unit_key("ab") == "/_coreos.com/fleet/unit/ab"
