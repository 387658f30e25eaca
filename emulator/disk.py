"""A node's disk: the one I/O layer under its WAL, snapshots and the fsyncs of its disk image.

Theory of operation. Everything a node writes durably goes through a :class:`Disk`, so that the
disk faults act in one place and never on the machine's real disk:

* ``disk-slow``: every fsync takes at least ``slow_fsync_s`` (+ up to ``jitter_s``);
* ``disk-full``: every write fails with ENOSPC (nothing of it lands);
* ``fail_fsync``: fsync fails with EIO (the simulator's faulty disk; the WAL then refuses to go on).

:class:`RealDisk` is the real-file implementation. With a ``root`` it keeps a *synced ledger*
(``disk-synced.json`` in the root): for every file under the root, the size it had at its last
fsync. It is JSON with each size in a fixed-width slot, so a known file's fsync rewrites only its
slot, in place (no fsync of its own: a killed process keeps the page cache, and a power cut is
what :func:`lose_unsynced` plays). It is read twice:

* by the WAL on restart — a bad record *below* the synced size cannot be a torn write, it is
  corruption, and the node refuses to start (etcd tells the two apart by its torn-sector rule; we
  know where the last fsync ended);
* by the supervisor after a SIGKILL (``fault kill NODE --lose-unsynced``): :func:`lose_unsynced`
  cuts each file at a random byte between its synced size and its end, as a power cut drops the
  page cache. :func:`corrupt_synced` (``fault disk-corrupt``) flips a byte inside a WAL's synced
  part.

The simulator's model of the same interface is :class:`emulator.simdisk.SimDisk`.
"""

from __future__ import annotations

import errno
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from emulator.wire import message

