"""Unit names: templates, instances, validation and specifiers."""

from __future__ import annotations

import pytest

from actors.unitname import (
    UnitNameError,
    expand_specifiers,
    parse_unit_name,
    validate_unit_name,
)


def test_instance_of_a_template():
    n = parse_unit_name("apache@1.service")
    assert (n.prefix, n.instance, n.template, n.name) == (
        "apache",
        "1",
        "apache@.service",
        "apache@1",
    )
    assert n.is_instance and not n.is_template


def test_template_and_plain():
    t = parse_unit_name("hello@.service")
    assert t.is_template and t.with_instance("3") == "hello@3.service"
    p = parse_unit_name("etcd2.service")
    assert (p.prefix, p.template, p.instance) == ("etcd2", "", "")
    with pytest.raises(UnitNameError):
        p.with_instance("1")


def test_instance_between_first_at_and_last_dot():
    n = parse_unit_name("a@b.c.service")
    assert (n.prefix, n.instance) == ("a", "b.c")


@pytest.mark.parametrize(
    "name, words",
    [
        ("", "empty"),
        ("hello", "no type suffix"),
        ("hello.txt", "unsupported type"),
        ("he llo.service", "invalid characters"),
        ("@1.service", "empty prefix"),
        ("a" * 300 + ".service", "exceeds"),
    ],
)
def test_invalid_names(name, words):
    with pytest.raises(UnitNameError, match=words):
        validate_unit_name(name)


def test_valid_names():
    for name in ("a.service", "a@.service", "a@1.service", "x-y_z:1.socket", "b.timer"):
        validate_unit_name(name)


def test_specifiers():
    text = "%n %N %p %i %% %m %q"
    out = expand_specifiers(text, "web@a-b.service", {"m": "abc"})
    assert out == "web@a-b.service web@a/b web a-b % abc %q"
    assert expand_specifiers("%I", "web@a-b\\x2d.service") == "a/b-"
    assert expand_specifiers("plain", "x.service") == "plain"
