"""A node's ``disk.img``: a real, sparse GPT disk with CoreOS's partitions, and its one I/O layer.

:class:`ImageFile` is the only code that touches the file's bytes (pread/pwrite, fsync). Given the
node's :class:`~emulator.disk.RealDisk`, its fsyncs go through the disk-fault layer: ``disk-slow``
slows them as it slows the WAL's (an install on a slow disk takes longer), and a failing fsync
fails the install. ``disk-full`` does not act here: the GPT and the USR partitions are raw block
devices, not files on the full root filesystem, so a real full disk still takes an update.
:class:`GptDisk` reads and changes the table and the USR images through it.

Layout (16 MiB, sparse; CoreOS's partition numbers and names, sizes scaled down)::

    1  EFI-SYSTEM   1 MiB   EFI system partition type
    2  BIOS-BOOT    1 MiB   BIOS boot type
    3  USR-A        4 MiB   CoreOS usr type, an image at its start
    4  USR-B        4 MiB   CoreOS usr type
    9  ROOT         rest    CoreOS root type

Changing the table writes the backup copy first, fsyncs, then the primary, fsyncs: a crash
leaves at least one copy whole, and readers fall back to the backup when the primary is bad.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from actors.update import gpt
from actors.update.codes import ErrorCode
from actors.update.gpt import (
    BIOS_BOOT_TYPE,
    COREOS_ROOT_TYPE,
    COREOS_USR_TYPE,
    EFI_SYSTEM_TYPE,
    SECTOR,
    GptError,
    Partition,
    Table,
    UsrAttrs,
)
from actors.update.payload import HEADER_SIZE, ImageHeader, PayloadError, read_header
from emulator.disk import RealDisk

DISK_NAME = "disk.img"
TOTAL_SECTORS = 32768  # 16 MiB
USR_NAMES = ("USR-A", "USR-B")
# CoreOS's fixed unique GUIDs for USR-A and USR-B (its disk_layout.json), so tools show the same.
USR_A_GUID = uuid.UUID("7130c94a-213a-4e5a-8e26-6cce9662f132")
USR_B_GUID = uuid.UUID("e03dd35c-7c2d-4a47-b3fe-27f15780a57c")
_GUID_NS = uuid.UUID("2f0a7c5e-7d1e-4c41-9a2b-5b8f3c1d6e70")  # coreemu's namespace for uuid5


class DiskError(Exception):
    """The disk image cannot be used; the message says which file and what was wrong."""


class ImageFile:
    """Byte-level access to one image file: every read, write and fsync of ``disk.img``."""

    def __init__(self, path: Path, disk: RealDisk | None = None):
        self.path = Path(path)
        self._disk = disk  # the node's disk faults (None: the machine's own fsync, no faults)

    def _fsync(self, fd: int) -> None:
        if self._disk is None:
            os.fsync(fd)
        else:
            self._disk.fsync_fd(fd, self.path)

    def create(self, size: int) -> None:
        """A new sparse file of ``size`` bytes (zeros), replacing nothing: fails if it exists."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def read_at(self, offset: int, length: int) -> bytes:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            data = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        if len(data) != length:
            raise DiskError(f"{self.path}: short read at {offset} ({len(data)} of {length})")
        return data

    def write_at(self, pieces: list[tuple[int, bytes]]) -> None:
        """Write each (offset, bytes), then fsync once."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            for offset, data in pieces:
                view = memoryview(data)
                while view:
                    n = os.pwrite(fd, view, offset)
                    view, offset = view[n:], offset + n
            self._fsync(fd)
        finally:
            os.close(fd)


def coreos_table(machine_id: str) -> Table:
    def guid(name: str) -> uuid.UUID:
        return uuid.uuid5(_GUID_NS, f"{machine_id}/{name}")

    mib = 2048  # sectors
    last = TOTAL_SECTORS - 2 - gpt.ARRAY_SECTORS
    parts = (
        Partition(1, EFI_SYSTEM_TYPE, guid("EFI-SYSTEM"), 1 * mib, 2 * mib - 1, "EFI-SYSTEM"),
        Partition(2, BIOS_BOOT_TYPE, guid("BIOS-BOOT"), 2 * mib, 3 * mib - 1, "BIOS-BOOT"),
        Partition(3, COREOS_USR_TYPE, USR_A_GUID, 3 * mib, 7 * mib - 1, "USR-A"),
        Partition(4, COREOS_USR_TYPE, USR_B_GUID, 7 * mib, 11 * mib - 1, "USR-B"),
        Partition(9, COREOS_ROOT_TYPE, guid("ROOT"), 11 * mib, last, "ROOT"),
    )
    return Table(guid("disk"), TOTAL_SECTORS, parts)


class GptDisk:
    """A node's GPT disk image: its table, the USR slots' attributes and images."""

    def __init__(self, path: Path, io: ImageFile | None = None, *, disk: RealDisk | None = None):
        """``disk``: the node's disk, whose faults the image's fsyncs go through."""
        self.path = Path(path)
        self.io = io or ImageFile(self.path, disk)
        self.used_copy = "primary"  # which table copy the last read came from

    @classmethod
    def create(
        cls, path: Path, machine_id: str, first_image: bytes, attrs: UsrAttrs | None = None
    ) -> GptDisk:
        """A new disk: the table, USR-A holding ``first_image`` (priority 1, successful)."""
        tmp = Path(str(path) + ".tmp")
        tmp.unlink(missing_ok=True)
        disk = cls(tmp)
        disk.io.create(TOTAL_SECTORS * SECTOR)
        table = coreos_table(machine_id)
        usr_a = table.by_name("USR-A")
        table = table.replaced(usr_a.with_usr(attrs or UsrAttrs(1, 0, True)))
        disk._check_fits(usr_a, first_image)
        disk.io.write_at([(usr_a.offset, first_image), *gpt.encode(table).values()])
        os.replace(tmp, path)  # born whole: a crash leaves no half-made disk.img
        fd = os.open(Path(path).parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(Path(path))

    # --- the table --------------------------------------------------------------------------
    def table(self) -> Table:
        total = self.io.size // SECTOR
        if total < 2 * (2 + gpt.ARRAY_SECTORS):
            raise DiskError(f"{self.path}: {self.io.size} bytes is too small for a GPT")
        array_len = gpt.ENTRY_SIZE * gpt.ENTRY_COUNT
        copies = []
        for header_lba, default_array_lba in ((1, 2), (total - 1, total - 1 - gpt.ARRAY_SECTORS)):
            sector = self.io.read_at(header_lba * SECTOR, SECTOR)
            offset, length = gpt.array_span(sector) or (default_array_lba * SECTOR, array_len)
            if offset + length > self.io.size:
                offset, length = default_array_lba * SECTOR, array_len
            copies.append((sector, self.io.read_at(offset, length)))
        try:
            table, self.used_copy = gpt.decode(total, copies[0], copies[1])
        except GptError as exc:
            raise DiskError(f"{self.path}: {exc}") from None
        return table

    def write_table(self, table: Table) -> None:
        pieces = gpt.encode(table)
        self.io.write_at([pieces["backup_array"], pieces["backup_header"]])
        self.io.write_at([pieces["mbr"], pieces["primary_array"], pieces["primary_header"]])

    # --- USR slots --------------------------------------------------------------------------
    def usr_slots(self, table: Table | None = None) -> list[tuple[str, UsrAttrs]]:
        """(name, attributes) of USR-A and USR-B in table order."""
        table = table or self.table()
        return [(p.name, p.usr) for p in table.partitions if p.name in USR_NAMES]

    def set_usr(self, changes: Mapping[str, UsrAttrs]) -> Table:
        """Write new gptprio attributes for the named USR slots (both table copies, fsynced)."""
        table = self.table()
        for name, attrs in changes.items():
            if name not in USR_NAMES:
                raise DiskError(f"{name!r} is not a USR partition")
            table = table.replaced(table.by_name(name).with_usr(attrs))
        if changes:
            self.write_table(table)
        return table

    def _check_fits(self, part: Partition, image: bytes) -> None:
        if len(image) > part.size:
            raise DiskError(
                f"{self.path}: a {len(image)}-byte image does not fit {part.name} ({part.size})"
            )

    def write_image(self, name: str, image: bytes) -> None:
        part = self.table().by_name(name)
        self._check_fits(part, image)
        self.io.write_at([(part.offset, image)])

    def read_header(self, name: str) -> ImageHeader:
        """The image header in a USR slot; :class:`PayloadError` if there is none or it is bad."""
        part = self.table().by_name(name)
        return read_header(self.io.read_at(part.offset, HEADER_SIZE))

    def read_image(self, name: str) -> bytes:
        header = self.read_header(name)
        part = self.table().by_name(name)
        if header.image_size > part.size:
            raise PayloadError(f"{name}: image larger than its partition", ErrorCode.ERROR)
        return self.io.read_at(part.offset, header.image_size)

    def version_of(self, name: str) -> str | None:
        try:
            return self.read_header(name).version
        except PayloadError:
            return None
