"""The status table's VERSION / PART / UPDATE columns and update_engine_client's status lines."""

from __future__ import annotations

import io

from rich.console import Console

from emulator.statusview import _update_cells, render
from emulator.updatectl import format_status


def test_update_cells():
    node = {"version": "1.0.0", "partition": "USR-A", "update_status": "UPDATE_STATUS_IDLE"}
    assert _update_cells(node) == ["1.0.0", "A", "IDLE"]
    node.update(update_status="UPDATE_STATUS_DOWNLOADING", progress=0.4, new_version="1.1.0")
    assert _update_cells(node)[2] == "DOWNLOADING 40%"
    node.update(update_status="UPDATE_STATUS_UPDATED_NEED_REBOOT")
    assert _update_cells(node)[2] == "UPDATED_NEED_REBOOT 1.1.0"
    assert _update_cells({}) == ["-", "-", "-"]


def test_columns_appear_only_with_update_engine():
    base = {"name": "core-01", "address": "127.0.63.1", "pid": 1, "state": "up"}
    report = {"cluster": "c", "run_dir": "r", "nodes": [dict(base)]}
    out = io.StringIO()
    Console(file=out, width=200).print(render(report))
    assert "PART" not in out.getvalue()
    report["nodes"][0].update(
        version="1.1.0", partition="USR-B", update_status="UPDATE_STATUS_IDLE"
    )
    out = io.StringIO()
    Console(file=out, width=200).print(render(report))
    assert "VERSION" in out.getvalue() and "1.1.0" in out.getvalue()


def test_update_engine_client_status_lines():
    text = format_status(
        {
            "last_checked": 1764700000.7,
            "progress": 0.25,
            "current_operation": "UPDATE_STATUS_DOWNLOADING",
            "new_version": "1.1.0",
            "new_size": 1234,
        }
    )
    assert text.splitlines() == [
        "LAST_CHECKED_TIME=1764700000",
        "PROGRESS=0.250000",
        "CURRENT_OP=UPDATE_STATUS_DOWNLOADING",
        "NEW_VERSION=1.1.0",
        "NEW_SIZE=1234",
    ]
