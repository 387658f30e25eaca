"""Snapshot files: atomic save, newest-first load with fallback past corrupt files, purge."""

from __future__ import annotations

import os

from actors.raft.entries import ConfState, Snapshot
from actors.raft.snapfile import SnapshotStore


def snap(index: int, term: int = 1, data: bytes | None = None) -> Snapshot:
    return Snapshot(
        index, term, ConfState(("core-01", "core-02")), data or f"state@{index}".encode()
    )


class Events:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, event: str, level: str = "info", **fields) -> None:
        self.calls.append((event, dict(fields, level=level)))


def test_save_and_load_round_trip(tmp_path):
    store = SnapshotStore(tmp_path / "snap")
    s = snap(42, 3, os.urandom(300_000))
    path = store.save(s)
    assert path.name == "0000000000000003-000000000000002a.snap"
    assert [p.name for p in (tmp_path / "snap").iterdir()] == [path.name]  # no temp file left
    assert SnapshotStore(tmp_path / "snap").load_newest() == s


def test_empty_store_loads_nothing(tmp_path):
    assert SnapshotStore(tmp_path).load_newest() is None


def test_newest_is_the_highest_index_whatever_the_term(tmp_path):
    store = SnapshotStore(tmp_path)
    for s in (snap(10, 1), snap(30, 2), snap(20, 5)):
        store.save(s)
    assert store.load_newest() == snap(30, 2)


def test_corrupt_newest_falls_back_to_older_with_a_warning(tmp_path):
    events = Events()
    store = SnapshotStore(tmp_path, log=events)
    store.save(snap(10))
    store.save(snap(20))
    flipped = store.save(snap(30))
    truncated = store.save(snap(40))
    raw = bytearray(flipped.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    flipped.write_bytes(raw)
    os.truncate(truncated, 3)
    assert store.load_newest() == snap(20)
    warned = [f for e, f in events.calls if e == "snap.corrupt"]
    assert [f["file"] for f in warned] == [str(truncated), str(flipped)]
    assert all(f["level"] == "warning" and f["reason"] for f in warned)
    assert "CRC" in warned[1]["reason"]
    assert not flipped.exists() and flipped.with_name(flipped.name + ".broken").exists()
    assert store.load_newest() == snap(20)  # set aside, not retried
    assert len(events.calls) == 2


def test_file_that_disagrees_with_its_name_is_skipped(tmp_path):
    events = Events()
    store = SnapshotStore(tmp_path, log=events)
    store.save(snap(5))
    liar = tmp_path / "0000000000000001-0000000000000063.snap"  # claims index 99
    liar.write_bytes(store.save(snap(9)).read_bytes())
    assert store.load_newest() == snap(9)
    assert not liar.exists()
    assert "name" in events.calls[0][1]["reason"]


def test_all_corrupt_loads_nothing(tmp_path):
    store = SnapshotStore(tmp_path, log=Events())
    p = store.save(snap(1))
    p.write_bytes(b"")
    assert store.load_newest() is None


def test_purge_keeps_the_newest(tmp_path):
    store = SnapshotStore(tmp_path)
    for i in range(1, 8):
        store.save(snap(i * 10))
    (tmp_path / "0000000000000001-0000000000000099.snap.tmp").write_bytes(b"half")
    removed = store.purge(keep=3)
    assert len(removed) == 5
    assert [p.name[-7:-5] for p in store.paths()] == ["32", "3c", "46"]  # 50, 60, 70
    assert not list(tmp_path.glob("*.tmp"))
    assert store.load_newest() == snap(70)
    assert store.purge(keep=3) == []
