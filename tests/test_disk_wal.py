"""The WAL and snapshots through the disk layer: faults, torn tails vs corruption, the sim disk."""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pytest

from actors.raft.entries import ConfState, Entry, EntryKind, HardState, Snapshot
from actors.raft.snapfile import SnapshotStore
from actors.raft.wal import WAL, WALCorrupt, WALError
from emulator.disk import DiskFaults, RealDisk, corrupt_synced, lose_unsynced
from emulator.simdisk import SimDisk

NODE, TOKEN = "core-01", "tok"


def ents(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(term, i, EntryKind.NORMAL, f"e{i}".encode() * 3) for i in range(lo, hi + 1)]


def open_wal(directory: Path, disk):
    return WAL.open(directory, node=NODE, token=TOKEN, disk=disk)


# --- on real files with the synced ledger -------------------------------------------------------
def test_a_flipped_byte_in_the_synced_part_refuses_to_start_naming_file_and_offset(tmp_path):
    wal_dir = tmp_path / "member" / "wal"
    wal, _ = open_wal(wal_dir, RealDisk(tmp_path))
    for i in range(1, 40, 5):
        wal.append(ents(i, i + 4), HardState(1, "core-01", i + 4))
    seg = wal.segments[-1]
    wal.close()
    file, offset = corrupt_synced(tmp_path, random.Random(5))
    assert file.endswith(seg.name)
    before = seg.read_bytes()
    logged: list[tuple[str, dict]] = []
    with pytest.raises(WALCorrupt) as err:
        WAL.open(
            wal_dir,
            node=NODE,
            token=TOKEN,
            disk=RealDisk(tmp_path),
            log=lambda event, level="info", **kw: logged.append((event, dict(kw, level=level))),
        )
    text = str(err.value)
    assert str(seg) in text and "offset" in text and "not a torn write" in text
    assert logged == [("wal.refused", {"error": text, "directory": str(wal_dir), "level": "error"})]
    assert seg.read_bytes() == before  # nothing was cut: a bad record is never loaded or dropped


def test_the_same_flip_without_a_ledger_is_taken_for_a_torn_tail(tmp_path):
    """Why the ledger matters: without it, a flip in the last segment looks like a torn write."""
    wal_dir = tmp_path / "member" / "wal"
    wal, _ = open_wal(wal_dir, RealDisk(tmp_path))
    wal.append(ents(1, 20), None)
    wal.close()
    corrupt_synced(tmp_path, random.Random(5))
    wal, rec = open_wal(wal_dir, RealDisk())  # no root: no ledger
    wal.close()
    assert rec.torn_tail is not None and len(rec.entries) < 20


def test_lose_unsynced_then_restart_keeps_every_synced_entry(tmp_path):
    for seed in range(25):
        root = tmp_path / str(seed)
        wal_dir = root / "member" / "wal"
        disk = RealDisk(root)
        wal, _ = open_wal(wal_dir, disk)
        wal.append(ents(1, 10), HardState(1, "core-01", 10))
        # the last batch is written but its fsync fails: in the page cache only
        disk.faults = DiskFaults(fail_fsync=True)
        with pytest.raises(OSError):
            wal.append(ents(11, 15), None)
        wal.close()
        lose_unsynced(root, random.Random(seed))
        wal, rec = open_wal(wal_dir, RealDisk(root))
        assert rec.entries[:10] == ents(1, 10)
        assert rec.entries[10:] in (ents(11, 15)[:k] for k in range(6))
        assert rec.hard_state == HardState(1, "core-01", 10)
        wal.append(ents(len(rec.entries) + 1, len(rec.entries) + 1, 2), None)  # carries on
        wal.close()


def test_disk_full_fails_the_append_and_the_wal_carries_on_once_cleared(tmp_path):
    disk = RealDisk(tmp_path)
    wal, _ = open_wal(tmp_path / "wal", disk)
    wal.append(ents(1, 3), None)
    disk.faults = DiskFaults(full=True)
    with pytest.raises(OSError) as err:
        wal.append(ents(4, 6), None)
    assert err.value.errno == errno.ENOSPC
    disk.faults = DiskFaults()
    wal.append(ents(4, 6), None)
    wal.close()
    _, rec = open_wal(tmp_path / "wal", RealDisk(tmp_path))
    assert rec.entries == ents(1, 6) and rec.torn_tail is None


