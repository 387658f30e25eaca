"""Snapshot files: one file per snapshot, written atomically, checked on load.

A snapshot lives in ``<term>-<index>.snap`` (16 hex digits each, as etcd names them): a CRC32
(u32, little-endian) of the rest, then the ``wire.pack``-ed :class:`Snapshot`. :meth:`save` writes
a ``.tmp`` file, fsyncs it, renames it into place and fsyncs the directory, so a crash leaves the
old set of snapshots or the new one, never half a file under a ``.snap`` name. :meth:`load_newest`
tries snapshots newest first; one that fails its CRC, does not decode, or disagrees with its own
name is renamed to ``.broken`` (kept for a post-mortem, as etcd does), logged, and the next older
one is tried. All file I/O goes through a :class:`emulator.disk.Disk`, where the disk faults act.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from actors.raft.entries import Snapshot
from emulator.disk import Disk, RealDisk
from emulator.wire import WireError, pack, unpack

_CRC = struct.Struct("<I")
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")


def snapshot_name(term: int, index: int) -> str:
    return f"{term:016x}-{index:016x}.snap"


class SnapshotStore:
    """The snapshot files of one member, in ``directory`` (created if missing)."""

    def __init__(
        self, directory: Path, log: Callable[..., None] | None = None, disk: Disk | None = None
    ) -> None:
        self.directory = Path(directory)
        self._log = log
        self.disk: Disk = disk if disk is not None else RealDisk()
        self.disk.mkdir(self.directory)

    def save(self, snapshot: Snapshot) -> Path:
        """Write ``snapshot`` durably; return its path."""
        payload = pack(snapshot)
        path = self.directory / snapshot_name(snapshot.term, snapshot.index)
        tmp = path.with_name(path.name + ".tmp")
        f = self.disk.open(tmp, create=True, truncate=True)
        try:
            f.write(_CRC.pack(zlib.crc32(payload)) + payload)
            f.fsync()
        finally:
            f.close()
        self.disk.rename(tmp, path)
        self.disk.fsync_dir(self.directory)
        return path

    def paths(self) -> list[Path]:
        """The snapshot files, oldest first (by index, then term)."""
        found = []
        for name in self.disk.listdir(self.directory):
            m = _NAME.match(name)
            if m:
                found.append(((int(m.group(2), 16), int(m.group(1), 16)), self.directory / name))
        return [p for _, p in sorted(found)]

    def load_newest(self) -> Snapshot | None:
        """The newest snapshot that checks out, or None; broken ones are set aside."""
        for path in reversed(self.paths()):
            try:
                return self._load(path)
            except (OSError, ValueError, TypeError) as exc:
                broken = path.with_name(path.name + ".broken")
                self.disk.rename(path, broken)
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
        doomed += [
            self.directory / n for n in self.disk.listdir(self.directory) if n.endswith(".snap.tmp")
        ]
        # No directory fsync (etcd's purge has none either): a removal a crash undoes leaves an
        # older snapshot behind, which loading passes over and the next purge removes again.
        for path in doomed:
            self.disk.remove(path)
        return doomed

    def _load(self, path: Path) -> Snapshot:
        data = self.disk.read(path)
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
