"""A table update cut short at any point leaves a disk that reads as the old or the new table."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.update import gpt
from actors.update.disk import TOTAL_SECTORS, GptDisk, coreos_table
from actors.update.gpt import SECTOR, UsrAttrs
from actors.update.payload import build_payload

MID = "cd" * 16


def _decode(raw: bytes) -> gpt.Table:
    total = len(raw) // SECTOR
    copies = []
    for header_lba, array_lba in ((1, 2), (total - 1, total - 1 - gpt.ARRAY_SECTORS)):
        sector = raw[header_lba * SECTOR : (header_lba + 1) * SECTOR]
        off = array_lba * SECTOR
        copies.append((sector, raw[off : off + gpt.ENTRY_SIZE * gpt.ENTRY_COUNT]))
    return gpt.decode(total, copies[0], copies[1])[0]


def test_crash_at_every_sector_of_a_table_update(tmp_path):
    disk = GptDisk.create(tmp_path / "d.img", MID, build_payload("1.0.0", "stable", "i", 64))
    old_raw = disk.path.read_bytes()
    old = disk.table()
    new = old.replaced(old.by_name("USR-B").with_usr(UsrAttrs(2, 1, False)))
    pieces = gpt.encode(new)
    # the order GptDisk.write_table uses: backup first (fsync), then MBR and primary
    stream = [
        pieces[k]
        for k in ("backup_array", "backup_header", "mbr", "primary_array", "primary_header")
    ]
    total = sum(len(data) for _, data in stream)
    cuts = sorted(set(range(0, total + 1, SECTOR)) | {1, 91, 93, total - 1})
    for cut in cuts:
        raw = bytearray(old_raw)
        left = cut
        for offset, data in stream:
            n = min(left, len(data))
            raw[offset : offset + n] = data[:n]
            left -= n
        got = _decode(bytes(raw))
        assert got.partitions in (old.partitions, new.partitions), f"cut at {cut}"
    assert _decode(bytes(raw)).partitions == new.partitions


@settings(max_examples=200, deadline=None)
@given(
    prio=st.integers(0, 15),
    tries=st.integers(0, 15),
    ok=st.booleans(),
    other=st.integers(0, (1 << 64) - 1),
)
def test_usr_attrs_round_trip_keeps_other_bits(prio, tries, ok, other):
    attrs = UsrAttrs(prio, tries, ok)
    packed = attrs.apply(other)
    assert UsrAttrs.of(packed) == attrs
    mask = 0x1FF << 48
    assert packed & ~mask == other & ~mask


@settings(max_examples=50, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=36), min_size=1, max_size=5),  # any code points
    attrs=st.lists(st.integers(0, (1 << 64) - 1), min_size=5, max_size=5),
)
def test_table_round_trip(names, attrs):
    base = coreos_table(MID)
    parts = tuple(
        gpt.Partition(
            p.number,
            p.type_guid,
            uuid.uuid4(),
            p.first_lba,
            p.last_lba,
            names[i % len(names)],
            attrs[i],
        )  # fmt: skip
        for i, p in enumerate(base.partitions)
    )
    table = gpt.Table(uuid.uuid4(), TOTAL_SECTORS, parts)
    raw = bytearray(TOTAL_SECTORS * SECTOR)
    try:
        pieces = gpt.encode(table)
    except gpt.GptError:  # NUL, a lone surrogate, or over 36 UTF-16 units: refused, clearly
        assert any("\0" in n or len(n.encode("utf-16-le", "surrogatepass")) > 72
                   or any(0xD800 <= ord(c) <= 0xDFFF for c in n) for n in names)  # fmt: skip
        return
    for offset, data in pieces.values():
        raw[offset : offset + len(data)] = data
    got = _decode(bytes(raw))
    assert got.disk_guid == table.disk_guid
    assert [(p.name, p.attributes, p.unique_guid) for p in got.partitions] == [
        (p.name, p.attributes, p.unique_guid) for p in parts
    ]
