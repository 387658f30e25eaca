"""disk.img is a real GPT: written, read back, CRC-checked, and read the same by sgdisk and fdisk."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib

import pytest

from actors.update import gpt
from actors.update.disk import TOTAL_SECTORS, DiskError, GptDisk
from actors.update.gpt import SECTOR, UsrAttrs
from actors.update.payload import build_payload

MID = "0123456789abcdef0123456789abcdef"
SGDISK = shutil.which("sgdisk")
FDISK = shutil.which("fdisk")
needs_sgdisk = pytest.mark.skipif(SGDISK is None, reason="sgdisk missing (apt-get install gdisk)")
needs_fdisk = pytest.mark.skipif(FDISK is None, reason="fdisk missing (apt-get install fdisk)")


@pytest.fixture
def disk(tmp_path) -> GptDisk:
    return GptDisk.create(
        tmp_path / "disk.img", MID, build_payload("1.0.0", "stable", "initial", 65536)
    )


def _raw(disk: GptDisk) -> bytes:
    return disk.path.read_bytes()


def test_new_disk_layout_and_usr_a(disk):
    table = disk.table()
    assert [(p.number, p.name) for p in table.partitions] == [
        (1, "EFI-SYSTEM"), (2, "BIOS-BOOT"), (3, "USR-A"), (4, "USR-B"), (9, "ROOT"),
    ]  # fmt: skip
    assert table.by_name("USR-A").type_guid == gpt.COREOS_USR_TYPE
    assert table.by_name("USR-B").type_guid == gpt.COREOS_USR_TYPE
    assert disk.usr_slots() == [("USR-A", UsrAttrs(1, 0, True)), ("USR-B", UsrAttrs(0, 0, False))]
    assert disk.read_header("USR-A").version == "1.0.0"
    assert disk.version_of("USR-B") is None
    assert disk.path.stat().st_size == TOTAL_SECTORS * SECTOR
    assert disk.path.stat().st_blocks * 512 < 1 << 20  # sparse: only what was written


def test_structures_on_disk_with_their_crcs(disk):
    raw = _raw(disk)
    assert raw[510:512] == b"\x55\xaa" and raw[446 + 4] == 0xEE
    for lba, my, alt, array_lba in ((1, 1, TOTAL_SECTORS - 1, 2),
                                    (TOTAL_SECTORS - 1, TOTAL_SECTORS - 1, 1, TOTAL_SECTORS - 33)):  # fmt: skip
        hdr = raw[lba * SECTOR : lba * SECTOR + 92]
        assert hdr[:8] == b"EFI PART"
        crc = struct.unpack_from("<I", hdr, 16)[0]
        zeroed = hdr[:16] + b"\0\0\0\0" + hdr[20:]
        assert zlib.crc32(zeroed) == crc
        assert struct.unpack_from("<QQ", hdr, 24) == (my, alt)
        assert struct.unpack_from("<Q", hdr, 72)[0] == array_lba
        array = raw[array_lba * SECTOR : array_lba * SECTOR + 128 * 128]
        assert zlib.crc32(array) == struct.unpack_from("<I", hdr, 88)[0]


def test_attribute_bits_layout():
    a = UsrAttrs(priority=2, tries=1, successful=False).apply(0)
    assert a == (2 << 48) | (1 << 52)
    assert UsrAttrs(15, 15, True).apply(0) == 0x1FF << 48
    assert UsrAttrs.of(1 << 60 | UsrAttrs(3, 4, True).apply(0)) == UsrAttrs(3, 4, True)
    assert UsrAttrs(1, 0, True).apply(1 << 60 | 1) == 1 << 60 | 1 | 1 << 48 | 1 << 56  # others kept
    with pytest.raises(ValueError):
        UsrAttrs(16, 0, False)


def test_set_usr_and_images_persist(disk, tmp_path):
    disk.write_image("USR-B", build_payload("1.1.0", "stable", "b2", 4096))
    disk.set_usr({"USR-B": UsrAttrs(2, 1, False)})
    again = GptDisk(disk.path)
    assert again.usr_slots() == [("USR-A", UsrAttrs(1, 0, True)), ("USR-B", UsrAttrs(2, 1, False))]
    assert again.read_header("USR-B").version == "1.1.0"
    assert again.read_image("USR-B") == build_payload("1.1.0", "stable", "b2", 4096)


def test_image_too_large_is_refused_and_slot_untouched(disk):
    before = _raw(disk)
    with pytest.raises(DiskError):
        disk.write_image("USR-B", b"x" * (5 << 20))
    assert _raw(disk) == before


def test_corrupt_primary_falls_back_to_backup(disk):
    with open(disk.path, "r+b") as f:
        f.seek(SECTOR + 40)
        f.write(b"\xff")
    assert disk.usr_slots()[0] == ("USR-A", UsrAttrs(1, 0, True))
    assert disk.used_copy == "backup"
    disk.set_usr({"USR-B": UsrAttrs(0, 0, False)})  # a write repairs the primary
    again = GptDisk(disk.path)
    again.table()
    assert again.used_copy == "primary"


def test_corrupt_primary_array_falls_back(disk):
    with open(disk.path, "r+b") as f:
        f.seek(2 * SECTOR + 128 * 2 + 50)
        f.write(b"\x00\x01")
    disk.table()
    assert disk.used_copy == "backup"


def test_both_copies_bad_is_a_clear_error(disk):
    with open(disk.path, "r+b") as f:
        for off in (SECTOR + 40, (TOTAL_SECTORS - 1) * SECTOR + 40):
            f.seek(off)
            f.write(b"\xff")
    with pytest.raises(DiskError, match="no valid GPT"):
        disk.table()


def test_overlapping_table_is_refused():
    table = gpt.Table(
        gpt.uuid.uuid4(),
        TOTAL_SECTORS,
        (
            gpt.Partition(1, gpt.COREOS_USR_TYPE, gpt.uuid.uuid4(), 2048, 4095, "A"),
            gpt.Partition(2, gpt.COREOS_USR_TYPE, gpt.uuid.uuid4(), 4000, 5000, "B"),
        ),
    )
    with pytest.raises(gpt.GptError, match="overlap"):
        gpt.encode(table)


def _sgdisk(*args: str) -> str:
    return subprocess.run([SGDISK, *args], capture_output=True, text=True, check=True).stdout


@needs_sgdisk
def test_sgdisk_reads_the_table(disk):
    out = _sgdisk("-p", str(disk.path))
    assert f"{TOTAL_SECTORS} sectors" in out
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+(\w+)\s+(\S+)$", out, re.M)
    assert [(n, name) for n, _, _, _, name in rows] == [
        ("1", "EFI-SYSTEM"), ("2", "BIOS-BOOT"), ("3", "USR-A"), ("4", "USR-B"), ("9", "ROOT"),
    ]  # fmt: skip
    table = disk.table()
    for n, start, end, _, name in rows:
        assert table.by_name(name).number == int(n)
        p = table.by_name(name)
        assert (int(start), int(end)) == (p.first_lba, p.last_lba)
    verify = subprocess.run([SGDISK, "-v", str(disk.path)], capture_output=True, text=True)
    assert "No problems found" in verify.stdout


@needs_sgdisk
def test_sgdisk_shows_usr_type_guid_and_gptprio_attributes(disk):
    disk.set_usr({"USR-B": UsrAttrs(2, 1, False)})
    a = _sgdisk("-i", "3", str(disk.path))
    assert "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6" in a and "'USR-A'" in a
    assert "Attribute flags: 0101000000000000" in a  # successful (56) + priority 1 (48)
    b = _sgdisk("-i", "4", str(disk.path))
    assert "Attribute flags: 0012000000000000" in b  # tries 1 (52) + priority 2 (49)
    assert "'USR-B'" in b


@needs_sgdisk
def test_sgdisk_agrees_on_the_backup_fallback(disk):
    with open(disk.path, "r+b") as f:
        f.seek(SECTOR + 40)
        f.write(b"\xff")
    out = subprocess.run([SGDISK, "-i", "3", str(disk.path)], capture_output=True, text=True)
    assert "Main header: ERROR" in out.stderr and "Backup header: OK" in out.stderr
    assert "Attribute flags: 0101000000000000" in out.stdout  # read from the backup, as we do
    assert disk.usr_slots()[0] == ("USR-A", UsrAttrs(1, 0, True)) and disk.used_copy == "backup"


@needs_fdisk
def test_fdisk_lists_the_partitions(disk):
    out = subprocess.run(
        [FDISK, "-l", str(disk.path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Disklabel type: gpt" in out
    table = disk.table()
    for p in table.partitions:
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{disk.path}{p.number} "))
        start, end = line.split()[1:3]
        assert (int(start), int(end)) == (p.first_lba, p.last_lba)
    assert "EFI System" in out
