"""The discovery registry and a member's decision, with no I/O (emulator.discovery_registry)."""

from __future__ import annotations

import json
import random
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.etcd.v2api import Response
from emulator.discovery_registry import (
    AutoDiscovery,
    BootstrapRole,
    DiscoveryError,
    DiscoveryRegistry,
    DiscoveryRequest,
    LiteralDiscovery,
    PendingWatch,
    decide,
    parse_discovery,
    parse_registration,
    registration_value,
)

TOKEN = "tok123"
FORM = "application/x-www-form-urlencoded"


def req(method, path, query=None, form=None):
    body = urlencode(form).encode() if form is not None else b""
    return DiscoveryRequest(
        method, path, urlencode(query or {}), body, FORM if form is not None else None,
        base_url="http://127.0.0.1:9",
    )  # fmt: skip


def body(reply: Response):
    """The JSON answer, or the text of a plain one."""
    if reply.headers["Content-Type"] == "application/json":
        return json.loads(reply.body)
    return reply.body.decode()


def etcd_index(reply: Response) -> int:
    return int(reply.headers["X-Etcd-Index"])


def register(reg, member_id, name):
    value = registration_value(name, [f"http://127.0.0.1:{2380 + len(member_id)}"])
    return reg.handle(req("PUT", f"/{TOKEN}/{member_id}", {"prevExist": "false"}, {"value": value}))


def watch(reg, path, **query):
    return reg.handle(req("GET", path, {"wait": "true", **query}))


@pytest.fixture
def reg():
    r = DiscoveryRegistry()
    r.create_token(TOKEN, 3)
    return r


def test_new_mints_a_token_with_the_asked_size_and_answers_its_url():
    r = DiscoveryRegistry()
    reply = r.handle(req("GET", "/new", {"size": "5"}), random.Random(1))
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    base, token = body(reply).rsplit("/", 1)
    assert base == "http://127.0.0.1:9" and len(token) == 32
    assert r.size(token) == 5
    size = body(r.handle(req("GET", f"/{token}/_config/size")))
    assert size["node"]["value"] == "5" and size["node"]["key"].endswith("/_config/size")
    assert r.handle(req("GET", "/new", {"size": "0"})).status == 400
    assert r.handle(req("GET", "/new", {"size": "x"})).status == 400
    assert r.size(body(r.handle(req("GET", "/new"), random.Random(2))).rsplit("/", 1)[1]) == 3


def test_register_creates_once_and_a_second_create_is_refused_as_etcd_does(reg):
    first = register(reg, "a1", "core-01")
    assert first.status == 201 and body(first)["action"] == "create"
    assert body(first)["node"]["key"] == f"/_etcd/registry/{TOKEN}/a1"
    assert etcd_index(first) == body(first)["node"]["createdIndex"]
    again = register(reg, "a1", "core-01")
    assert again.status == 412 and body(again)["errorCode"] == 105
    assert body(again)["cause"] == f"/_etcd/registry/{TOKEN}/a1"


def test_answers_are_etcds_bytes_and_headers():
    """What a real etcd 3.4 (--enable-v2) sends for the same requests, byte for byte."""
    r = DiscoveryRegistry()
    r.create_token("tok", 3)
    created = r.handle(req("PUT", "/tok/a1", {"prevExist": "false"}, {"value": "n=http://x"}))
    assert created.body == (
        b'{"action":"create","node":{"key":"/_etcd/registry/tok/a1","value":"n=http://x",'
        b'"modifiedIndex":2,"createdIndex":2}}\n'
    )
    assert created.headers["X-Etcd-Index"] == "2" and "X-Raft-Term" in created.headers
    taken = r.handle(req("PUT", "/tok/a1", {"prevExist": "false"}, {"value": "n=http://x"}))
    assert (taken.status, taken.body) == (
        412,
        b'{"errorCode":105,"message":"Key already exists","cause":"/_etcd/registry/tok/a1",'
        b'"index":2}\n',
    )
    assert taken.headers == {"Content-Type": "application/json", "X-Etcd-Index": "2"}
    missing = r.handle(req("GET", "/nosuch/_config/size"))
    assert (missing.status, missing.body) == (
        404,
        b'{"errorCode":100,"message":"Key not found","cause":"/_etcd/registry/nosuch","index":2}\n',
    )