LEDGER_NAME = "disk-synced.json"
# what posix_fallocate says on a file system that cannot allocate ahead (writes then just extend)
_NO_ALLOCATE = {errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_SLOT = 20  # characters of a size in the ledger: any 64-bit size fits
_datasync = getattr(os, "fdatasync", os.fsync)


@message("node.DiskFaults")
class DiskFaults:
    """The disk faults in force on one node (all off by default)."""

    slow_fsync_s: float = 0.0
    jitter_s: float = 0.0
    full: bool = False
    fail_fsync: bool = False

    def fsync_delay(self, rng: random.Random) -> float:
        """How long an fsync must take at least (0: no slow-disk fault)."""
        if self.slow_fsync_s <= 0 and self.jitter_s <= 0:
            return 0.0
        return self.slow_fsync_s + (rng.uniform(0, self.jitter_s) if self.jitter_s else 0.0)


NO_FAULTS = DiskFaults()


def enospc(path: Path | str) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (disk-full fault)", str(path))


def eio(path: Path | str) -> OSError:
    return OSError(errno.EIO, os.strerror(errno.EIO) + " (failed fsync fault)", str(path))


class DiskFile(Protocol):
    """An open file; writes append at ``size``, the end of its data. One thread at a time."""

    path: Path
    size: int

    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def allocate(self, length: int, ahead: int = 0) -> None:
        """Make the file at least ``length`` bytes long, zeros past its data (``size`` stays);
        when it must grow, ``ahead`` bytes more. Writes up to there then change no file size,
        so their fsync has no metadata to log."""

    def fsync(self) -> None: ...
    def truncate(self, size: int) -> None: ...
    def close(self) -> None: ...


class Disk(Protocol):
    """What the WAL and the snapshot store need from a disk (paths are plain ``Path``s)."""

    faults: DiskFaults

    def open(self, path: Path, *, create: bool = False, truncate: bool = False) -> DiskFile: ...
    def read(self, path: Path) -> bytes: ...
    def listdir(self, path: Path) -> list[str]: ...
    def is_dir(self, path: Path) -> bool: ...
    def mkdir(self, path: Path) -> None: ...
    def rename(self, src: Path, dst: Path) -> None: ...
    def remove(self, path: Path) -> None: ...
    def fsync_dir(self, path: Path) -> None: ...
    def synced_size(self, path: Path) -> int | None: ...


# --- the real disk ---------------------------------------------------------------------------------
class SyncLedger:
    """File → size at its last fsync, kept in ``<root>/disk-synced.json`` (see module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LEDGER_NAME
        self._lock = threading.Lock()
        self.sizes: dict[str, int] = read_ledger(self.root)
        self._fd = -1
        self._length = 0  # the file's length: what a shorter version is padded to
        self._quoted: dict[str, bytes] = {}  # each key's JSON text, made once
        self._slots: dict[str, int] = {}  # key -> offset of its size's slot in the file

    def key(self, path: Path) -> str | None:
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return None

    def get(self, path: Path) -> int | None:
        key = self.key(path)
        return None if key is None else self.sizes.get(key)

    def update(self, path: Path, size: int | None, rename_to: Path | None = None) -> None:
        key = self.key(path)
        if key is None:
            return
        with self._lock:
            if rename_to is not None:
                moved = self.sizes.pop(key, None)
                new = self.key(rename_to)
                if new is not None and moved is not None:
                    self.sizes[new] = moved
            elif size is None:
                if self.sizes.pop(key, None) is None:
                    return
            else:
                self.sizes[key] = size
            self._save()

    def synced(self, key: str, size: int) -> None:
        """An open file's fsync (its key taken once, at open: this runs on every WAL fsync, on a
        follower between its fsync and its ack, so a known key's size changes in place)."""
        with self._lock:
            if self.sizes.get(key) == size:
                return
            self.sizes[key] = size
            slot = self._slots.get(key)
            if slot is None:
                self._save()
            else:
                os.pwrite(self._fd, b"%-*d" % (_SLOT, size), slot)

    def _save(self) -> None:
        # JSON with every size in a fixed-width slot, padded with spaces (JSON allows them after
        # a value): a known file's new size is one small pwrite at its slot's offset (synced).
        quoted = self._quoted
        parts: list[bytes] = []
        slots: dict[str, int] = {}
        offset = 1  # after "{"
        for k, v in self.sizes.items():
            q = quoted.get(k)
            if q is None:
                q = quoted[k] = json.dumps(k).encode()
            head = (b"," if parts else b"") + q + b":"
            offset += len(head)
            slots[k] = offset
            parts.append(head + b"%-*d" % (_SLOT, v))
            offset += _SLOT
        data = b"{" + b"".join(parts) + b"}"
        if self._fd < 0:
            self.root.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._length = os.fstat(self._fd).st_size
        # One pwrite: a shorter version is padded with spaces instead of cut with ftruncate, so
        # the whole old text is always overwritten and a reader never sees a mix of two versions.
        if len(data) < self._length:
            data += b" " * (self._length - len(data))
        self._length = len(data)
        os.pwrite(self._fd, data, 0)
        self._slots = slots


def read_ledger(root: Path) -> dict[str, int]:
    """The synced sizes a node recorded under ``root`` ({} when there is no readable ledger)."""
    try:
        raw = json.loads((Path(root) / LEDGER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v >= 0}


class _RealFile:
    def __init__(self, disk: RealDisk, path: Path, fd: int) -> None:
        self._disk = disk
        self.path = path
        self.fd = fd
        self.size = self._length = os.fstat(fd).st_size  # end of the data; the file's length
        self._keyed: tuple[Path, str | None] | None = None  # (path, its ledger key)
        self._cannot_allocate = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._disk.faults.full:
            raise enospc(self.path)
        view = memoryview(data)
        while view:
            n = os.pwrite(self.fd, view, self.size)
            self.size += n
            view = view[n:]
        self._length = max(self._length, self.size)

    def allocate(self, length: int, ahead: int = 0) -> None:
        if length <= self._length or self._cannot_allocate:
            return
        if self._disk.faults.full:
            raise enospc(self.path)
        length += ahead
        try:
            os.posix_fallocate(self.fd, self._length, length - self._length)
        except OSError as exc:
            if exc.errno not in _NO_ALLOCATE:
                raise  # ENOSPC: the disk is full indeed
            self._cannot_allocate = True  # this file system: writes just extend the file
            return
        self._length = length

    def fsync(self) -> None:
        disk, path = self._disk, self.path
        disk.fsync_fd(self.fd, path)
        if disk.ledger is None:
            return
        if self._keyed is None or self._keyed[0] is not path:  # a key per path, not per fsync
            self._keyed = (path, disk.ledger.key(path))
        if self._keyed[1] is not None:
            disk.ledger.synced(self._keyed[1], self.size)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        self.size = self._length = size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class RealDisk:
    """Files on the machine's disk, with the node's disk faults applied on the way."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.faults = NO_FAULTS
        self.ledger = SyncLedger(root) if root is not None else None
        self._rng = rng or random.Random()
        self._sleep = sleep

    def open(self, path: Path, *, create: bool = False, truncate: bool = False) -> _RealFile:
        flags = os.O_WRONLY | os.O_CLOEXEC  # no O_APPEND: writes go at the data's end
        if create:
            if self.faults.full:
                raise enospc(path)
            flags |= os.O_CREAT
        if truncate:
            flags |= os.O_TRUNC
        return _RealFile(self, Path(path), os.open(path, flags, 0o644))

    def read(self, path: Path) -> bytes:
        return Path(path).read_bytes()

    def listdir(self, path: Path) -> list[str]:
        return sorted(os.listdir(path))

    def is_dir(self, path: Path) -> bool:
        return Path(path).is_dir()

    def mkdir(self, path: Path) -> None:
        """Create ``path`` (and parents) durably."""
        path = Path(path)
        if path.is_dir():
            return
        if not path.parent.is_dir():
            self.mkdir(path.parent)
        path.mkdir()
        self.fsync_dir(path.parent)

    def rename(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)
        self.ledger_update(Path(src), None, rename_to=Path(dst))

    def remove(self, path: Path) -> None:
        os.unlink(path)
        self.ledger_update(Path(path), None)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def synced_size(self, path: Path) -> int | None:
        return self.ledger.get(Path(path)) if self.ledger is not None else None

    # --- used by _RealFile ------------------------------------------------------------------------
    def fsync_fd(self, fd: int, path: Path) -> None:
        faults = self.faults
        if faults.fail_fsync:
            raise eio(path)
        delay = faults.fsync_delay(self._rng)
        started = time.monotonic()
        _datasync(fd)
        if delay > 0:  # a slow disk: the fsync returns no sooner than `delay` after it began
            left = delay - (time.monotonic() - started)
            if left > 0:
                self._sleep(left)

    def ledger_update(self, path: Path, size: int | None, rename_to: Path | None = None) -> None:
        if self.ledger is not None:
            self.ledger.update(path, size, rename_to)


# --- what the supervisor does to a dead node's files ------------------------------------------------
@dataclass(frozen=True)
class FileCut:
    file: str  # relative to the node's data dir
    synced: int
    size_before: int
    size_after: int


def lose_unsynced(root: Path, rng: random.Random) -> list[FileCut]:
    """A power cut on a node that is not running: every file the ledger knows is cut at a random
    byte between its last fsync and its end (a torn tail, or nothing lost if it was all synced)."""
    cuts = []
    for key, synced in sorted(read_ledger(root).items()):
        path = Path(root) / key
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if size <= synced:
            continue
        # a preallocated file (a WAL segment) ends in zeros past its data: the cut falls in
        # what was written and not synced, or nothing would ever be lost
        end = max(synced, _data_end(path, synced, size))
        new = rng.randint(synced, end)
        os.truncate(path, new)
        cuts.append(FileCut(key, synced, size, new))
    return cuts


def _data_end(path: Path, start: int, size: int, block: int = 1 << 16) -> int:
    """Where the data of ``path`` ends: past its last nonzero byte, looked for from ``size``
    back to ``start``."""
    with open(path, "rb") as f:
        end = size
        while end > start:
            begin = max(start, end - block)
            f.seek(begin)
            chunk = f.read(end - begin).rstrip(b"\0")
            if chunk:
                return begin + len(chunk)
            end = begin
    return start


def corrupt_synced(
    root: Path, rng: random.Random, suffix: str = ".wal", flips: int = 1
) -> tuple[str, int] | None:
    """Flip bytes inside the synced part of the newest ``suffix`` file the ledger knows.

    Returns ``(file relative to root, offset of the first flip)``, or None when no such file has
    synced data. The offset is drawn from the second half of the synced part, past the segment
    header of any WAL holding records.
    """
    known = sorted(
        (Path(key).name, key, synced)
        for key, synced in read_ledger(root).items()
        if key.endswith(suffix) and synced > 0 and (Path(root) / key).is_file()
    )
    if not known:
        return None
    _, key, synced = known[-1]
    path = Path(root) / key
    raw = bytearray(path.read_bytes())
    synced = min(synced, len(raw))
    if synced == 0:
        return None
    first = rng.randrange(synced // 2, synced)
    offsets = sorted({first} | {rng.randrange(synced // 2, synced) for _ in range(flips - 1)})
    for off in offsets:
        raw[off] ^= rng.randrange(1, 256)
    with open(path, "r+b") as f:
        for off in offsets:
            f.seek(off)
            f.write(bytes([raw[off]]))
    return key, offsets[0]
