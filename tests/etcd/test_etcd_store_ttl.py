"""TTLs: expiration stamped by the proposer, ttl reported from the request's clock, refresh,
and expiry only when a SYNC applies (the same keys at the same log position everywhere)."""

from __future__ import annotations

import dataclasses

from actors.etcd.commands import V2Request
from actors.etcd.event import Event
from actors.etcd.store import KeyStore
from actors.etcd.v2api import Write

S = 10**9
NOW = 1_700_000_000 * S


class Cluster:
    """Apply the same log to several stores, as Raft members would."""

    def __init__(self, members: int = 1) -> None:
        self.stores = [KeyStore() for _ in range(members)]
        self.raft = 0

    @property
    def store(self) -> KeyStore:
        return self.stores[0]

    def apply(self, request: V2Request):
        self.raft += 1
        results = [s.apply(request, self.raft) for s in self.stores]
        assert all(r == results[0] for r in results[1:])
        return results[0]

    def write(self, method: str, path: str, value: str = "", at: int = NOW, **kw):
        return self.apply(Write(method, path, value, **kw).stamped("r", at)).result

    def sync(self, at: int):
        return self.apply(V2Request.sync(at))


def test_ttl_is_counted_from_the_stamped_expiration():
    c = Cluster()
    ev = c.write("PUT", "/t", "v", ttl=100)
    assert ev.node.expiration == NOW + 100 * S and ev.node.ttl == 100
    assert c.store.get("/t", now_ns=NOW + 30 * S).node.ttl == 70
    assert c.store.get("/t", now_ns=NOW + int(30.2 * S)).node.ttl == 70  # ceil
    assert c.store.has_expiring_keys() and c.store.next_expiry_ns() == NOW + 100 * S


def test_ttl_zero_expires_at_the_next_sync_and_shows_no_ttl():
    c = Cluster()
    ev = c.write("PUT", "/z", "1", ttl=0)
    assert ev.node.expiration == NOW and ev.node.ttl == 0
    assert [e.node.key for e in c.sync(NOW).expired] == ["/z"]


def test_a_key_past_its_time_stays_until_a_sync_applies():
    c = Cluster()
    c.write("PUT", "/t", "v", ttl=1)
    late = c.store.get("/t", now_ns=NOW + int(2.5 * S))
    assert late.node.value == "v" and late.node.ttl == -1  # what etcd shows too
    assert c.sync(NOW + S - 1).expired == ()  # not yet due
    res = c.sync(NOW + S)
    (expire,) = res.expired
    assert expire.action == "expire" and expire.node.modified_index == 2
    assert expire.node.value is None and expire.prev_node.value == "v"
    assert expire.prev_node.ttl == 0 and expire.prev_node.expiration == NOW + S
    assert c.store.get("/t", now_ns=NOW).code == 100
    assert c.store.counters["expireCount"] == 1 and not c.store.has_expiring_keys()


def test_sync_expires_in_time_order_then_by_path_on_every_member():
    c = Cluster(members=3)
    c.write("PUT", "/b", "1", ttl=5)
    c.write("PUT", "/a", "1", ttl=5)
    c.write("PUT", "/c", "1", ttl=3)
    c.write("PUT", "/keep", "1", ttl=60)
    res = c.sync(NOW + 10 * S)
    assert [e.node.key for e in res.expired] == ["/c", "/a", "/b"]
    assert [e.node.modified_index for e in res.expired] == [5, 6, 7]
    assert res.etcd_index == 7 and all(s.index == 7 for s in c.stores)
    assert c.store.get("/keep", now_ns=NOW).node.value == "1"


def test_expiring_directory_takes_its_children_along():
    c = Cluster()
    c.write("PUT", "/exd", dir=True, ttl=1)
    c.write("PUT", "/exd/child", "c")
    c.write("PUT", "/exd/sub/ttlkid", "k", ttl=30)
    (expire,) = c.sync(NOW + 2 * S).expired
    assert expire.node.dir and expire.prev_node.dir and expire.node.key == "/exd"
    assert not c.store.has_expiring_keys()  # the child's own TTL went with it


def test_update_or_cas_without_ttl_makes_a_key_permanent():
    c = Cluster()
    c.write("PUT", "/t", "v", ttl=10)
    ev = c.write("PUT", "/t", "perm", prev_exist=True)
    assert ev.node.expiration is None and ev.prev_node.ttl == 10
    assert not c.store.has_expiring_keys()
    c.write("PUT", "/u", "v", ttl=10)
    c.write("PUT", "/u", "w", prev_value="v")
    assert not c.store.has_expiring_keys()


def test_refresh_with_set_keeps_value_and_is_not_sent_to_watchers():
    c = Cluster()
    c.write("PUT", "/r", "v", ttl=50)
    w = c.store.watch("/r")
    res = c.apply(Write("PUT", "/r", ttl=200, refresh=True).stamped("r", NOW + S))
    ev = res.event
    assert ev.action == "set" and ev.node.value == "v" and ev.node.ttl == 200
    assert ev.node.created_index == 2  # a set makes a new node, refresh or not (as etcd)
    assert res.notifications == () and not w.done
    # the refresh is in the history (it took index 2) but a watch from history skips it
    assert c.store.history.last_index == 2
    w2 = c.store.watch("/r", since_index=2)
    assert w2.events == () and not w2.done


def test_refresh_with_update_and_cas_keep_created_index():
    c = Cluster()
    c.write("PUT", "/r", "v", ttl=50)
    up = c.write("PUT", "/r", prev_exist=True, refresh=True, ttl=60)
    assert (up.action, up.node.value, up.node.created_index, up.node.ttl) == ("update", "v", 1, 60)
    cas = c.write("PUT", "/r", prev_value="v", refresh=True, ttl=70)
    assert (cas.action, cas.node.value, cas.node.ttl) == ("compareAndSwap", "v", 70)
    assert c.store.next_expiry_ns() == NOW + 70 * S


def test_refresh_of_a_missing_key_is_key_not_found():
    c = Cluster()
    err = c.write("PUT", "/nope", ttl=5, refresh=True)
    assert err.code == 100 and err.cause == "/nope"
    created = c.write("PUT", "/new", ttl=5, refresh=True, prev_exist=False)
    assert isinstance(created, Event) and created.action == "create" and created.node.value == ""


def test_expiry_times_before_2000_mean_no_ttl_on_create():
    c = Cluster()
    old = dataclasses.replace(Write("PUT", "/old", "v").stamped("r", NOW), expiration=5 * S)
    ev = c.apply(old).event
    assert ev.node.expiration is None and not c.store.has_expiring_keys()


def test_replaced_and_deleted_ttl_keys_leave_the_expiry_queue():
    c = Cluster()
    c.write("PUT", "/a", "1", ttl=5)
    c.write("PUT", "/a", "2")  # a set without ttl replaces the node
    c.write("PUT", "/b", "1", ttl=5)
    c.write("DELETE", "/b")
    c.write("PUT", "/c/d", "1", ttl=5)
    c.write("DELETE", "/c", recursive=True)
    assert not c.store.has_expiring_keys() and c.sync(NOW + 99 * S).expired == ()
    assert c.store.get("/a", now_ns=NOW).node.value == "2"


def test_many_refreshes_do_not_grow_the_queue_without_bound():
    c = Cluster()
    c.write("PUT", "/lease", "me", ttl=10)
    for i in range(1, 500):
        c.write("PUT", "/lease", prev_exist=True, refresh=True, ttl=10, at=NOW + i * S)
    assert len(c.store.tree.expiry._heap) < 200
    assert c.store.next_expiry_ns() == NOW + 509 * S
