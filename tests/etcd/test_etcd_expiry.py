"""The TTL queue: soonest first, ties by path, stale entries skipped."""

from __future__ import annotations

from actors.etcd.expiry import ExpiryQueue
from actors.etcd.node import Node


def node(path: str, expire: int) -> Node:
    return Node(path, 1, None, expire_ns=expire)


def test_pops_due_nodes_in_order_and_skips_changed_ones():
    q = ExpiryQueue()
    b, a, c, perm = node("/b", 5), node("/a", 5), node("/c", 3), node("/p", 0)
    for n in (b, a, c, perm):
        q.set(n)
    assert len(q) == 3 and q.next_expiry() == 3
    c.expire_ns = 9
    q.set(c)
    assert q.pop_due(4) is None
    assert [q.pop_due(10).path for _ in range(3)] == ["/a", "/b", "/c"]
    assert q.pop_due(10) is None and len(q) == 0


def test_discard_and_permanent():
    q = ExpiryQueue()
    a = node("/a", 5)
    q.set(a)
    q.discard(a)
    assert q.next_expiry() is None
    q.set(a)
    a.expire_ns = 0
    q.set(a)
    assert len(q) == 0 and q.pop_due(100) is None
