"""The disk layer: real files with faults and a synced ledger, and what the supervisor does to them."""

from __future__ import annotations

import errno
import json
import random
from pathlib import Path

import pytest

from emulator import disk as diskmod
from emulator.disk import (
    LEDGER_NAME,
    DiskFaults,
    RealDisk,
    corrupt_synced,
    lose_unsynced,
    read_ledger,
)


def ledger(root: Path) -> dict[str, int]:
    return json.loads((root / LEDGER_NAME).read_text())


def test_fsync_records_the_synced_size_and_rename_and_remove_follow(tmp_path):
    disk = RealDisk(tmp_path)
    disk.mkdir(tmp_path / "wal")
    f = disk.open(tmp_path / "wal" / "a.tmp", create=True, truncate=True)
    f.write(b"hello")
    assert read_ledger(tmp_path) == {}  # written, not yet synced
    f.fsync()
    assert ledger(tmp_path) == {"wal/a.tmp": 5}
    f.write(b" world")
    assert disk.synced_size(tmp_path / "wal" / "a.tmp") == 5
    disk.rename(tmp_path / "wal" / "a.tmp", tmp_path / "wal" / "a")
    f.path = tmp_path / "wal" / "a"
    f.fsync()
    assert ledger(tmp_path) == {"wal/a": 11}
    f.close()
    disk.remove(tmp_path / "wal" / "a")
    assert ledger(tmp_path) == {}
    # a new process reads what the last one recorded
    assert RealDisk(tmp_path).synced_size(tmp_path / "wal" / "a") is None


def test_a_known_files_new_size_is_written_in_place_and_reads_back(tmp_path):
    disk = RealDisk(tmp_path)
    files = [disk.open(tmp_path / name, create=True) for name in ("a", "b")]
    for f in files:
        f.write(b"x")
        f.fsync()
    length = (tmp_path / LEDGER_NAME).stat().st_size
    files[0].write(b"y" * 123456)
    files[0].fsync()
    assert ledger(tmp_path) == {"a": 123457, "b": 1}
    assert (tmp_path / LEDGER_NAME).stat().st_size == length  # one slot rewritten, nothing moved
    # a new process picks the ledger up and goes on from it; a file added later joins it
    files[1].close()
    again = RealDisk(tmp_path)
    g = again.open(tmp_path / "b", create=True)
    g.write(b"zz")
    g.fsync()
    h = again.open(tmp_path / "c", create=True)
    h.write(b"c")
    h.fsync()
    assert ledger(tmp_path) == {"a": 123457, "b": 3, "c": 1}
    again.remove(tmp_path / "a")
    g.write(b"!")
    g.fsync()
    assert ledger(tmp_path) == {"b": 4, "c": 1}
    for f in (files[0], g, h):
        f.close()


def test_files_outside_the_root_are_not_tracked(tmp_path):
    disk = RealDisk(tmp_path / "node")
    f = disk.open(tmp_path / "elsewhere", create=True)
    f.write(b"x")
    f.fsync()
    f.close()
    assert read_ledger(tmp_path / "node") == {}


def test_disk_full_fails_writes_and_creates_with_enospc_and_writes_nothing(tmp_path):
    disk = RealDisk(tmp_path)
    f = disk.open(tmp_path / "f", create=True)
    f.write(b"abc")
    disk.faults = DiskFaults(full=True)
    with pytest.raises(OSError) as err:
        f.write(b"def")
    assert err.value.errno == errno.ENOSPC and "disk-full" in str(err.value)
    with pytest.raises(OSError) as err:
        disk.open(tmp_path / "g", create=True)
    assert err.value.errno == errno.ENOSPC
    assert (tmp_path / "f").read_bytes() == b"abc" and f.size == 3
    disk.faults = DiskFaults()
    f.write(b"def")
    f.close()
    assert (tmp_path / "f").read_bytes() == b"abcdef"


def test_failed_fsync_raises_eio_and_records_nothing(tmp_path):
    disk = RealDisk(tmp_path)
    f = disk.open(tmp_path / "f", create=True)
    f.write(b"abc")
    disk.faults = DiskFaults(fail_fsync=True)
    with pytest.raises(OSError) as err:
        f.fsync()
    assert err.value.errno == errno.EIO
    assert read_ledger(tmp_path) == {}
    f.close()


