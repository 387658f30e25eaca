"""Paths, ttl arithmetic and compare causes."""

from __future__ import annotations

import pytest

from actors.etcd.node import Node, clean_path, compare_failure, split_path, ttl_seconds

S = 10**9


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", "/"),
        ("/", "/"),
        ("a", "/a"),
        ("/a/", "/a"),
        ("//a//b", "/a/b"),
        ("/a/./b/../c", "/a/c"),
        ("/../..", "/"),
        ("/.hidden/x", "/.hidden/x"),
        ("/a b/ü", "/a b/ü"),
    ],
)
def test_clean_path_is_gos(raw, clean):
    assert clean_path(raw) == clean


def test_split_path():
    assert split_path("/a/b") == ("/a/", "b") and split_path("/a") == ("/", "a")


@pytest.mark.parametrize(
    ("left_ns", "ttl"),
    [
        (100 * S, 100),
        (int(99.2 * S), 100),
        (1, 1),
        (0, 0),
        (-1, 0),
        (-int(0.3 * S), 0),
        (-int(1.5 * S), -1),
    ],
)
def test_ttl_rounds_like_etcd(left_ns, ttl):
    assert ttl_seconds(1_000 * S + left_ns, 1_000 * S) == ttl


def test_compare_failure_causes():
    node = Node("/a", 4, None, value="v")
    assert compare_failure(node, "", 0) is None
    assert compare_failure(node, "v", 4) is None
    assert compare_failure(node, "x", 0) == "[x != v]"
    assert compare_failure(node, "", 9) == "[9 != 4]"
    assert compare_failure(node, "x", 9) == "[x != v] [9 != 4]"


def test_walk_is_parents_first_in_insertion_order():
    root = Node("/", 0, None, is_dir=True)
    a = Node("/a", 1, root, is_dir=True)
    b = Node("/b", 2, root)
    root.children.update({"a": a, "b": b})
    a.children["x"] = Node("/a/x", 3, a)
    assert [n.path for n in root.walk()] == ["/", "/a", "/a/x", "/b"]
    assert a.name == "a" and not a.is_hidden and Node("/_h", 1, root).is_hidden
