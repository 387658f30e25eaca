"""Properties over random operation sequences: determinism, snapshot/restore, index bookkeeping."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.etcd.commands import V2Request
from actors.etcd.event import Event
from actors.etcd.store import KeyStore
from actors.etcd.v2api import Write

pytestmark = pytest.mark.long

S = 10**9
T0 = 1_700_000_000 * S

paths = st.sampled_from(["/a", "/b", "/a/x", "/a/_h", "/d", "/d/e/f", "/", "/q"])
values = st.sampled_from(["", "1", "2", "v"])
ttls = st.one_of(st.none(), st.integers(min_value=0, max_value=5))


@st.composite
def requests(draw) -> list[V2Request]:
    out: list[V2Request] = []
    clock = T0
    for i in range(draw(st.integers(min_value=1, max_value=40))):
        clock += draw(st.integers(min_value=0, max_value=2 * S))
        kind = draw(
            st.sampled_from(
                ["set", "dir", "create", "update", "cas", "post", "del", "cad", "sync", "refresh"]
            )
        )
        path, value, ttl = draw(paths), draw(values), draw(ttls)
        rid = f"r{i}"
        if kind == "sync":
            out.append(V2Request.sync(clock, rid))
            continue
        w = {
            "set": Write("PUT", path, value, ttl=ttl),
            "dir": Write("PUT", path, dir=True, ttl=ttl),
            "create": Write("PUT", path, value, prev_exist=False, ttl=ttl),
            "update": Write("PUT", path, value, prev_exist=True, ttl=ttl),
            "cas": Write(
                "PUT",
                path,
                value,
                prev_value=draw(values),
                prev_index=draw(st.integers(0, 6)),
                ttl=ttl,
            ),
            "post": Write("POST", path, value, ttl=ttl),
            "del": Write("DELETE", path, dir=draw(st.booleans()), recursive=draw(st.booleans())),
            "cad": Write(
                "DELETE", path, prev_value=draw(values), prev_index=draw(st.integers(0, 6))
            ),
            "refresh": Write(
                "PUT",
                path,
                ttl=ttl if ttl is not None else 3,
                refresh=True,
                prev_exist=draw(st.sampled_from([None, True])),
            ),
        }[kind]
        out.append(w.stamped(rid, clock))
    return out


def reads(store: KeyStore, now: int):
    return [store.get(p, True, True, now) for p in ["/", "/a", "/a/_h", "/d", "/q"]], store.index


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(requests())
def test_same_log_same_results_on_two_members(log):
    a, b = KeyStore(), KeyStore()
    for i, req in enumerate(log, 1):
        assert a.apply(req, i) == b.apply(req, i)
    assert a.snapshot() == b.snapshot()


@FAST
@given(requests(), st.data())
def test_snapshot_restore_gives_the_same_reads_and_future(log, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(log)))
    original = KeyStore()
    for i, req in enumerate(log[:cut], 1):
        original.apply(req, i)
    snap = original.snapshot()
    copy = KeyStore()
    copy.restore(snap)
    assert copy.snapshot() == snap
    now = T0 + 30 * S
    assert reads(copy, now) == reads(original, now)
    assert copy.next_expiry_ns() == original.next_expiry_ns()
    assert copy.stats() == original.stats()
    for i, req in enumerate(log[cut:], cut + 1):
        assert copy.apply(req, i) == original.apply(req, i)
    assert copy.snapshot() == original.snapshot()


@FAST
@given(requests())
def test_every_change_is_one_event_and_one_index(log):
    store = KeyStore()
    changes = 0
    for i, req in enumerate(log, 1):
        before = store.index
        res = store.apply(req, i)
        produced = list(res.expired) + ([res.event] if isinstance(res.event, Event) else [])
        changes += len(produced)
        assert store.index == before + len(produced)
        assert [e.index for e in produced] == list(range(before + 1, store.index + 1))
        if res.error is not None:
            assert res.error.index == before and store.index == before
    assert store.index == changes
    history = store.history.events()
    assert [e.index for e in history] == list(
        range(store.index - len(history) + 1, store.index + 1)
    )


@FAST
@given(requests())
def test_sync_far_in_the_future_leaves_no_ttl_key(log):
    store = KeyStore()
    for i, req in enumerate(log, 1):
        store.apply(req, i)
    store.apply(V2Request.sync(T0 + 10**6 * S), len(log) + 1)
    assert not store.has_expiring_keys()
    for node in store.tree.root.walk():
        assert node.is_permanent
