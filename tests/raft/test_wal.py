"""The WAL: round trips, Raft overwrite rules, segments, torn tails and refusing bad WALs."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.raft.entries import Entry, EntryKind, HardState
from actors.raft.wal import PREALLOCATE_BYTES, WAL, WALCorrupt, WALError, WALMismatch
from emulator import disk as diskmod

NODE, TOKEN = "core-01", "tok-1"


def ents(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(term, i, EntryKind.NORMAL, f"e{i}t{term}".encode()) for i in range(lo, hi + 1)]


class Events:
    """A ``log`` callable that keeps what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, event: str, level: str = "info", **fields) -> None:
        self.calls.append((event, dict(fields, level=level)))

    def named(self, event: str) -> list[dict]:
        return [f for e, f in self.calls if e == event]


def reopen(directory: Path, **kw):
    kw.setdefault("node", NODE)
    kw.setdefault("token", TOKEN)
    return WAL.open(directory, **kw)


def recover(directory: Path, **kw):
    wal, rec = reopen(directory, **kw)
    wal.close()
    return rec


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def record_bounds(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each record in a segment, read from the length fields."""
    out, pos = [], 0
    while pos < len(data) and data[pos + 8] != 0:  # type 0: the allocated zeros past the data
        (length,) = struct.unpack_from("<I", data, pos)
        out.append((pos, pos + 9 + length))
        pos += 9 + length
    return out


def records_end(data: bytes) -> int:
    bounds = record_bounds(data)
    return bounds[-1][1] if bounds else 0


# --- round trips ----------------------------------------------------------------------------
def test_new_wal_creates_its_directory_and_recovers_nothing(tmp_path):
    d = tmp_path / "data" / "wal"
    wal, rec = reopen(d)
    wal.close()
    assert d.is_dir()
    assert [p.name for p in segment_files(d)] == ["0000000000000001-0000000000000001.wal"]
    assert rec.hard_state is None and rec.entries == [] and rec.torn_tail is None
    assert (rec.snapshot_index, rec.snapshot_term) == (0, 0)


def test_round_trip_entries_and_hard_state(tmp_path):
    batch = ents(1, 3) + [Entry(1, 4, EntryKind.CONF_CHANGE, b"\x00\xffcc")]
    with reopen(tmp_path)[0] as wal:
        wal.append(batch, HardState(1, "core-02", 2))
    rec = recover(tmp_path)
    assert rec.entries == batch
    assert rec.entries[3].kind == EntryKind.CONF_CHANGE
    assert rec.hard_state == HardState(1, "core-02", 2)
    assert rec.torn_tail is None


def test_many_appends_across_reopens(tmp_path):
    expected: list[Entry] = []
    index = 0
    for session in range(5):
        wal, rec = reopen(tmp_path)
        assert rec.entries == expected
        assert wal.last_index == index
        for _ in range(40):
            batch = ents(index + 1, index + 7, term=session + 1)
            wal.append(batch, HardState(session + 1, None, index))
            expected += batch
            index += 7
        wal.close()
    rec = recover(tmp_path)
    assert rec.entries == expected and len(expected) == 5 * 40 * 7
    assert rec.hard_state == HardState(5, None, index - 7)


def test_one_fsync_per_append_and_none_when_nothing_changed(tmp_path):
    fsyncs: list[float] = []
    wal, _ = reopen(tmp_path, on_fsync=fsyncs.append)
    wal.append(ents(1, 500), HardState(1, "core-01", 0))
    assert len(fsyncs) == 1 and fsyncs[0] >= 0
    wal.append([], HardState(1, "core-01", 0))  # same hard state, no entries: nothing to do
    assert len(fsyncs) == 1
    wal.append([], HardState(1, "core-01", 5))
    assert len(fsyncs) == 2
    wal.close()


# --- Raft semantics ---------------------------------------------------------------------------
def test_overwrite_truncates_the_suffix(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 10, term=1), None)
        wal.append(ents(6, 7, term=2), None)  # a new leader replaced 6..10 with 6..7
    assert recover(tmp_path).entries == ents(1, 5, 1) + ents(6, 7, 2)
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(3, 3, term=3), None)
        wal.append(ents(4, 5, term=3), None)
    assert recover(tmp_path).entries == ents(1, 2, 1) + ents(3, 5, 3)


def test_hard_state_last_wins(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 2), HardState(1, "a", 0))
        wal.append([], HardState(2, "b", 1))
        wal.append(ents(3, 3, 2), HardState(2, "b", 2))
        wal.append([], HardState(3, None, 2))
    assert recover(tmp_path).hard_state == HardState(3, None, 2)


def test_snapshot_mark_keeps_the_matching_suffix(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 10, 1), None)
        wal.mark_snapshot(6, 1)
    rec = recover(tmp_path)
    assert (rec.snapshot_index, rec.snapshot_term) == (6, 1)
    assert rec.entries == ents(7, 10, 1)


def test_snapshot_mark_with_another_term_drops_the_log(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 10, 1), None)
        wal.mark_snapshot(8, 3)  # installed from a leader whose entry 8 differs from ours
    rec = recover(tmp_path)
    assert (rec.snapshot_index, rec.snapshot_term) == (8, 3)
    assert rec.entries == []  # our 9 and 10 followed a different entry 8: not to be trusted
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(9, 9, 3), None)
    assert recover(tmp_path).entries == ents(9, 9, 3)


def test_snapshot_mark_past_the_log_then_new_entries(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 4, 1), None)
        wal.mark_snapshot(50, 2)
        assert wal.last_index == 50
        wal.append(ents(51, 52, 2), None)
    rec = recover(tmp_path)
    assert rec.snapshot_index == 50 and rec.entries == ents(51, 52, 2)


def test_gap_in_entries_starts_the_log_afresh(tmp_path):
    # the caller saved a snapshot file at 20 but crashed before mark_snapshot, then carried on
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 4, 1), None)
        wal.append(ents(21, 22, 2), None)
    assert recover(tmp_path).entries == ents(21, 22, 2)


# --- segments -----------------------------------------------------------------------------
def test_segment_cut_and_release(tmp_path):
    wal, _ = reopen(tmp_path, segment_bytes=1000)
    for i in range(1, 301, 10):
        wal.append(ents(i, i + 9, 2), HardState(2, "core-01", i))
    segs = segment_files(tmp_path)
    assert len(segs) > 5 and segs == wal.segments
    firsts = [int(p.stem.split("-")[1], 16) for p in segs]
    assert firsts == sorted(firsts) and firsts[0] == 1
    # each new segment repeats the hard state, so releasing old ones keeps it
    wal.mark_snapshot(150, 2)
    wal.release_to(150)
    kept = segment_files(tmp_path)
    assert kept == wal.segments and len(kept) < len(segs)
    holder = max(f for f in firsts if f <= 151)
    assert int(kept[0].stem.split("-")[1], 16) == holder  # the segment holding 151 is kept
    wal.close()
    rec = recover(tmp_path, segment_bytes=1000)
    assert (rec.snapshot_index, rec.snapshot_term) == (150, 2)
    assert rec.entries == ents(151, 300, 2)
    assert rec.hard_state == HardState(2, "core-01", 291)


def test_new_segments_repeat_the_hard_state_and_snapshot_mark(tmp_path):
    wal, _ = reopen(tmp_path, segment_bytes=1000)
    hs = HardState(4, "core-03", 1)
    wal.append(ents(1, 10, 4), hs)
    wal.mark_snapshot(10, 4)
    for i in range(11, 301, 10):
        wal.append(ents(i, i + 9, 4), hs)  # unchanged: written only at the start of segments
    wal.release_to(280)  # the records of hs and of the mark itself are gone with their segment
    assert len(segment_files(tmp_path)) <= 2
    wal.close()
    rec = recover(tmp_path)
    assert rec.hard_state == hs
    assert (rec.snapshot_index, rec.snapshot_term) == (10, 4)
    assert rec.entries[-1] == ents(300, 300, 4)[0]


def test_release_never_removes_the_current_segment(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 5), HardState(1, None, 5))
        wal.mark_snapshot(5, 1)
        wal.release_to(5)
        assert len(segment_files(tmp_path)) == 1
        wal.append(ents(6, 6), None)
    rec = recover(tmp_path)
    assert rec.entries == ents(6, 6) and rec.hard_state == HardState(1, None, 5)


def test_a_cut_that_never_completed_is_cleaned_up(tmp_path):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 3), None)
    stale = tmp_path / "0000000000000002-0000000000000004.wal.tmp"
    stale.write_bytes(b"half a header")
    assert recover(tmp_path).entries == ents(1, 3)
    assert not stale.exists()


# --- torn tails ----------------------------------------------------------------------------
def _base_wal(directory: Path, last_batch: list[Entry]) -> tuple[int, int]:
    """A WAL whose last append is ``last_batch``; returns its segment's size before and after."""
    with reopen(directory)[0] as wal:
        wal.append(ents(1, 5, 1), HardState(1, "core-02", 3))
        wal.append(ents(6, 8, 1), HardState(1, "core-02", 5))
        before = wal.size
        wal.append(last_batch, None)
        return before, wal.size


def _check_recovery_cut_at(directory: Path, cut_at: int, size: int, kept: list[Entry]) -> None:
    events = Events()
    wal, rec = reopen(directory, log=events)
    assert rec.entries == ents(1, 8, 1) + kept
    assert rec.hard_state == HardState(1, "core-02", 5)
    assert rec.torn_tail is not None and f"offset {cut_at}" in rec.torn_tail
    [torn] = events.named("wal.torn_tail")
    assert torn["level"] == "warning" and torn["offset"] == cut_at
    assert torn["cut_bytes"] == size - cut_at and torn["reason"]
    assert wal.segments[-1].stat().st_size == cut_at
    wal.append(ents(9 + len(kept), 9 + len(kept), 2), None)  # carries on after the cut
    wal.close()
    again = recover(directory)
    assert again.torn_tail is None
    assert again.entries == ents(1, 8, 1) + kept + ents(9 + len(kept), 9 + len(kept), 2)


def test_truncation_at_every_offset_of_the_last_record(tmp_path):
    template = tmp_path / "template"
    before, after = _base_wal(template, ents(9, 9, 1))
    seg = segment_files(template)[-1]
    for offset in range(before + 1, after):  # at `before` nothing is torn
        d = tmp_path / f"cut{offset}"
        shutil.copytree(template, d)
        os.truncate(d / seg.name, offset)
        _check_recovery_cut_at(d, before, offset, [])


def test_a_segment_is_allocated_ahead_and_its_zero_tail_is_where_the_data_ends(tmp_path):
    _, end = _base_wal(tmp_path, ents(9, 9))
    seg = segment_files(tmp_path)[-1]
    assert seg.stat().st_size >= PREALLOCATE_BYTES > end  # zeros past the data
    assert set(seg.read_bytes()[end:]) == {0}
    wal, rec = reopen(tmp_path)
    assert rec.torn_tail is None and rec.entries == ents(1, 9)
    assert wal.size == end
    wal.append(ents(10, 11, 2), None)  # goes right after the data, not after the zeros
    wal.close()
    assert recover(tmp_path).entries == ents(1, 9) + ents(10, 11, 2)


def test_zeros_then_anything_else_is_a_torn_tail(tmp_path):
    before, _ = _base_wal(tmp_path, ents(9, 9))
    seg = segment_files(tmp_path)[-1]
    with open(seg, "r+b") as f:
        f.truncate(before)
        f.seek(before)
        f.write(bytes(4096) + b"x")
    _check_recovery_cut_at(tmp_path, before, before + 4097, [])


def test_a_full_segment_keeps_no_allocated_tail(tmp_path):
    with reopen(tmp_path, segment_bytes=1000)[0] as wal:
        for i in range(1, 100, 10):
            wal.append(ents(i, i + 9), None)
        wal.append(ents(100, 100), None)
    *full, last = segment_files(tmp_path)
    assert full and all(records_end(s.read_bytes()) == s.stat().st_size for s in full)
    assert last.stat().st_size > records_end(last.read_bytes())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch_len=st.integers(1, 4),
    data_len=st.integers(0, 40),
    where=st.floats(0, 1, exclude_max=True),
    flip=st.integers(1, 255),
    truncate=st.booleans(),
)
def test_torn_or_flipped_last_batch_is_cut_to_the_good_prefix(
    batch_len, data_len, where, flip, truncate
):
    batch = [Entry(2, 9 + i, 0, bytes([i]) * data_len) for i in range(batch_len)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        before, after = _base_wal(d, batch)
        seg = segment_files(d)[-1]
        bounds = [b for b in record_bounds(seg.read_bytes()) if b[0] >= before]
        assert len(bounds) == batch_len and bounds[-1][1] == after
        if truncate:  # cut anywhere in the batch: whole records before the cut survive
            offset = before + int(where * (after - before))
            os.truncate(seg, offset)
            kept = [e for e, (_, end) in zip(batch, bounds, strict=True) if end <= offset]
            cut_at = max([before] + [end for _, end in bounds if end <= offset])
            if cut_at == offset:  # cut on a record boundary: nothing torn
                rec = recover(d)
                assert rec.torn_tail is None and rec.entries == ents(1, 8, 1) + kept
                return
            _check_recovery_cut_at(d, cut_at, offset, kept)
        else:  # flip one byte in the last record: it goes, the records before it stay
            start, end = bounds[-1]
            offset = start + int(where * (end - start))
            raw = bytearray(seg.read_bytes())
            raw[offset] ^= flip
            seg.write_bytes(raw)
            # the cut takes the allocated zeros after it too
            _check_recovery_cut_at(d, start, len(raw), batch[:-1])


# --- refusing to start -----------------------------------------------------------------------
def _multi_segment_wal(directory: Path) -> list[Path]:
    with reopen(directory, segment_bytes=1000)[0] as wal:
        for i in range(1, 200, 10):
            wal.append(ents(i, i + 9), HardState(1, None, i))
    segs = segment_files(directory)
    assert len(segs) >= 3
    return segs


def test_corruption_inside_an_older_segment_refuses_to_start(tmp_path):
    segs = _multi_segment_wal(tmp_path)
    raw = bytearray(segs[1].read_bytes())
    raw[len(raw) // 2] ^= 0x40
    segs[1].write_bytes(raw)
    with pytest.raises(WALCorrupt, match="not the last") as err:
        reopen(tmp_path)
    assert segs[1].name in str(err.value) and "data dir" in str(err.value)
    assert segs[1].read_bytes() == raw  # nothing was cut


def test_torn_end_of_an_older_segment_is_corruption(tmp_path):
    segs = _multi_segment_wal(tmp_path)
    os.truncate(segs[0], segs[0].stat().st_size - 3)
    with pytest.raises(WALCorrupt, match="short payload"):
        reopen(tmp_path)


def test_missing_segment_refuses_to_start(tmp_path):
    segs = _multi_segment_wal(tmp_path)
    segs[1].unlink()
    with pytest.raises(WALCorrupt, match="missing"):
        reopen(tmp_path)


def test_broken_header_of_the_last_segment_refuses_to_start(tmp_path):
    segs = _multi_segment_wal(tmp_path)
    raw = bytearray(segs[-1].read_bytes())
    raw[12] ^= 0x01
    segs[-1].write_bytes(raw)
    with pytest.raises(WALCorrupt, match="header"):
        reopen(tmp_path)


@pytest.mark.parametrize("node,token", [(NODE, "tok-2"), ("core-02", TOKEN)])
def test_wal_of_another_cluster_or_node_is_refused(tmp_path, node, token):
    with reopen(tmp_path)[0] as wal:
        wal.append(ents(1, 2), None)
    with pytest.raises(WALMismatch) as err:
        reopen(tmp_path, node=node, token=token)
    msg = str(err.value)
    assert repr(TOKEN) in msg and repr(token) in msg and repr(node) in msg
    assert str(tmp_path) in msg


# --- failures while running -----------------------------------------------------------------
def test_failed_write_leaves_no_half_batch(tmp_path, monkeypatch):
    wal, _ = reopen(tmp_path)
    wal.append(ents(1, 3), None)
    size = wal.size
    real_pwrite = os.pwrite  # the disk layer's write: half a batch lands, then the disk is full

    def half_then_full(fd, data, offset):
        real_pwrite(fd, bytes(data[: len(data) // 2]), offset)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(diskmod.os, "pwrite", half_then_full)
    with pytest.raises(OSError, match="No space"):
        wal.append(ents(4, 40), None)
    monkeypatch.setattr(diskmod.os, "pwrite", real_pwrite)
    assert wal.segments[-1].stat().st_size == size
    wal.append(ents(4, 5), None)
    wal.close()
    rec = recover(tmp_path)
    assert rec.torn_tail is None and rec.entries == ents(1, 5)


def test_after_a_failed_fsync_the_wal_refuses_writes(tmp_path, monkeypatch):
    wal, _ = reopen(tmp_path)

    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(diskmod, "_datasync", broken)
    with pytest.raises(OSError):
        wal.append(ents(1, 1), None)
    monkeypatch.undo()
    with pytest.raises(WALError, match="fsync failed"):
        wal.append(ents(1, 1), None)
    wal.close()


def test_closed_wal_refuses_writes(tmp_path):
    wal, _ = reopen(tmp_path)
    wal.close()
    wal.close()
    with pytest.raises(WALError, match="closed"):
        wal.append(ents(1, 1), None)