# --- on the simulated disk -------------------------------------------------------------------------
def test_sim_disk_keeps_synced_bytes_and_a_torn_prefix_of_the_rest():
    disk = SimDisk(random.Random(1))
    disk.mkdir(Path("/d"))
    f = disk.open(Path("/d/f"), create=True)
    f.write(b"a" * 10)
    f.fsync()
    f.write(b"b" * 10)
    lost = disk.crash()
    data = disk.read(Path("/d/f"))
    assert data[:10] == b"a" * 10 and set(data[10:]) <= {ord("b")}
    assert lost.get(Path("/d/f"), 0) == 20 - len(data)
    assert disk.listdir(Path("/d")) == ["f"] and disk.synced_size(Path("/d/f")) == 10


def test_sim_disk_faults():
    delays: list[float] = []
    disk = SimDisk(random.Random(1), on_fsync=delays.append)
    disk.mkdir(Path("/d"))
    f = disk.open(Path("/d/f"), create=True)
    disk.faults = DiskFaults(slow_fsync_s=0.05)
    f.write(b"x")
    f.fsync()
    assert delays == [0.05]
    disk.faults = DiskFaults(full=True)
    with pytest.raises(OSError) as err:
        f.write(b"y")
    assert err.value.errno == errno.ENOSPC
    disk.faults = DiskFaults(fail_fsync=True)
    with pytest.raises(OSError) as err:
        f.fsync()
    assert err.value.errno == errno.EIO
    with pytest.raises(FileNotFoundError):
        disk.open(Path("/nowhere/f"), create=True)


def test_wal_on_the_sim_disk_survives_any_crash_with_every_synced_entry():
    for seed in range(60):
        rng = random.Random(seed)
        disk = SimDisk(random.Random(seed))
        wal, _ = open_wal(Path("/node/member/wal"), disk)
        wal.segment_bytes = 300  # several segments
        synced = 0
        for _ in range(rng.randint(1, 12)):
            n = rng.randint(1, 4)
            wal.append(ents(synced + 1, synced + n), HardState(1, None, synced + n))
            synced += n
        disk.faults = DiskFaults(fail_fsync=True)  # one more batch reaches only the page cache
        with pytest.raises(OSError):
            wal.append(ents(synced + 1, synced + 3), None)
        disk.faults = DiskFaults()
        disk.crash()
        wal, rec = open_wal(Path("/node/member/wal"), disk)
        assert rec.entries[:synced] == ents(1, synced), seed
        assert len(rec.entries) <= synced + 3
        assert rec.hard_state == HardState(1, None, synced)
        wal.close()


def test_wal_on_the_sim_disk_refuses_a_corrupted_synced_record():
    disk = SimDisk(random.Random(4))
    wal, _ = open_wal(Path("/n/wal"), disk)
    wal.append(ents(1, 30), None)
    wal.close()
    path, offset = disk.corrupt(".wal")
    with pytest.raises(WALCorrupt) as err:
        open_wal(Path("/n/wal"), disk)
    assert path.name in str(err.value) and "at offset" in str(err.value)


def test_failed_fsync_on_the_sim_disk_stops_the_wal():
    disk = SimDisk(random.Random(4))
    wal, _ = open_wal(Path("/n/wal"), disk)
    disk.faults = DiskFaults(fail_fsync=True)
    with pytest.raises(OSError):
        wal.append(ents(1, 1), None)
    disk.faults = DiskFaults()
    with pytest.raises(WALError, match="fsync failed"):
        wal.append(ents(1, 1), None)


def test_snapshots_on_the_sim_disk():
    disk = SimDisk(random.Random(0))
    store = SnapshotStore(Path("/n/snap"), disk=disk)
    snap = Snapshot(7, 2, ConfState(("core-01",)), b"state")
    store.save(snap)
    assert store.load_newest() == snap
    disk.crash()  # it was fsynced and renamed: it survives
    assert SnapshotStore(Path("/n/snap"), disk=disk).load_newest() == snap
