"""The discovery registry and a member's decision, with no I/O (emulator.discovery_registry)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.discovery_registry import (
    AutoDiscovery,
    BootstrapRole,
    DiscoveryError,
    DiscoveryRegistry,
    DiscoveryReply,
    DiscoveryRequest,
    LiteralDiscovery,
    PendingWait,
    decide,
    parse_discovery,
    parse_registration,
    registration_value,
)

TOKEN = "tok123"


def req(method, path, query=None, form=None):
    return DiscoveryRequest(method, path, query or {}, form or {}, base_url="http://127.0.0.1:9")


def register(reg, member_id, name):
    value = registration_value(name, [f"http://127.0.0.1:{2380 + len(member_id)}"])
    return reg.handle(req("PUT", f"/{TOKEN}/{member_id}", {"prevExist": "false"}, {"value": value}))


@pytest.fixture
def reg():
    r = DiscoveryRegistry()
    r.create_token(TOKEN, 3)
    return r


def test_new_mints_a_token_with_the_asked_size_and_answers_its_url():
    r = DiscoveryRegistry()
    reply = r.handle(req("GET", "/new", {"size": "5"}), random.Random(1))
    assert reply.status == 200 and not reply.is_json
    base, token = reply.body.rsplit("/", 1)
    assert base == "http://127.0.0.1:9" and len(token) == 32
    assert r.size(token) == 5
    size = r.handle(req("GET", f"/{token}/_config/size"))
    assert size.body["node"]["value"] == "5" and size.body["node"]["key"].endswith("/_config/size")
    assert r.handle(req("GET", "/new", {"size": "0"})).status == 400
    assert r.handle(req("GET", "/new", {"size": "x"})).status == 400
    assert r.size(r.handle(req("GET", "/new"), random.Random(2)).body.rsplit("/", 1)[1]) == 3


def test_register_creates_once_and_a_second_create_is_refused_as_etcd_does(reg):
    first = register(reg, "a1", "core-01")
    assert first.status == 201 and first.body["action"] == "create"
    assert first.body["node"]["key"] == f"/_etcd/registry/{TOKEN}/a1"
    assert first.etcd_index == first.body["node"]["createdIndex"]
    again = register(reg, "a1", "core-01")
    assert again.status == 412 and again.body["errorCode"] == 105
    assert again.body["cause"] == f"/_etcd/registry/{TOKEN}/a1"


def test_the_token_dir_lists_size_config_and_registrations_in_created_order(reg):
    register(reg, "bb", "core-02")
    register(reg, "aa", "core-01")
    reply = reg.handle(req("GET", f"/{TOKEN}"))
    nodes = reply.body["node"]["nodes"]
    assert nodes[0]["key"].endswith("/_config") and nodes[0]["dir"] is True
    assert "nodes" not in nodes[0]  # not recursive: a child dir is listed without its children
    assert [n["key"].rsplit("/", 1)[1] for n in nodes[1:]] == ["bb", "aa"]
    assert [i for i, _, _ in reg.registrations(TOKEN)] == ["bb", "aa"]
    deep = reg.handle(req("GET", f"/{TOKEN}", {"recursive": "true"}))
    assert deep.body["node"]["nodes"][0]["nodes"][0]["value"] == "3"


def test_unknown_tokens_and_keys_are_key_not_found(reg):
    missing = reg.handle(req("GET", "/nosuch/_config/size"))
    assert missing.status == 404 and missing.body["errorCode"] == 100
    assert reg.handle(req("GET", f"/{TOKEN}/zz")).status == 404
    assert reg.handle(req("GET", "/")).status == 404
    assert reg.handle(req("GET", "/../etc")).status == 404


def test_the_self_hosted_path_form_reaches_the_same_registry(reg):
    register(reg, "a1", "core-01")
    reply = reg.handle(req("GET", f"/v2/keys/_etcd/registry/{TOKEN}/a1"))
    assert reply.status == 200 and reply.body["node"]["value"].startswith("core-01=")


def test_a_put_without_value_and_a_put_on_a_dir_are_errors(reg):
    assert reg.handle(req("PUT", f"/{TOKEN}/x")).body["errorCode"] == 200
    assert reg.handle(req("PUT", f"/{TOKEN}/_config", form={"value": "1"})).body["errorCode"] == 102
    assert reg.handle(req("POST", f"/{TOKEN}/x")).status == 405


def test_a_watch_waits_until_a_registration_at_or_after_its_index(reg):
    start = reg.index
    pending = reg.handle(
        req("GET", f"/{TOKEN}", {"wait": "true", "recursive": "true", "waitIndex": str(start + 1)})
    )
    assert isinstance(pending, PendingWait)
    assert reg.poll(pending) is None
    register(reg, "a1", "core-01")
    answer = reg.poll(pending)
    assert isinstance(answer, DiscoveryReply) and answer.body["action"] == "create"
    assert answer.body["node"]["key"].endswith("/a1")
    # an index already passed answers at once; a non-recursive watch ignores children
    past = reg.handle(req("GET", f"/{TOKEN}/a1", {"wait": "true", "waitIndex": str(start)}))
    assert isinstance(past, DiscoveryReply) and past.body["node"]["key"].endswith("/a1")
    flat = reg.handle(req("GET", f"/{TOKEN}", {"wait": "true", "waitIndex": "1"}))
    assert isinstance(flat, PendingWait)


def test_delete_removes_a_registration_and_wakes_watchers(reg):
    register(reg, "a1", "core-01")
    pending = PendingWait(f"/_etcd/registry/{TOKEN}", True, reg.index + 1)
    reply = reg.handle(req("DELETE", f"/{TOKEN}/a1"))
    assert reply.status == 200 and reply.body["prevNode"]["value"].startswith("core-01")
    assert reg.poll(pending).body["action"] == "delete"
    assert reg.registrations(TOKEN) == []


def test_the_snapshot_shows_each_token_with_its_registrations(reg):
    register(reg, "a1", "core-01")
    snap = reg.snapshot()
    assert snap["tokens"][TOKEN]["size"] == 3
    assert [r["id"] for r in snap["tokens"][TOKEN]["registrations"]] == ["a1"]


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
