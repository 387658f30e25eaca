"""Applied marks: a CRC over each whole window of applied entries, none for a partial window."""

from __future__ import annotations

import zlib

from actors.etcd.appliedmarks import AppliedMarks


def entries(first: int, last: int, term: int = 1) -> list[tuple[int, int, bytes]]:
    return [(i, term, f"v{i}".encode()) for i in range(first, last + 1)]


def marks_of(marks: AppliedMarks, applied) -> dict[int, int]:
    out = {}
    for index, term, data in applied:
        crc = marks.applied(index, term, data)
        if crc is not None:
            out[index] = crc
    return out


def chained(applied) -> int:
    crc = 0
    for _, term, data in applied:
        crc = zlib.crc32(data, zlib.crc32(term.to_bytes(8, "little"), crc))
    return crc


def test_each_whole_window_is_marked_with_the_crc_of_all_its_entries():
    log = entries(1, 250)
    got = marks_of(AppliedMarks(100), log)
    assert got == {100: chained(log[0:100]), 200: chained(log[100:200])}


def test_members_that_applied_the_same_entries_agree_and_one_changed_entry_shows():
    log = entries(1, 100)
    changed = list(log)
    changed[41] = (42, 1, b"other")  # one entry in the middle of the window
    assert marks_of(AppliedMarks(100), log) == marks_of(AppliedMarks(100), entries(1, 100))
    assert marks_of(AppliedMarks(100), changed)[100] != marks_of(AppliedMarks(100), log)[100]
    other_term = [(i, 2 if i == 7 else t, d) for i, t, d in log]
    assert marks_of(AppliedMarks(100), other_term)[100] != marks_of(AppliedMarks(100), log)[100]


def test_a_member_that_skipped_into_a_window_marks_from_the_next_whole_one():
    restored = entries(151, 320)  # a snapshot at 150: 101..150 were never applied here
    assert sorted(marks_of(AppliedMarks(100), restored)) == [300]
    assert marks_of(AppliedMarks(100), restored)[300] == chained(entries(201, 300))
    at_boundary = entries(101, 200)  # a snapshot at exactly 100: the next window is whole
    assert sorted(marks_of(AppliedMarks(100), at_boundary)) == [200]


def test_a_gap_inside_a_window_spoils_only_that_window():
    applied = entries(1, 40) + entries(60, 250)  # 41..59 skipped
    assert sorted(marks_of(AppliedMarks(100), applied)) == [200]