def test_the_token_dir_lists_registrations_in_created_order_and_hides_config(reg):
    register(reg, "bb", "core-02")
    register(reg, "aa", "core-01")
    reply = body(reg.handle(req("GET", f"/{TOKEN}")))
    nodes = reply["node"]["nodes"]
    # etcd hides "_" names from listings: discovery.etcd.io's own test expects no nodes in a
    # fresh token, and etcd's discovery client counts the listing as the registrations
    assert [n["key"].rsplit("/", 1)[1] for n in nodes] == ["bb", "aa"]
    assert [i for i, _, _ in reg.registrations(TOKEN)] == ["bb", "aa"]
    deep = body(reg.handle(req("GET", f"/{TOKEN}", {"recursive": "true"})))
    assert [n["key"] for n in deep["node"]["nodes"]] == [n["key"] for n in nodes]
    assert body(reg.handle(req("GET", f"/{TOKEN}/_config")))["node"]["nodes"][0]["value"] == "3"


def test_unknown_tokens_and_keys_are_key_not_found(reg):
    missing = reg.handle(req("GET", "/nosuch/_config/size"))
    assert missing.status == 404 and body(missing)["errorCode"] == 100
    assert body(missing)["cause"] == "/_etcd/registry/nosuch"  # the first missing part, as etcd
    assert reg.handle(req("GET", f"/{TOKEN}/zz")).status == 404
    assert reg.handle(req("GET", "/")).status == 404
    assert reg.handle(req("GET", "/../etc")).status == 404
    assert reg.handle(req("GET", f"/{TOKEN}/../other")).status == 404  # no way out of a token


def test_the_self_hosted_path_form_reaches_the_same_registry(reg):
    register(reg, "a1", "core-01")
    reply = reg.handle(req("GET", f"/v2/keys/_etcd/registry/{TOKEN}/a1"))
    assert reply.status == 200 and body(reply)["node"]["value"].startswith("core-01=")


def test_puts_on_a_dir_and_posts_are_refused_and_a_put_without_value_sets_empty(reg):
    assert (
        body(reg.handle(req("PUT", f"/{TOKEN}/_config", form={"value": "1"})))["errorCode"] == 102
    )
    assert reg.handle(req("POST", f"/{TOKEN}/x")).status == 405
    # etcd takes a PUT with no value as value "" (the old registry's 200 error was not etcd's)
    empty = reg.handle(req("PUT", f"/{TOKEN}/x"))
    assert empty.status == 201 and body(empty)["node"]["value"] == ""


def test_a_malformed_request_gets_etcds_form_error(reg):
    bad = reg.handle(DiscoveryRequest("GET", f"/{TOKEN}", "waitIndex=x&wait=true"))
    assert bad.status == 400 and body(bad)["errorCode"] == 203
    escape = reg.handle(DiscoveryRequest("GET", f"/{TOKEN}", "recursive=%zz"))
    assert body(escape)["errorCode"] == 210 and escape.headers["X-Etcd-Index"] == "0"


def test_a_watch_waits_until_a_registration_at_or_after_its_index(reg):
    start = reg.index
    pending = watch(reg, f"/{TOKEN}", recursive="true", waitIndex=str(start + 1))
    assert isinstance(pending, PendingWatch)
    assert pending.reply is None
    register(reg, "a1", "core-01")
    answer = pending.reply
    assert isinstance(answer, Response) and body(answer)["action"] == "create"
    assert body(answer)["node"]["key"].endswith("/a1")
    assert etcd_index(answer) == start  # a watch's X-Etcd-Index is the index it began at
    # an index already passed answers at once; a non-recursive watch ignores children
    past = watch(reg, f"/{TOKEN}/a1", waitIndex=str(start))
    assert isinstance(past, Response) and body(past)["node"]["key"].endswith("/a1")
    flat = watch(reg, f"/{TOKEN}", waitIndex="1")
    assert isinstance(flat, PendingWatch)


