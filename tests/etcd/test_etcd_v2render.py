"""Rendered answers, byte for byte against bodies real etcd 3.4 sent (captured with curl)."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.etcd.errors import EtcdError
from actors.etcd.event import Event, NodeView
from actors.etcd.gojson import dumps, dumps_bytes
from actors.etcd.store import KeyStore
from actors.etcd.v2api import (
    render_error,
    render_event,
    render_method_not_allowed,
    render_store_stats,
    render_watch_event,
    watch_headers,
    watch_line,
)
from actors.etcd.v2json import event_dict, event_json_bytes, format_expiration


def ns(text: str) -> int:
    whole, frac = text.rstrip("Z").split(".")
    secs = int(datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp())
    return secs * 10**9 + int(frac.ljust(9, "0"))


def file(key, value, m, c, expiration=None, ttl=0) -> NodeView:
    return NodeView(key, value, False, expiration, ttl, None, m, c)


def test_expiration_is_rfc3339_nano_with_trailing_zeros_dropped():
    for text in [
        "2026-11-25T20:53:49.646000315Z",
        "2026-11-25T21:02:50.20845334Z",
        "2026-11-25T21:06:04.9Z",
    ]:
        assert format_expiration(ns(text)) == text
    assert format_expiration(1_700_000_000 * 10**9) == "2023-11-14T22:13:20Z"
    assert format_expiration(-1) == "1969-12-31T23:59:59.999999999Z"


def test_set_created_is_201_with_raft_headers():
    ev = Event("set", file("/a", "1", 4, 4), None, False)
    resp = render_event(ev, etcd_index=4, raft_index=5, raft_term=2)
    assert resp.status == 201
    assert (
        resp.body
        == b'{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}\n'
    )
    assert resp.headers == {
        "Content-Type": "application/json",
        "X-Etcd-Index": "4",
        "X-Raft-Index": "5",
        "X-Raft-Term": "2",
    }


def test_set_over_a_key_is_200_with_prev_node():
    ev = Event("set", file("/a", "2", 5, 5), file("/a", "1", 4, 4), False)
    resp = render_event(ev, etcd_index=5, raft_index=6, raft_term=2)
    assert resp.status == 200
    assert resp.body == (
        b'{"action":"set","node":{"key":"/a","value":"2","modifiedIndex":5,"createdIndex":5},'
        b'"prevNode":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}\n'
    )


def test_create_is_201_and_no_value_on_success_empties_writes_only():
    ev = Event("create", file("/q/00000000000000000015", "j1", 15, 15), None, False)
    assert render_event(ev, etcd_index=15, raft_index=1, raft_term=1).status == 201
    set_ev = Event("set", file("/t", "1", 24, 24), file("/t", "0", 23, 23), False)
    resp = render_event(set_ev, etcd_index=24, raft_index=42, raft_term=2, no_value_on_success=True)
    assert resp.body == b'{"action":"set"}\n'
    delete = Event(
        "delete", NodeView("/t", None, False, None, 0, None, 25, 24), file("/t", "1", 24, 24), False
    )
    body = render_event(
        delete, etcd_index=25, raft_index=1, raft_term=1, no_value_on_success=True
    ).body
    assert b'"prevNode"' in body


def test_listings_match_etcd():
    store = KeyStore()
    store.index = 3  # a fresh etcd 3.4 starts its v2 store at 3 (membership entries)
    root = store.get("/", now_ns=0)
    assert render_event(root, etcd_index=3, raft_index=4, raft_term=2).body == (
        b'{"action":"get","node":{"dir":true}}\n'
    )
    nested = Event(
        "get",
        NodeView(
            "/d",
            None,
            True,
            None,
            0,
            (NodeView("/d/e", None, True, None, 0, (file("/d/e/f", "4", 8, 8),), 8, 8),),
            8,
            8,
        ),
        None,
        False,
    )
    assert render_event(nested, etcd_index=8, raft_index=16, raft_term=2).body == (
        b'{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/e","dir":true,'
        b'"nodes":[{"key":"/d/e/f","value":"4","modifiedIndex":8,"createdIndex":8}],'
        b'"modifiedIndex":8,"createdIndex":8}],"modifiedIndex":8,"createdIndex":8}}\n'
    )


def test_ttl_and_expire_events_match_etcd():
    exp = ns("2026-11-25T21:02:50.195617874Z")
    ev = Event("set", file("/ex/k", "v", 32, 32, exp, 1), None, False)
    assert render_event(ev, etcd_index=32, raft_index=53, raft_term=2).body == (
        b'{"action":"set","node":{"key":"/ex/k","value":"v","expiration":'
        b'"2026-11-25T21:02:50.195617874Z","ttl":1,"modifiedIndex":32,"createdIndex":32}}\n'
    )
    expire = Event(
        "expire",
        NodeView("/ex/k", None, False, None, 0, None, 35, 32),
        file("/ex/k", "v", 32, 32, exp, 0),
        False,
    )
    assert watch_line(expire) == (
        b'{"action":"expire","node":{"key":"/ex/k","modifiedIndex":35,"createdIndex":32},'
        b'"prevNode":{"key":"/ex/k","value":"v","expiration":"2026-11-25T21:02:50.195617874Z",'
        b'"modifiedIndex":32,"createdIndex":32}}\n'
    )


def test_refresh_flag_never_shows():
    ev = Event("set", file("/t", "v", 22, 22), None, True)
    assert b"refresh" not in render_event(ev, etcd_index=22, raft_index=1, raft_term=1).body


def test_errors_match_etcd():
    resp = render_error(EtcdError(105, "/a", 5))
    assert (resp.status, resp.headers) == (
        412,
        {"Content-Type": "application/json", "X-Etcd-Index": "5"},
    )
    assert resp.body == b'{"errorCode":105,"message":"Key already exists","cause":"/a","index":5}\n'
    assert render_error(EtcdError(102, "", 1058)).body == (
        b'{"errorCode":102,"message":"Not a file","index":1058}\n'
    )
    cleared = EtcdError(401, "the requested history has been cleared [42/5]", 1041)
    assert render_error(cleared).body == (
        b'{"errorCode":401,"message":"The event in requested index is outdated and cleared",'
        b'"cause":"the requested history has been cleared [42/5]","index":1041}\n'
    )
    assert render_error(EtcdError(202, 'invalid value for "ttl"', 0)).body == (
        b'{"errorCode":202,"message":"The given TTL in POST form is not a number",'
        b'"cause":"invalid value for \\"ttl\\"","index":0}\n'
    )
    assert render_error(EtcdError(100, "/x", 7), etcd_index=9).headers["X-Etcd-Index"] == "9"
    assert render_error(EtcdError.timeout(3)).status == 500
    assert render_error(EtcdError.leader_election(3)).status == 500


def test_watch_answers_are_200_even_for_a_create():
    ev = Event("create", file("/q/1", "j", 9, 9), None, False)
    resp = render_watch_event(ev, start_index=7, raft_index=20, raft_term=3)
    assert resp.status == 200 and resp.headers["X-Etcd-Index"] == "7"
    assert resp.body == watch_line(ev)
    assert watch_headers(7, 20, 3)["X-Raft-Term"] == "3"


def test_store_stats_and_405():
    stats = KeyStore().stats()
    body = render_store_stats(stats).body
    assert body.startswith(b'{"getsSuccess":0,"getsFail":0,"setsSuccess":0,"setsFail":0,')
    assert body.endswith(b'"expireCount":0,"watchers":0}')
    resp = render_method_not_allowed()
    assert (resp.status, resp.headers["Allow"], resp.body) == (
        405,
        "HEAD,GET,PUT,POST,DELETE",
        b"Method Not Allowed\n",
    )


def test_json_escapes_are_gos():
    assert dumps({"value": "héllo\x00x"}) == '{"value":"héllo\\u0000x"}'
    assert dumps({"v": "<a&b>"}) == '{"v":"\\u003ca\\u0026b\\u003e"}'
    assert dumps({"v": '\b\f\n\r\t"\\b'}) == '{"v":"\\u0008\\u000c\\n\\r\\t\\"\\\\b"}'
    assert dumps({"v": "\u2028\u2029"}) == '{"v":"\\u2028\\u2029"}'
    assert dumps_bytes({"v": "x\udc80"}) == b'{"v":"x\\ufffd"}'


def _node_as_dict(view: NodeView) -> dict:
    """The oracle: etcd's NodeExtern with its omitempty tags, as a dict in Go's field order."""
    fields = [
        ("key", view.key if view.key != "/" else None),
        ("value", view.value),
        ("dir", view.dir or None),
        ("expiration", format_expiration(view.expiration) if view.expiration is not None else None),
        ("ttl", view.ttl or None),
        ("nodes", [_node_as_dict(c) for c in view.nodes] if view.nodes else None),
        ("modifiedIndex", view.modified_index or None),
        ("createdIndex", view.created_index or None),
    ]
    return {name: value for name, value in fields if value is not None}


_texts = st.text(
    alphabet=st.sampled_from(list('az09/_-. "\\<>&\x00\x1f\x7f\b\féü\u2028\u2029\U0001f600\udc80')),
    max_size=12,
)
_views = st.recursive(
    st.builds(
        NodeView,
        _texts,
        st.one_of(st.none(), _texts),
        st.booleans(),
        st.one_of(st.none(), st.integers(-(10**18), 10**19)),
        st.integers(-5, 10**6),
        st.none(),
        st.integers(0, 10**9),
        st.integers(0, 10**9),
    ),
    lambda kids: st.builds(
        NodeView,
        _texts,
        st.none(),
        st.just(True),
        st.none(),
        st.just(0),
        st.lists(kids, max_size=3).map(tuple),
        st.integers(0, 9),
        st.integers(0, 9),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["set", "get", "delete", "expire", "compareAndSwap"]),
    _views | st.builds(lambda v: v, st.just(file("/", None, 0, 0))),
    st.one_of(st.none(), _views),
    st.booleans(),
)
def test_direct_json_writer_matches_the_dict_through_gos_encoder(action, node, prev, no_value):
    ev = Event(action, node, prev, False)
    want: dict = {"action": action}
    if not no_value:
        want["node"] = _node_as_dict(node)
        if prev is not None:
            want["prevNode"] = _node_as_dict(prev)
    assert event_json_bytes(ev, no_value) == dumps_bytes(want)
    assert event_dict(ev, no_value) == want
