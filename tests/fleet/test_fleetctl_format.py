"""fleetctl's tables and legends."""

from __future__ import annotations

from emulator.fleetctl_format import format_metadata, machine_full_legend, tab_table
from emulator.fleetctl_units import append_default_type, unit_name_mangle


def test_tab_table_pads_with_tabs_to_tab_stops():
    out = tab_table([["UNIT", "MACHINE"], ["hello@1.service", "abcdef12.../127.0.61.1"]])
    assert out == "UNIT\t\tMACHINE\nhello@1.service\tabcdef12.../127.0.61.1\n"


def test_tab_table_exact_multiple_gets_a_whole_tab():
    assert tab_table([["1234567", "x"]]) == "1234567\tx\n"
    assert tab_table([["12345678", "x"]]) == "12345678\tx\n"
    assert tab_table([["12345678", "x"], ["a", "y"]]) == "12345678\tx\na\t\ty\n"


def test_legends():
    ms = {"a" * 32: {"id": "a" * 32, "primaryIP": "10.0.0.1"}}
    assert machine_full_legend("a" * 32, ms, False) == "aaaaaaaa.../10.0.0.1"
    assert machine_full_legend("a" * 32, ms, True) == "a" * 32 + "/10.0.0.1"
    assert machine_full_legend("b" * 32, ms, False) == "bbbbbbbb..."
    assert format_metadata({"region": "w", "disk": "ssd"}) == "disk=ssd,region=w"
    assert format_metadata({}) == "-"


def test_unit_names_from_arguments():
    assert append_default_type("hello") == "hello.service"
    assert append_default_type("a.timer") == "a.timer"
    assert unit_name_mangle("configs/units/hello@1.service") == "hello@1.service"