def test_slow_fsync_waits_at_least_the_fault_time_plus_some_jitter(tmp_path):
    slept: list[float] = []
    disk = RealDisk(tmp_path, rng=random.Random(1), sleep=slept.append)
    f = disk.open(tmp_path / "f", create=True)
    disk.faults = DiskFaults(slow_fsync_s=0.05, jitter_s=0.02)
    for _ in range(50):
        f.write(b"x")
        f.fsync()
    f.close()
    assert len(slept) == 50
    # what is slept is the fault time minus the real fsync's own time (< 50 ms here)
    assert all(0 < s <= 0.07 for s in slept)
    assert max(slept) > 0.05  # the jitter adds on top
    assert DiskFaults(slow_fsync_s=0.05, jitter_s=0.02).fsync_delay(random.Random(2)) >= 0.05
    assert DiskFaults().fsync_delay(random.Random(2)) == 0


def _file_with_unsynced_tail(root: Path, synced: bytes, unsynced: bytes, allocate: int = 0) -> Path:
    disk = RealDisk(root)
    disk.mkdir(root / "member" / "wal")
    path = root / "member" / "wal" / "0001.wal"
    f = disk.open(path, create=True)
    f.write(synced)
    f.fsync()
    f.allocate(allocate)  # zeros past the data, as a WAL segment has
    f.write(unsynced)
    f.close()
    return path


def test_lose_unsynced_cuts_between_the_last_fsync_and_the_end(tmp_path):
    seen = set()
    for seed in range(40):
        root = tmp_path / str(seed)
        path = _file_with_unsynced_tail(root, b"s" * 100, b"u" * 30)
        [cut] = lose_unsynced(root, random.Random(seed))
        assert cut.file == "member/wal/0001.wal" and cut.synced == 100 and cut.size_before == 130
        assert 100 <= cut.size_after <= 130
        assert path.read_bytes() == b"s" * 100 + b"u" * (cut.size_after - 100)
        seen.add(cut.size_after)
    assert len(seen) > 10  # a random byte, not always the same place


def test_lose_unsynced_cuts_in_the_unsynced_data_of_a_file_allocated_ahead(tmp_path):
    seen = set()
    for seed in range(40):
        root = tmp_path / str(seed)
        path = _file_with_unsynced_tail(root, b"s" * 100, b"u" * 30, allocate=4096)
        assert path.stat().st_size == 4096
        [cut] = lose_unsynced(root, random.Random(seed))
        assert cut.synced == 100 and cut.size_before == 4096
        assert 100 <= cut.size_after <= 130  # never in the zeros, where nothing would be lost
        assert path.read_bytes() == b"s" * 100 + b"u" * (cut.size_after - 100)
        seen.add(cut.size_after)
    assert len(seen) > 10


def test_writes_go_at_the_end_of_the_data_not_of_the_allocated_file(tmp_path):
    disk = RealDisk(tmp_path)
    f = disk.open(tmp_path / "f", create=True)
    f.write(b"abc")
    f.allocate(100)
    f.allocate(50)  # never shrinks
    f.write(b"def")
    f.fsync()
    assert f.size == 6 and read_ledger(tmp_path) == {"f": 6}
    assert (tmp_path / "f").read_bytes() == b"abcdef" + bytes(94)
    disk.faults = DiskFaults(full=True)
    f.allocate(100)  # nothing to allocate: no error
    with pytest.raises(OSError) as err:
        f.allocate(200)
    assert err.value.errno == errno.ENOSPC and (tmp_path / "f").stat().st_size == 100
    f.close()


def test_a_file_system_that_cannot_allocate_ahead_still_takes_the_writes(tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(diskmod.os, "posix_fallocate", unsupported)
    disk = RealDisk(tmp_path)
    f = disk.open(tmp_path / "f", create=True)
    f.write(b"abc")
    f.allocate(4096)  # quietly nothing: allocating ahead only makes fsyncs cheaper
    f.write(b"def")
    f.fsync()
    f.close()
    assert (tmp_path / "f").read_bytes() == b"abcdef" and read_ledger(tmp_path) == {"f": 6}


def test_lose_unsynced_leaves_fully_synced_files_alone(tmp_path):
    path = _file_with_unsynced_tail(tmp_path, b"s" * 10, b"")
    assert lose_unsynced(tmp_path, random.Random(0)) == []
    assert path.read_bytes() == b"s" * 10


def test_corrupt_synced_flips_a_byte_in_the_second_half_of_the_synced_part(tmp_path):
    path = _file_with_unsynced_tail(tmp_path, bytes(200), b"\xff" * 50)
    hit = corrupt_synced(tmp_path, random.Random(3))
    assert hit is not None
    name, offset = hit
    assert name == "member/wal/0001.wal" and 100 <= offset < 200
    raw = path.read_bytes()
    assert raw[offset] != 0 and raw[:offset] == bytes(offset)
    assert raw[200:] == b"\xff" * 50  # the unsynced tail is not touched


def test_corrupt_synced_without_a_synced_wal_does_nothing(tmp_path):
    assert corrupt_synced(tmp_path, random.Random(0)) is None
