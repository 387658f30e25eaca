"""Snapshot files: one file per snapshot, written atomically, checked on load.

A snapshot lives in ``<term>-<index>.snap`` (16 hex digits each, as etcd names them): a CRC32
(u32, little-endian) of the rest, then the ``wire.pack``-ed :class:`Snapshot`. :meth:`save` writes
a ``.tmp`` file, fsyncs it, renames it into place and fsyncs the directory, so a crash leaves the
old set of snapshots or the new one, never half a file under a ``.snap`` name. :meth:`load_newest`
tries snapshots newest first; one that fails its CRC, does not decode, or disagrees with its own
name is renamed to ``.broken`` (kept for a post-mortem, as etcd does), logged, and the next older
one is tried.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from actors.raft.entries import Snapshot
from actors.raft.wal import fsync_dir
from emulator.wire import WireError, pack, unpack

_CRC = struct.Struct("<I")
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")


def snapshot_name(term: int, index: int) -> str:
    return f"{term:016x}-{index:016x}.snap"


class SnapshotStore:
    """The snapshot files of one member, in ``directory`` (created if missing)."""

    def __init__(self, directory: Path, log: Callable[..., None] | None = None) -> None:
        self.directory = Path(directory)
        self._log = log
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True)
            fsync_dir(self.directory.parent)

    def save(self, snapshot: Snapshot) -> Path:
        """Write ``snapshot`` durably; return its path."""
        payload = pack(snapshot)
        path = self.directory / snapshot_name(snapshot.term, snapshot.index)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(_CRC.pack(zlib.crc32(payload)) + payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(self.directory)
        return path

    def paths(self) -> list[Path]:
        """The snapshot files, oldest first (by index, then term)."""
        found = []
        for p in self.directory.iterdir():
            m = _NAME.match(p.name)
            if m:
                found.append(((int(m.group(2), 16), int(m.group(1), 16)), p))
        return [p for _, p in sorted(found)]

    def load_newest(self) -> Snapshot | None:
        """The newest snapshot that checks out, or None; broken ones are set aside."""
        for path in reversed(self.paths()):
            try:
                return self._load(path)
            except (OSError, ValueError, TypeError) as exc:
                broken = path.with_name(path.name + ".broken")
                os.replace(path, broken)
                if self._log is not None:
                    self._log(
                        "snap.corrupt",
                        level="warning",
                        file=str(path),
                        reason=str(exc),
                        moved_to=str(broken),
                    )
        return None

    def purge(self, keep: int = 5) -> list[Path]:
        """Delete all but the newest ``keep`` snapshots (and stale temp files)."""
        doomed = self.paths()[: -keep if keep > 0 else None]
        doomed += list(self.directory.glob("*.snap.tmp"))
        for path in doomed:
            path.unlink()
        if doomed:
            fsync_dir(self.directory)
        return doomed

    @staticmethod
    def _load(path: Path) -> Snapshot:
        data = path.read_bytes()
        if len(data) < _CRC.size:
            raise ValueError(f"{len(data)} bytes, too short for a snapshot file")
        (crc,) = _CRC.unpack_from(data)
        body = memoryview(data)[_CRC.size :]
        if zlib.crc32(body) != crc:
            raise ValueError("CRC mismatch")
        try:
            snap = unpack(body, max_size=len(body))
        except WireError as exc:
            raise ValueError(f"undecodable: {exc}") from None
        if not isinstance(snap, Snapshot):
            raise ValueError(f"holds {type(snap).__name__}, not a Snapshot")
        if path.name != snapshot_name(snap.term, snap.index):
            raise ValueError(f"holds term {snap.term} index {snap.index}, not what its name says")
        return snap
