"""The wire codec: what the faster constructor must keep of a frozen dataclass, and pack's
per-thread Packer (same bytes as msgpack.packb, safe across threads and re-entry)."""

import dataclasses
import sys
import threading

import msgpack
import pytest

from actors.raft.entries import Entry
from emulator import wire


@wire.message("test.Plain")
class Plain:
    a: int
    b: str


@wire.message("test.WithDefault")
class WithDefault:
    a: int
    b: str = "x"


def test_a_message_stays_frozen_equal_and_hashable():
    m = Plain(1, "y")
    assert m == Plain(a=1, b="y") and hash(m) == hash(Plain(1, "y")) and m != Plain(2, "y")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.a = 2  # type: ignore[misc]
    assert dataclasses.replace(m, a=3) == Plain(3, "y")
    assert wire.unpack(wire.pack(m)) == m


def test_a_wrong_call_fails_as_a_dataclass_would():
    with pytest.raises(TypeError):
        Plain(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Plain(1, "y", 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Plain(1, c="y")  # type: ignore[call-arg]


def test_fields_with_defaults_keep_the_dataclass_constructor():
    assert WithDefault(1) == WithDefault(1, "x")
    assert wire.unpack(wire.pack(WithDefault(2, "z"))) == WithDefault(2, "z")


def test_an_init_only_field_keeps_the_dataclass_constructor():
    @wire.message("test.WithInitVar")
    class WithInitVar:
        a: int
        unused: dataclasses.InitVar[int]  # taken by the constructor, stored nowhere

    assert WithInitVar(2, 3).a == 2


# --- pack keeps one msgpack Packer per thread ---------------------------------------------------
def _reference(value) -> bytes:
    return msgpack.packb(value, default=wire._default, use_bin_type=True)


def test_pack_gives_the_bytes_msgpack_packb_gives():
    values = [
        {"a": [1, 2.5, None, True, b"\x00\xff", "é"]},
        Entry(3, 7, 0, b"data"),
        (1, frozenset({3, 1, 2})),
        "x" * 70_000,
    ]
    for value in values * 2:  # the second pass reuses this thread's packer
        assert wire.pack(value) == _reference(value)


class _PacksWhenCompared(int):
    """Sorting a set of these (wire's default for sets) runs a pack inside the pack."""

    def __lt__(self, other):
        wire.pack({"inner": [int(self), b"\x01" * 50]})
        return int(self) < int(other)


def test_a_pack_that_re_enters_on_the_same_thread_leaves_the_outer_one_whole():
    value = ["before", frozenset(_PacksWhenCompared(i) for i in range(5)), "after" * 20]
    expected = _reference(["before", [0, 1, 2, 3, 4], "after" * 20])
    assert wire.pack(value) == expected


def test_threads_packing_at_once_each_get_their_own_bytes():
    def work(n: int, out: list) -> None:
        for i in range(1500):
            value = [n, i, Entry(n, i, 0, bytes([n]) * (i % 200))]
            if wire.pack(value) != _reference(value):
                out.append((n, i))

    bad: list = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can, even mid-pack
    try:
        threads = [threading.Thread(target=work, args=(n, bad)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert bad == []


def test_a_packer_grown_by_a_big_value_is_not_kept():
    big = b"\x02" * (3 << 20)
    assert wire.pack(big) == _reference(big)
    assert getattr(wire._PACKERS, "packer", None) is None
    assert wire.pack([1, 2]) == _reference([1, 2])
    assert wire._PACKERS.packer is not None
