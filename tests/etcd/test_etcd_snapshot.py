"""Keyspace snapshots: round trip, order kept, bad input refused."""

from __future__ import annotations

import pytest

from actors.etcd.snapshot import SnapshotError
from actors.etcd.store import KeyStore
from actors.etcd.v2api import Write
from emulator import wire

NOW = 1_700_000_000 * 10**9


def filled() -> KeyStore:
    store = KeyStore()
    writes = [
        Write("PUT", "/z/1", "a"),
        Write("PUT", "/a", "b", ttl=30),
        Write("PUT", "/_hidden", "h"),
        Write("POST", "/q", "j"),
        Write("PUT", "/d", dir=True, ttl=5),
        Write("PUT", "/z/0", "c"),
    ]
    for i, w in enumerate(writes, 1):
        store.apply(w.stamped(f"r{i}", NOW), i)
    store.get("/nope", now_ns=NOW)
    return store


def test_round_trip_keeps_tree_order_history_counters_and_ttls():
    store = filled()
    copy = KeyStore()
    copy.restore(store.snapshot())
    assert copy.snapshot() == store.snapshot()
    listing = copy.get("/", True, False, NOW).node
    assert [n.key for n in listing.nodes] == ["/z", "/a", "/q", "/d"]
    assert [n.key for n in listing.nodes[0].nodes] == ["/z/1", "/z/0"]
    assert copy.get("/_hidden", now_ns=NOW).node.value == "h"
    assert copy.index == store.index == 6 and copy.raft_index == 6
    assert copy.history.events() == store.history.events()
    assert copy.stats()["getsFail"] == 1
    assert copy.next_expiry_ns() == NOW + 5 * 10**9
    assert copy.watch("/a", since_index=2).events[0].node.value == "b"


def test_empty_snapshot_is_the_empty_store():
    store = filled()
    store.restore(b"")
    assert store.index == 0 and store.get("/", now_ns=NOW).node.nodes == ()


@pytest.mark.parametrize(
    "data",
    [b"\xc1garbage", wire.pack(["not", "a", "snapshot"])],
)
def test_bad_bytes_are_refused(data):
    with pytest.raises(SnapshotError):
        KeyStore().restore(data)


def test_wrong_version_is_refused():
    store = filled()
    snap = wire.unpack(store.snapshot())
    other = type(snap)(99, *[getattr(snap, f) for f in snap._wire_fields[1:]])
    with pytest.raises(SnapshotError, match="version 99"):
        KeyStore().restore(wire.pack(other))
