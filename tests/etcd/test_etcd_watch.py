"""Watches: from the history, pending until a change, cleared (401), hidden keys, streams."""

from __future__ import annotations

from actors.etcd.commands import V2Request
from actors.etcd.errors import EVENT_INDEX_CLEARED, EtcdError
from actors.etcd.store import KeyStore
from actors.etcd.v2api import Write
from actors.etcd.watch import Watcher, ancestors, is_hidden

NOW = 1_700_000_000 * 10**9


class W:
    def __init__(self, capacity: int = 1000) -> None:
        self.store = KeyStore(history_capacity=capacity)
        self.raft = 0

    def write(self, method: str, path: str, value: str = "", **kw):
        self.raft += 1
        return self.store.apply(Write(method, path, value, **kw).stamped("r", NOW), self.raft)


def test_ancestors_and_hidden_paths():
    assert ancestors("/a/b/c") == ["/", "/a", "/a/b", "/a/b/c"]
    assert ancestors("/") == ["/"]
    assert is_hidden("/", "/_x") and is_hidden("/a", "/a/_b/c") and is_hidden("/a", "/a/b/_c")
    assert not is_hidden("/a/_b", "/a/_b") and not is_hidden("/a", "/a/b")
    assert not is_hidden("/a/b/c", "/a")  # a deeper watcher told of a removed parent


def test_watch_from_history_returns_the_first_matching_event_at_once():
    w = W()
    w.write("PUT", "/t", "1")
    w.write("PUT", "/other", "x")
    w.write("PUT", "/t", "2")
    watcher = w.store.watch("/t", since_index=2)
    assert isinstance(watcher, Watcher) and watcher.done
    assert [e.node.value for e in watcher.events] == ["2"]
    assert watcher.start_index == 3 and w.store.hub.count == 0
    assert w.store.watch("/t", since_index=1).events[0].node.value == "1"


def test_pending_watch_is_told_by_apply_once():
    w = W()
    watcher = w.store.watch("/t", sink="client-1")
    assert watcher.events == () and not watcher.done and w.store.stats()["watchers"] == 1
    assert w.write("PUT", "/t/../other", "x").notifications == ()
    res = w.write("PUT", "/t", "1")
    assert [(n.sink, n.event.node.value) for n in res.notifications] == [("client-1", "1")]
    assert watcher.done and w.store.hub.count == 0
    assert w.write("PUT", "/t", "2").notifications == ()


def test_without_sink_the_notification_names_the_watcher():
    w = W()
    watcher = w.store.watch("/t")
    (note,) = w.write("PUT", "/t", "1").notifications
    assert note.sink is watcher


def test_recursive_watch_sees_children_but_not_hidden_ones():
    w = W()
    w.store.watch("/d", recursive=True, stream=True, sink="rec")
    flat = w.store.watch("/d", sink="flat")
    assert w.write("PUT", "/d/_hidden", "h").notifications == ()
    assert w.write("PUT", "/d/x/_deep", "h").notifications == ()
    res = w.write("PUT", "/d/x/y", "1")
    assert [n.sink for n in res.notifications] == ["rec"]
    direct = w.store.watch("/d/_hidden", sink="direct")
    res = w.write("PUT", "/d/_hidden", "h2")
    assert [n.sink for n in res.notifications] == ["direct"]
    assert not flat.done and direct.done


def test_root_recursive_watch_gets_every_visible_change():
    w = W()
    w.store.watch("/", recursive=True, stream=True, sink="all")
    assert [n.sink for n in w.write("PUT", "/a/b", "1").notifications] == ["all"]
    assert w.write("PUT", "/_hidden", "1").notifications == ()


def test_deleting_a_directory_tells_watchers_below_it():
    w = W()
    w.write("PUT", "/d/e/f", "1")
    w.write("PUT", "/d/_h", "1")
    w.store.watch("/d/e/f", sink="deep")
    w.store.watch("/d/_h", sink="hidden")
    missing = w.store.watch("/d/never", sink="missing")
    res = w.write("DELETE", "/d", recursive=True)
    sinks = sorted(n.sink for n in res.notifications)
    assert sinks == ["deep", "hidden"]
    assert all(n.event.action == "delete" and n.event.node.key == "/d" for n in res.notifications)
    assert not missing.done  # nothing existed there
    # the history answers a later watch below the removed directory with the same event
    later = w.store.watch("/d/e/f", since_index=res.etcd_index)
    assert later.events[0].node.key == "/d"
    # ...but not a watch on a sibling that merely shares the prefix
    assert w.store.watch("/dx", since_index=res.etcd_index).events == ()


def test_stream_watcher_is_told_once_per_event_and_stays():
    w = W()
    w.write("PUT", "/sd", "1")
    watcher = w.store.watch("/sd", stream=True, sink="s")
    res = w.write("DELETE", "/sd")
    assert len(res.notifications) == 1  # etcd would send this one twice
    assert len(w.write("PUT", "/sd", "2").notifications) == 1 and not watcher.done


def test_stream_watch_gets_all_history_then_live_events():
    w = W()
    w.write("PUT", "/k", "1")
    w.write("PUT", "/k", "2")
    watcher = w.store.watch("/k", stream=True, since_index=1, sink="s")
    assert [e.node.value for e in watcher.events] == ["1", "2"]
    assert watcher.since_index == 3 and not watcher.done
    (note,) = w.write("PUT", "/k", "3").notifications
    assert note.event.node.value == "3"


def test_future_wait_index_waits_for_that_index():
    w = W()
    watcher = w.store.watch("/k", since_index=3, sink="s")
    assert w.write("PUT", "/k", "1").notifications == ()
    w.write("PUT", "/x", "1")
    (note,) = w.write("PUT", "/k", "3").notifications
    assert note.event.index == 3 and watcher.done


def test_cleared_history_is_401_with_etcds_cause():
    w = W(capacity=5)
    for i in range(8):
        w.write("PUT", "/bulk", str(i))
    err = w.store.watch("/bulk", since_index=2)
    assert isinstance(err, EtcdError)
    assert (err.code, err.status, err.index) == (EVENT_INDEX_CLEARED, 400, 8)
    assert err.cause == "the requested history has been cleared [4/2]"
    assert w.store.watch("/bulk", since_index=4).events[0].node.value == "3"


def test_cancel_and_prune_watchers():
    w = W()
    gone = {"flag": False}
    a = w.store.watch("/a", sink="a", cancelled=lambda: gone["flag"])
    b = w.store.watch("/b", sink="b")
    assert w.store.prune_watchers() == 0
    gone["flag"] = True
    assert w.store.prune_watchers() == 1 and a.done
    assert w.store.cancel_watch(b.id) and not w.store.cancel_watch(b.id)
    assert not w.store.cancel_watch(999)
    assert w.write("PUT", "/a", "1").notifications == () == w.write("PUT", "/b", "1").notifications
    assert w.store.stats()["watchers"] == 0


def test_expire_events_reach_watchers():
    w = W()
    w.write("PUT", "/ex/k", "v", ttl=1)
    watcher = w.store.watch("/ex", recursive=True, sink="x")
    res = w.store.apply(V2Request.sync(NOW + 2 * 10**9), 99)
    (note,) = res.notifications
    assert note.event.action == "expire" and note.sink == "x" and watcher.done


def test_watchers_survive_a_restore():
    w = W()
    w.write("PUT", "/a", "1")
    snap = w.store.snapshot()
    watcher = w.store.watch("/a", sink="s")
    w.store.restore(snap)
    (note,) = w.write("PUT", "/a", "2").notifications
    assert note.sink == "s" and watcher.done
