"""GUID Partition Tables as bytes: encode and decode, pure (the file I/O is in :mod:`.disk`).

Theory of operation. A GPT disk (UEFI spec, ch. 5) is, in 512-byte sectors (LBAs):

* LBA 0: a protective MBR, one partition of type 0xEE covering the disk, so MBR tools keep off;
* LBA 1: the primary header (``EFI PART``, revision 1.0, 92 bytes, CRC32 over itself with the
  CRC field zeroed), pointing at the partition array at LBA 2 (128 entries x 128 bytes, its own
  CRC32 in the header);
* the last LBA: the backup header, whose array sits in the 32 sectors just before it.

An entry: type GUID, unique GUID (both in GUID's mixed-endian byte order), first and last LBA
(inclusive), 64 attribute bits, a 36-character UTF-16LE name. CoreOS keeps its A/B boot state in
the attributes of the two USR partitions as ChromeOS ``cgpt`` does: priority in bits 48–51,
tries left in 52–55, successful in 56 (:class:`UsrAttrs`).

Reading prefers the primary header and array; when either fails its CRC the backup is used, as
firmware and ``sgdisk`` do. :func:`decode` says which one it used.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, replace

SECTOR = 512
ENTRY_SIZE = 128
ENTRY_COUNT = 128
ARRAY_SECTORS = ENTRY_SIZE * ENTRY_COUNT // SECTOR  # 32
SIGNATURE = b"EFI PART"
REVISION = 0x00010000
HEADER_SIZE = 92

# The partition types a CoreOS disk uses (coreos/scripts build_library/disk_layout.json).
EFI_SYSTEM_TYPE = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
BIOS_BOOT_TYPE = uuid.UUID("21686148-6449-6e6f-744e-656564454649")
COREOS_USR_TYPE = uuid.UUID("5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6")
COREOS_ROOT_TYPE = uuid.UUID("3884dd41-8582-4404-b9a8-e9b84f2df50e")

_HEADER = struct.Struct("<8sIIIIQQQQ16sQIII")  # 92 bytes
_ENTRY = struct.Struct("<16s16sQQQ72s")  # 128 bytes

_PRIORITY_SHIFT, _TRIES_SHIFT, _SUCCESS_SHIFT = 48, 52, 56


class GptError(ValueError):
    """The bytes are not a usable GPT (both copies bad, or a table that makes no sense)."""


@dataclass(frozen=True)
class UsrAttrs:
    """The gptprio fields of a USR partition's attributes."""

    priority: int = 0  # 0..15; 0 never boots
    tries: int = 0  # 0..15 boot attempts left
    successful: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.priority <= 15 and 0 <= self.tries <= 15):
            raise ValueError(f"priority and tries are 4-bit fields, got {self}")

    def apply(self, attributes: int) -> int:
        """``attributes`` with bits 48–56 replaced by these fields (other bits kept)."""
        keep = attributes & ~(0x1FF << _PRIORITY_SHIFT)
        return (
            keep
            | self.priority << _PRIORITY_SHIFT
            | self.tries << _TRIES_SHIFT
            | int(self.successful) << _SUCCESS_SHIFT
        )

    @classmethod
    def of(cls, attributes: int) -> UsrAttrs:
        return cls(
            priority=attributes >> _PRIORITY_SHIFT & 0xF,
            tries=attributes >> _TRIES_SHIFT & 0xF,
            successful=bool(attributes >> _SUCCESS_SHIFT & 1),
        )


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based slot in the array, as sgdisk -i N counts
    type_guid: uuid.UUID
    unique_guid: uuid.UUID
    first_lba: int
    last_lba: int  # inclusive
    name: str
    attributes: int = 0

    @property
    def offset(self) -> int:
        return self.first_lba * SECTOR

    @property
    def size(self) -> int:
        return (self.last_lba - self.first_lba + 1) * SECTOR

    @property
    def usr(self) -> UsrAttrs:
        return UsrAttrs.of(self.attributes)

    def with_usr(self, attrs: UsrAttrs) -> Partition:
        return replace(self, attributes=attrs.apply(self.attributes))


@dataclass(frozen=True)
class Table:
    disk_guid: uuid.UUID
    total_sectors: int
    partitions: tuple[Partition, ...]  # used entries, by number

    @property
    def first_usable(self) -> int:
        return 2 + ARRAY_SECTORS

    @property
    def last_usable(self) -> int:
        return self.total_sectors - 2 - ARRAY_SECTORS

    def by_name(self, name: str) -> Partition:
        for p in self.partitions:
            if p.name == name:
                return p
        raise KeyError(f"no partition named {name!r}")

    def by_number(self, number: int) -> Partition:
        for p in self.partitions:
            if p.number == number:
                return p
        raise KeyError(f"no partition {number}")

    def replaced(self, part: Partition) -> Table:
        return replace(
            self,
            partitions=tuple(part if p.number == part.number else p for p in self.partitions),
        )

    def check(self) -> None:
        """Raise :class:`GptError` unless every partition is inside the usable area, unoverlapped."""
        seen = set()
        spans = []
        for p in self.partitions:
            if not 1 <= p.number <= ENTRY_COUNT or p.number in seen:
                raise GptError(f"partition number {p.number} out of range or repeated")
            seen.add(p.number)
            if not self.first_usable <= p.first_lba <= p.last_lba <= self.last_usable:
                raise GptError(f"partition {p.number} ({p.name}) lies outside the usable LBAs")
            spans.append((p.first_lba, p.last_lba, p.number))
        spans.sort()
        for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
            if start <= end:
                raise GptError(f"partitions {a} and {b} overlap")


