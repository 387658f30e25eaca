"""The Raft write-ahead log: entries, hard states and snapshot marks, fsynced in batches.

Theory of operation. The WAL is a directory of segment files named ``<seq>-<first index>.wal``
(16 hex digits each, so names sort in order). A segment is a sequence of length-prefixed,
CRC-checked records (the framing is in :mod:`.walrecord`). Every segment opens with a header
(node, cluster token, seq, first index) and then repeats the latest snapshot mark and hard
state, so any suffix of segments is enough to recover: that is what lets :meth:`WAL.release_to`
delete old segments whole. A segment is born atomically (written
to a ``.tmp`` file, fsynced, renamed, directory fsynced), so only records appended later can be
torn.

Replay applies the records in order, as the Raft log did when they were written:

* an entry whose index is at or below the last one truncates the suffix and replaces it;
  an entry past a gap starts the log afresh (the gap was covered by a snapshot the caller holds);
* a hard state replaces the previous one (last wins);
* a snapshot mark at (index, term) keeps the entries after it if the log holds that entry with
  that term, and drops the whole log otherwise (the Raft rule for installing a snapshot).

A bad record (short header, short payload, CRC mismatch, undecodable payload) in the *last*
segment is a torn write from a crash: the file is cut back to the last good record, fsynced,
and the cut is logged and reported in :attr:`Recovered.torn_tail`; nothing of it is loaded.
Since a later segment only exists once the earlier one was fully fsynced, a bad record anywhere
else is real corruption and :meth:`WAL.open` refuses with :class:`WALCorrupt`.

On a disk that keeps a synced ledger (:class:`emulator.disk.RealDisk` with a root, the
simulator's :class:`emulator.simdisk.SimDisk`), a bad record that starts *below* the size the last
segment had at its last fsync cannot be a torn write either: that is corruption too (a flipped
byte, ``fault disk-corrupt``), and the node refuses to start naming the file and offset. etcd
draws the same line with a heuristic (a torn record ends in a zeroed sector; any other CRC
mismatch is fatal); the ledger lets us draw it exactly.

``append`` is the hot path: all records of a batch are framed into one bytearray, written with
one ``write`` and made durable with one ``fdatasync`` (group commit). The last segment's file is
allocated ahead of its data (zeros, ``PREALLOCATE_BYTES`` at a time), as etcd preallocates its
segments, so an append changes no file size and its fdatasync has no metadata to commit. Replay
reads zeros from a record's start to the end of the file as the end of the data; on open they
are cut (allocated again when appends need them), and a full segment is cut to its data before
the next one starts. One thread at a time. All file I/O goes through a
:class:`emulator.disk.Disk`, where the disk faults act.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from actors.raft.entries import Entry, HardState
from actors.raft.walrecord import (
    FORMAT_VERSION,
    REC_ENTRY,
    REC_HEADER,
    REC_SNAPSHOT,
    REC_STATE,
    SegmentHeader,
    SnapshotMark,
    frame,
    frame_entries,
    scan,
)
from emulator.disk import Disk, DiskFile, RealDisk
from emulator.wire import pack

DEFAULT_SEGMENT_BYTES = 64 << 20
# Allocated ahead of the data, as etcd preallocates its segments: an append inside the allocation
# changes no file size, so its fdatasync has no metadata to commit (measured on ext4, three
# processes appending 300 bytes and fdatasyncing at once: 214-236 µs against 242-263 µs).
PREALLOCATE_BYTES = 4 << 20
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")

Log = Callable[..., None]


class WALError(Exception):
    """The WAL cannot be used; the message says what was wrong, where, and what to do."""


class WALCorrupt(WALError):
    """A record that is not a torn tail failed its checks: the WAL cannot be trusted."""


class WALMismatch(WALError):
    """The WAL on disk belongs to another node or cluster."""


@dataclass(frozen=True)
class Recovered:
    hard_state: HardState | None
    snapshot_index: int
    snapshot_term: int
    entries: list[Entry]  # after snapshot_index, contiguous
    torn_tail: str | None  # what was cut from the last segment, if anything


class _Replay:
    """The Raft log as the records rebuild it (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.hard_state: HardState | None = None
        self.snap_index = 0
        self.snap_term = 0
        self.last_index = 0  # index of the last entry written, or of a later snapshot

    def entry(self, e: Entry) -> None:
        ents = self.entries
        if ents and ents[0].index <= e.index <= ents[-1].index + 1:
            del ents[e.index - ents[0].index :]
            ents.append(e)
        else:
            self.entries = [e]
        self.last_index = e.index

    def snapshot(self, mark: SnapshotMark) -> None:
        self.snap_index, self.snap_term = mark.index, mark.term
        ents = self.entries
        if ents and ents[0].index <= mark.index:
            at = mark.index - ents[0].index
            if at < len(ents) and ents[at].term == mark.term:
                del ents[: at + 1]
            else:
                self.entries = []
        self.last_index = max(self.last_index, mark.index)

    def result(self, torn_tail: str | None) -> Recovered:
        ents = [e for e in self.entries if e.index > self.snap_index]
        return Recovered(self.hard_state, self.snap_index, self.snap_term, ents, torn_tail)


@dataclass
class _Segment:
    path: Path
    seq: int
    max_index: int = 0  # highest entry index written into it (0: none)


class WAL:
    """An open WAL; make one with :meth:`WAL.open`."""

    def __init__(
        self, directory: Path, node: str, token: str, log: Log | None, disk: Disk | None = None
    ) -> None:
        self.directory = directory
        self.disk: Disk = disk if disk is not None else RealDisk()
        self.node = node
        self.token = token
        self.segment_bytes = DEFAULT_SEGMENT_BYTES
        self.preallocate_bytes = PREALLOCATE_BYTES
        self.on_fsync: Callable[[float], None] | None = None
        self._log = log
        self._segments: list[_Segment] = []
        self._file: DiskFile | None = None
        self._size = 0  # the end of the last segment's data: where the next record goes
        self._last_index = 0
        self._hard_state: HardState | None = None
        self._snap: SnapshotMark | None = None
        self._failed: str | None = None

    # --- opening and recovery --------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        node: str,
        token: str,
        log: Log | None = None,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        preallocate_bytes: int = PREALLOCATE_BYTES,
        on_fsync: Callable[[float], None] | None = None,
        disk: Disk | None = None,
    ) -> tuple[WAL, Recovered]:
        """Open (or create) the WAL in ``directory`` and replay it."""
        directory = Path(directory)
        wal = cls(directory, node, token, log, disk)
        disk = wal.disk
        wal.segment_bytes = segment_bytes
        wal.preallocate_bytes = preallocate_bytes
        wal.on_fsync = on_fsync
        disk.mkdir(directory)
        for name in disk.listdir(directory):
            if name.endswith(".wal.tmp"):  # a segment cut that never completed
                disk.remove(directory / name)
        found = [directory / n for n in disk.listdir(directory) if _NAME.match(n)]
        replay = _Replay()
        torn, data_end = None, 0
        try:
            for i, path in enumerate(found):
                torn, data_end = wal._replay_segment(path, replay, last=i == len(found) - 1)
        except WALError as exc:  # said in the node's log too: the member is about to refuse
            if log is not None:
                log("wal.refused", level="error", error=str(exc), directory=str(directory))
            raise
        wal._hard_state, wal._last_index = replay.hard_state, replay.last_index
        if replay.snap_index:
            wal._snap = SnapshotMark(replay.snap_index, replay.snap_term)
        if wal._segments:
            wal._file = disk.open(wal._segments[-1].path)
            if wal._file.size > data_end:  # its preallocated zeros: allocated again later
                wal._file.truncate(data_end)
            wal._size = wal._file.size
        else:
            wal._cut()
        return wal, replay.result(torn)

    def _replay_segment(self, path: Path, replay: _Replay, last: bool) -> tuple[str | None, int]:
        """Replay one segment: (what a torn tail cut, or None; where its data ends)."""
        seq = int(_NAME.match(path.name).group(1), 16)  # type: ignore[union-attr]
        if self._segments and seq != self._segments[-1].seq + 1:
            raise WALCorrupt(
                f"{path}: segment {seq} follows segment {self._segments[-1].seq}; a segment in "
                f"between is missing from {self.directory}. The WAL cannot be trusted: remove "
                f"this node's data dir and let it rejoin from its peers."
            )
        data = self.disk.read(path)
        records, good, why = scan(data)
        header = records[0][1] if records and records[0][0] == REC_HEADER else None
        problem = None
        if header is None:
            problem = (
                f"the segment header is unreadable ({why or 'not the first record'}) at offset 0"
            )
        elif header.seq != seq:
            problem = f"the segment header says segment {header.seq}, its name says {seq}"
        if problem is not None:
            raise WALCorrupt(
                f"{path}: {problem}. The WAL cannot be trusted: remove this node's data dir "
                f"and let it rejoin from its peers."
            )
        self._check_header(path, header)
        if why is not None and not last:
            raise WALCorrupt(
                f"{path}: {why} at offset {good} ({len(data) - good} bytes follow) in a segment "
                f"that is not the last, so this is not a torn write. The WAL cannot be trusted: "
                f"remove this node's data dir and let it rejoin from its peers."
            )
        synced = self.disk.synced_size(path)
        if why is not None and synced is not None and good < synced:
            raise WALCorrupt(
                f"{path}: {why} at offset {good}, inside the first {synced} bytes this node had "
                f"fsynced, so this is not a torn write. The WAL cannot be trusted: remove this "
                f"node's data dir and let it rejoin from its peers."
            )
        segment = _Segment(path, seq)
        for rtype, value in records[1:]:
            if rtype == REC_ENTRY:
                replay.entry(value)
                segment.max_index = max(segment.max_index, value.index)
            elif rtype == REC_STATE:
                replay.hard_state = value
            elif rtype == REC_SNAPSHOT:
                replay.snapshot(value)
            else:
                raise WALCorrupt(f"{path}: a second segment header inside the segment")
        self._segments.append(segment)
        if why is None:
            return None, good
        cut = len(data) - good
        f = self.disk.open(path)
        try:
            f.truncate(good)
            f.fsync()
        finally:
            f.close()
        if self._log is not None:
            self._log(
                "wal.torn_tail",
                level="warning",
                file=str(path),
                offset=good,
                cut_bytes=cut,
                reason=why,
            )
        return f"{path.name}: cut {cut} bytes at offset {good} ({why})", good

    def _check_header(self, path: Path, h: SegmentHeader) -> None:
        if h.version != FORMAT_VERSION:
            raise WALError(f"{path}: WAL format version {h.version}, this build reads only 1")
        if (h.node, h.token) != (self.node, self.token):
            raise WALMismatch(
                f"{path}: this WAL was written by node {h.node!r} of the cluster with token "
                f"{h.token!r}, but this is node {self.node!r} with token {self.token!r}. It "
                f"belongs to another node or cluster: give this node its own data dir, or "
                f"remove {self.directory} to start it empty."
            )

    # --- writing -----------------------------------------------------------------------------
    def append(self, entries: Sequence[Entry], hard_state: HardState | None) -> None:
        """Write the entries, then the hard state (if changed), with one fsync for all."""
        if hard_state is not None and hard_state == self._hard_state:
            hard_state = None
        if not entries and hard_state is None:
            return
        buf = bytearray()
        frame_entries(buf, entries)
        if hard_state is not None:
            frame(buf, REC_STATE, pack(hard_state))
        self._write(buf)
        if entries:
            last = entries[-1].index
            self._last_index = last
            seg = self._segments[-1]
            seg.max_index = max(seg.max_index, last)
        if hard_state is not None:
            self._hard_state = hard_state
        if self._size >= self.segment_bytes:
            self._cut()

    def mark_snapshot(self, index: int, term: int) -> None:
        """Record (durably) that a snapshot at ``index`` exists."""
        mark = SnapshotMark(index, term)
        buf = bytearray()
        frame(buf, REC_SNAPSHOT, pack(mark))
        self._write(buf)
        self._snap = mark
        self._last_index = max(self._last_index, index)

    def release_to(self, index: int) -> None:
        """Delete the oldest segments whose entries are all at or below ``index``."""
        removed = 0
        while len(self._segments) > 1 and self._segments[0].max_index <= index:
            self.disk.remove(self._segments.pop(0).path)
            removed += 1
        if removed:
            self.disk.fsync_dir(self.directory)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def segments(self) -> list[Path]:
        return [s.path for s in self._segments]

    @property
    def last_index(self) -> int:
        return self._last_index

    @property
    def size(self) -> int:
        """Bytes of records in the last segment (its file may be longer: allocated zeros)."""
        return self._size

    def _write(self, buf: bytearray) -> None:
        f = self._file
        if f is None:
            raise WALError(f"{self.directory}: the WAL is closed")
        if self._failed is not None:
            raise WALError(f"{self.directory}: an earlier fsync failed ({self._failed}); restart")
        end = self._size + len(buf)
        try:
            f.allocate(end, self.preallocate_bytes)
            f.write(buf)
        except OSError:
            f.truncate(self._size)  # no half batch in front of the next one
            raise
        self._size = end
        started = time.perf_counter()
        try:
            f.fsync()
        except OSError as exc:  # the page cache state is unknown now: refuse to go on
            self._failed = str(exc)
            raise
        if self.on_fsync is not None:
            self.on_fsync(time.perf_counter() - started)

    def _cut(self) -> None:
        """Start a new segment: header + latest snapshot mark + hard state, born atomically."""
        seq = self._segments[-1].seq + 1 if self._segments else 1
        path = self.directory / f"{seq:016x}-{self._last_index + 1:016x}.wal"
        buf = bytearray()
        frame(
            buf,
            REC_HEADER,
            pack(SegmentHeader(FORMAT_VERSION, self.node, self.token, seq, self._last_index + 1)),
        )
        if self._snap is not None:
            frame(buf, REC_SNAPSHOT, pack(self._snap))
        if self._hard_state is not None:
            frame(buf, REC_STATE, pack(self._hard_state))
        if self._file is not None:  # the full segment keeps no preallocated tail
            self._file.truncate(self._size)
            self._file.fsync()
        tmp = path.with_name(path.name + ".tmp")
        f = self.disk.open(tmp, create=True, truncate=True)
        try:
            f.write(buf)
            f.fsync()
            self.disk.rename(tmp, path)
            self.disk.fsync_dir(self.directory)
        except BaseException:
            f.close()
            raise
        f.path = path
        self.close()
        self._file, self._size = f, len(buf)
        self._segments.append(_Segment(path, seq))