def test_wait_index_is_served_from_etcds_history_and_an_outdated_one_is_401():
    r = DiscoveryRegistry()
    r.create_token(TOKEN, 3)  # index 1
    for i in range(1100):  # more than the 1000 events etcd keeps
        r.handle(req("PUT", f"/{TOKEN}/churn", form={"value": str(i)}))
    kept = watch(r, f"/{TOKEN}/churn", waitIndex=str(r.index - 5))
    assert body(kept)["node"]["value"] == str(1100 - 6)
    cleared = watch(r, f"/{TOKEN}", recursive="true", waitIndex="2")
    assert cleared.status == 400 and body(cleared)["errorCode"] == 401
    assert body(cleared)["cause"] == f"the requested history has been cleared [{r.index - 999}/2]"


def test_delete_removes_a_registration_and_wakes_watchers(reg):
    register(reg, "a1", "core-01")
    pending = watch(reg, f"/{TOKEN}", recursive="true")
    reply = reg.handle(req("DELETE", f"/{TOKEN}/a1"))
    assert reply.status == 200 and body(reply)["prevNode"]["value"].startswith("core-01")
    assert body(pending.reply)["action"] == "delete"
    assert reg.registrations(TOKEN) == []


def test_a_cancelled_watch_is_not_woken_and_leaves_no_watcher(reg):
    pending = watch(reg, f"/{TOKEN}", recursive="true")
    assert reg.store.hub.count == 1
    reg.cancel(pending)
    register(reg, "a1", "core-01")
    assert pending.reply is None and reg.store.hub.count == 0


def test_a_key_with_a_ttl_expires_on_the_clock_the_requests_carry(reg):
    now = 2_000_000_000 * 10**9
    put = reg.handle(req("PUT", f"/{TOKEN}/tmp", form={"value": "x", "ttl": "5"}), now_ns=now)
    assert body(put)["node"]["ttl"] == 5
    pending = watch(reg, f"/{TOKEN}/tmp")
    assert reg.handle(req("GET", f"/{TOKEN}/tmp"), now_ns=now + 4 * 10**9).status == 200
    assert reg.handle(req("GET", f"/{TOKEN}/tmp"), now_ns=now + 6 * 10**9).status == 404
    assert body(pending.reply)["action"] == "expire"


def test_the_snapshot_shows_each_token_with_its_registrations(reg):
    register(reg, "a1", "core-01")
    snap = reg.snapshot()
    assert snap["tokens"][TOKEN]["size"] == 3
    assert [r["id"] for r in snap["tokens"][TOKEN]["registrations"]] == ["a1"]


def test_tokens_that_etcd_would_hide_or_that_climb_out_are_refused():
    r = DiscoveryRegistry()
    for bad in ("_hidden", ".", "..", "a/b", ""):
        with pytest.raises(DiscoveryError, match="not a usable discovery token"):
            r.create_token(bad, 3)


# --- the member's decision --------------------------------------------------------------------
def regs(*names):
    return [(f"id-{n}", f"{n}=http://{n}:2380", i + 1) for i, n in enumerate(names)]


def test_a_member_waits_until_size_members_registered():
    assert decide(regs("a", "b"), 3, "id-a") is None
    done = decide(regs("a", "b", "c"), 3, "id-a", "http://d/t")
    assert done.role is BootstrapRole.MEMBER
    assert [p.name for p in done.members] == ["a", "b", "c"]
    assert done.members[0].peer_urls == ("http://a:2380",)


