from rich.console import Console

from emulator.statusview import render


def text(report) -> str:
    console = Console(width=200, record=True)
    console.print(render(report))
    return console.export_text()


def node(name, **extra):
    return {"name": name, "address": "a", "pid": 1, "state": "up", "uptime_s": 1, "peers": {},
            **extra}  # fmt: skip


def test_lock_column_marks_the_holder():
    out = text({"cluster": "c", "run_dir": "/r", "nodes": [
        node("core-01", lock_holder=True), node("core-02", lock_holder=False)]})  # fmt: skip
    assert "LOCK" in out
    machine_table = out[out.index("LOCK") :]  # the second table: the machine's parts
    lines = [line for line in machine_table.splitlines() if "core-0" in line]
    assert lines[0].rstrip().endswith("held") and lines[1].rstrip().endswith("-")


def test_no_lock_column_without_locksmith_and_the_update_service_line():
    out = text({"cluster": "c", "run_dir": "/r", "nodes": [node("core-01")],
                "update_service": {"url": "http://127.0.10.254:8000", "state": "down"}})  # fmt: skip
    assert "LOCK" not in out
    assert "update service: http://127.0.10.254:8000 (down)" in out