# --- encoding ----------------------------------------------------------------------------------
def protective_mbr(total_sectors: int) -> bytes:
    mbr = bytearray(SECTOR)
    size = min(total_sectors - 1, 0xFFFFFFFF)
    # status, CHS first (0/0/2), type 0xEE, CHS last (saturated), first LBA 1, sectors
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1, size)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def encode_array(table: Table) -> bytes:
    array = bytearray(ENTRY_SIZE * ENTRY_COUNT)
    for p in table.partitions:
        try:
            name = p.name.encode("utf-16-le")
        except UnicodeEncodeError:
            raise GptError(f"partition name {p.name!r} is not encodable as UTF-16") from None
        if "\0" in p.name or len(name) > 72:
            raise GptError(f"partition name {p.name!r}: at most 36 UTF-16 units, no NUL")
        _ENTRY.pack_into(
            array,
            (p.number - 1) * ENTRY_SIZE,
            p.type_guid.bytes_le,
            p.unique_guid.bytes_le,
            p.first_lba,
            p.last_lba,
            p.attributes,
            name,
        )
    return bytes(array)


def encode_header(table: Table, array_crc: int, *, backup: bool) -> bytes:
    last = table.total_sectors - 1
    my_lba, alt_lba = (last, 1) if backup else (1, last)
    array_lba = last - ARRAY_SECTORS if backup else 2
    fields = [
        SIGNATURE, REVISION, HEADER_SIZE, 0, 0, my_lba, alt_lba,
        table.first_usable, table.last_usable, table.disk_guid.bytes_le,
        array_lba, ENTRY_COUNT, ENTRY_SIZE, array_crc,
    ]  # fmt: skip
    raw = _HEADER.pack(*fields)
    fields[3] = zlib.crc32(raw)
    return _HEADER.pack(*fields).ljust(SECTOR, b"\0")


def encode(table: Table) -> dict[str, tuple[int, bytes]]:
    """The table's on-disk pieces: name → (byte offset, bytes). Write all of them for a new disk."""
    table.check()
    array = encode_array(table)
    crc = zlib.crc32(array)
    last = table.total_sectors - 1
    return {
        "mbr": (0, protective_mbr(table.total_sectors)),
        "primary_header": (SECTOR, encode_header(table, crc, backup=False)),
        "primary_array": (2 * SECTOR, array),
        "backup_array": ((last - ARRAY_SECTORS) * SECTOR, array),
        "backup_header": (last * SECTOR, encode_header(table, crc, backup=True)),
    }


# --- decoding ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Header:
    my_lba: int
    alt_lba: int
    first_usable: int
    last_usable: int
    disk_guid: uuid.UUID
    array_lba: int
    entries: int
    entry_size: int
    array_crc: int


def decode_header(sector: bytes) -> _Header:
    if len(sector) < HEADER_SIZE:
        raise GptError("header sector is short")
    f = list(_HEADER.unpack_from(sector))
    if f[0] != SIGNATURE:
        raise GptError("no 'EFI PART' signature")
    if f[2] != HEADER_SIZE:
        raise GptError(f"header size {f[2]} is not {HEADER_SIZE}")
    crc = f[3]
    f[3] = 0
    if zlib.crc32(_HEADER.pack(*f)) != crc:
        raise GptError("header CRC32 mismatch")
    if f[12] != ENTRY_SIZE or not 1 <= f[11] <= ENTRY_COUNT:
        raise GptError(f"unsupported array of {f[11]} entries x {f[12]} bytes")
    return _Header(f[5], f[6], f[7], f[8], uuid.UUID(bytes_le=f[9]), f[10], f[11], f[12], f[13])


def decode_array(array: bytes, entries: int, expected_crc: int) -> tuple[Partition, ...]:
    raw = array[: entries * ENTRY_SIZE]
    if len(raw) != entries * ENTRY_SIZE or zlib.crc32(raw) != expected_crc:
        raise GptError("partition array CRC32 mismatch")
    parts = []
    for i in range(entries):
        type_b, uniq_b, first, last, attrs, name = _ENTRY.unpack_from(raw, i * ENTRY_SIZE)
        if type_b == bytes(16):
            continue  # unused entry
        text = name.decode("utf-16-le", errors="replace").split("\0", 1)[0]
        parts.append(
            Partition(
                i + 1,
                uuid.UUID(bytes_le=type_b),
                uuid.UUID(bytes_le=uniq_b),
                first,
                last,
                text,
                attrs,
            )  # fmt: skip
        )
    return tuple(parts)


def array_span(header_sector: bytes) -> tuple[int, int] | None:
    """(byte offset, length) of the array a header points at, or None if the header is bad."""
    try:
        h = decode_header(header_sector)
    except GptError:
        return None
    return h.array_lba * SECTOR, h.entries * h.entry_size


def decode(
    total_sectors: int, primary: tuple[bytes, bytes], backup: tuple[bytes, bytes]
) -> tuple[Table, str]:
    """The table from (header sector, array bytes) of each copy; (table, "primary"|"backup")."""
    problems = []
    for which, (sector, array) in (("primary", primary), ("backup", backup)):
        try:
            h = decode_header(sector)
            parts = decode_array(array, h.entries, h.array_crc)
        except GptError as exc:
            problems.append(f"{which}: {exc}")
            continue
        table = Table(h.disk_guid, total_sectors, parts)
        return table, which
    raise GptError("no valid GPT: " + "; ".join(problems))