def test_late_registrations_and_nodes_finding_the_cluster_full_become_proxies():
    assert decide(regs("a", "b", "c", "d"), 3, "id-d").role is BootstrapRole.PROXY
    assert decide(regs("a", "b", "c"), 3, "id-x").role is BootstrapRole.PROXY  # never registered
    assert decide(regs("a", "b", "c"), 3, None).role is BootstrapRole.PROXY  # a configured proxy
    assert decide(regs("a"), 3, None) is None


def test_a_duplicate_name_among_the_members_is_an_error():
    dup = [("1", "a=http://x:1", 1), ("2", "a=http://y:1", 2)]
    with pytest.raises(DiscoveryError, match="registered twice"):
        decide(dup, 2, "1")


def test_registration_values_round_trip_and_bad_ones_say_why():
    value = registration_value("core-01", ["http://a:2380", "http://b:2380"])
    assert value == "core-01=http://a:2380,core-01=http://b:2380"
    assert parse_registration("id", value).peer_urls == ("http://a:2380", "http://b:2380")
    with pytest.raises(DiscoveryError, match="not name=peer-url"):
        parse_registration("id", "just-a-name")
    with pytest.raises(DiscoveryError, match="several members"):
        parse_registration("id", "a=http://x:1,b=http://y:1")


@settings(max_examples=200, deadline=None)
@given(order=st.permutations(["a", "b", "c", "d", "e"]), size=st.integers(1, 5), data=st.data())
def test_every_node_agrees_on_the_same_first_size_members(order, size, data):
    """Whatever order nodes register in, and whatever prefix each one saw, every node that
    decides picks the same members: the first ``size`` to register, and itself among them iff
    it is one of those."""
    reg = DiscoveryRegistry()
    reg.create_token(TOKEN, size)
    for name in order:
        register(reg, f"id-{name}", name)
    full = reg.registrations(TOKEN)
    winners = [f"id-{n}" for n in order[:size]]
    for name in order:
        seen = data.draw(st.integers(0, len(full)))
        outcome = decide(full[:seen], size, f"id-{name}")
        if seen < size:
            assert outcome is None
            continue
        assert [p.member_id for p in outcome.members] == winners
        expected = BootstrapRole.MEMBER if f"id-{name}" in winners else BootstrapRole.PROXY
        assert outcome.role is expected


# --- what the config may say ------------------------------------------------------------------
def test_parse_discovery_reads_auto_sizes_and_literal_urls():
    assert parse_discovery("auto") == AutoDiscovery(None)
    assert parse_discovery(" auto?size=5 ") == AutoDiscovery(5)
    lit = parse_discovery("http://127.0.0.1:4001/abc")
    assert lit == LiteralDiscovery("http://127.0.0.1:4001/abc", "127.0.0.1", 4001, "abc")
    assert lit.loopback
    hosted = parse_discovery("https://discovery.etcd.io/3e86b59982e49066c5d813af1c2e2579cbf573de")
    assert not hosted.loopback and hosted.port == 443
    assert hosted.public and hosted.size is None and not lit.public
    sized = parse_discovery("https://discovery.etcd.io/tok?size=5")
    assert sized.public and sized.token == "tok" and sized.size == 5
    self_hosted = parse_discovery("http://127.0.0.2:2379/v2/keys/_etcd/registry/tok")
    assert self_hosted.token == "tok"


@pytest.mark.parametrize(
    "text, says",
    [
        ("auto?size=0", "auto?size=N"),
        ("auto?count=3", "auto?size=N"),
        ("discovery.etcd.io/abc", "neither 'auto' nor a URL"),
        ("http://127.0.0.1:4001/", "does not end in a token"),
        ("http://127.0.0.1:99999/abc", "Port out of range"),
        ("https://discovery.etcd.io/<token>", "placeholder <token>: put a token there"),
        ("https://discovery.etcd.io/abc?size=0", "size must be a number from 1"),
    ],
)
def test_bad_discovery_values_say_what_to_write(text, says):
    with pytest.raises(DiscoveryError, match=says.replace("?", r"\?")):
        parse_discovery(text)
