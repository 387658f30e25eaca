"""Registered messages: what the faster constructor must keep of a frozen dataclass."""

import dataclasses

import pytest

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
