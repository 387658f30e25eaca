"""The simulator's disk: the :class:`~emulator.disk.Disk` interface in memory, with crashes.

Each file holds the bytes written so far (then any zeros allocated ahead of them, as a WAL segment
has) and how many of them were fsynced. :meth:`SimDisk.crash`
is a power cut: every file keeps its synced bytes plus a random prefix of the rest (a torn tail,
drawn from the disk's seeded RNG, so a seed replays exactly); files never fsynced keep only a
random prefix, possibly nothing. The disk faults of :class:`~emulator.disk.DiskFaults` apply as on
the real disk: ``full`` makes writes fail with ENOSPC, ``fail_fsync`` makes fsync fail with EIO
(the WAL then refuses further writes), and a slow fsync is reported, not slept: the simulator
advances virtual time by it.

How the simulator uses it (issue 8)::

    disk = SimDisk(random.Random(seed * 1000 + node_index), on_fsync=charge_virtual_time)
    ctx = NodeContext(..., disk=disk)            # the member opens WAL and snapshots through it
    ...
    disk.crash()                                 # the node "loses power": drop unsynced bytes
    # start a new member on the same disk: the WAL replays what survived, cutting a torn tail
    disk.faults = DiskFaults(full=True)          # disk-full: the next WAL write raises ENOSPC
    disk.faults = DiskFaults(slow_fsync_s=0.05)  # on_fsync(0.05) on every fsync
    disk.corrupt(".wal")                         # flip a byte in the newest WAL's synced part

``synced_size`` answers from the model, so the WAL tells a torn tail from corruption exactly as it
does on a real disk with its synced ledger. Directory operations (create, rename, remove) are
durable at once (as with ext4's data=ordered rename ordering; a simplification).
"""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emulator.disk import NO_FAULTS, DiskFaults, eio, enospc


@dataclass
class _Blob:
    data: bytearray = field(default_factory=bytearray)  # the file: data, then allocated zeros
    synced: int = 0
    end: int = 0  # where the data written so far ends (zeros allocated ahead may follow)


class _SimFile:
    def __init__(self, disk: SimDisk, path: Path) -> None:
        self._disk = disk
        self.path = path
        self._closed = False
        self.size = len(self._blob.data)  # where writes go: the file's length, as fstat says

    @property
    def _blob(self) -> _Blob:
        blob = self._disk.files.get(self.path)
        if blob is None or self._closed:
            raise OSError(errno.EBADF, "file closed or removed", str(self.path))
        return blob

    def write(self, data: bytes | bytearray | memoryview) -> None:
        blob = self._blob
        if self._disk.faults.full:
            raise enospc(self.path)
        start, self.size = self.size, self.size + len(data)
        blob.data[start : self.size] = data
        blob.end = max(blob.end, self.size)

    def allocate(self, length: int, ahead: int = 0) -> None:
        blob = self._blob
        if length <= len(blob.data):
            return
        if self._disk.faults.full:
            raise enospc(self.path)
        blob.data += bytes(length + ahead - len(blob.data))

    def fsync(self) -> None:
        blob = self._blob
        self._disk.sync_cost(self.path)
        blob.synced = self.size  # what the real disk's ledger records: this file's data end

    def truncate(self, size: int) -> None:
        blob = self._blob
        del blob.data[size:]
        blob.data += bytes(max(0, size - len(blob.data)))
        blob.synced = min(blob.synced, size)
        blob.end = min(blob.end, size)
        self.size = size

    def close(self) -> None:
        self._closed = True


class SimDisk:
    """An in-memory disk with written vs synced bytes per file (see the module docstring)."""

    def __init__(
        self,
        rng: random.Random,
        on_fsync: Callable[[float], None] | None = None,
    ) -> None:
        self.rng = rng
        self.faults: DiskFaults = NO_FAULTS
        self.on_fsync = on_fsync
        self.files: dict[Path, _Blob] = {}
        self.dirs: set[Path] = {Path("/")}
        self.fsyncs = 0

    # --- the Disk interface -------------------------------------------------------------------
    def open(self, path: Path, *, create: bool = False, truncate: bool = False) -> _SimFile:
        path = Path(path)
        if path not in self.files:
            if not create:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            if path.parent not in self.dirs:
                raise FileNotFoundError(errno.ENOENT, "no such directory", str(path.parent))
            if self.faults.full:
                raise enospc(path)
            self.files[path] = _Blob()
        elif truncate:
            self.files[path] = _Blob()
        return _SimFile(self, path)

    def read(self, path: Path) -> bytes:
        blob = self.files.get(Path(path))
        if blob is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        return bytes(blob.data)

    def listdir(self, path: Path) -> list[str]:
        path = Path(path)
        if path not in self.dirs:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        names = {p.name for p in self.files if p.parent == path}
        names |= {d.name for d in self.dirs if d.parent == path and d != path}
        return sorted(names)

    def is_dir(self, path: Path) -> bool:
        return Path(path) in self.dirs

    def mkdir(self, path: Path) -> None:
        path = Path(path)
        while path not in self.dirs:
            self.dirs.add(path)
            path = path.parent

    def rename(self, src: Path, dst: Path) -> None:
        src, dst = Path(src), Path(dst)
        if src not in self.files:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(src))
        self.files[dst] = self.files.pop(src)

    def remove(self, path: Path) -> None:
        if self.files.pop(Path(path), None) is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))

    def fsync_dir(self, path: Path) -> None:
        if Path(path) not in self.dirs:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))

    def synced_size(self, path: Path) -> int | None:
        blob = self.files.get(Path(path))
        return None if blob is None else blob.synced

    # --- faults ---------------------------------------------------------------------------------
    def sync_cost(self, path: Path) -> None:
        if self.faults.fail_fsync:
            raise eio(path)
        self.fsyncs += 1
        delay = self.faults.fsync_delay(self.rng)
        if delay and self.on_fsync is not None:
            self.on_fsync(delay)

    def crash(self) -> dict[Path, int]:
        """A power cut: drop unsynced bytes, keeping a random torn prefix of them.

        Returns how many bytes each file lost (files that lost nothing are left out).
        """
        lost = {}
        for path in sorted(self.files):
            blob = self.files[path]
            extra = blob.end - blob.synced  # written, not synced (zeros allocated past it aside)
            if extra <= 0:
                continue
            keep = self.rng.randint(0, extra)
            del blob.data[blob.synced + keep :]
            blob.end = blob.synced + keep
            if extra - keep:
                lost[path] = extra - keep
        return lost

    def corrupt(self, suffix: str = ".wal") -> tuple[Path, int] | None:
        """Flip one byte in the second half of the synced part of the newest ``suffix`` file."""
        known = sorted(
            (p.name, p) for p, b in self.files.items() if p.name.endswith(suffix) and b.synced
        )
        if not known:
            return None
        path = known[-1][1]
        blob = self.files[path]
        offset = self.rng.randrange(blob.synced // 2, blob.synced)
        blob.data[offset] ^= self.rng.randrange(1, 256)
        return path, offset
