"""KeyStore operations, one by one, against what etcd 3.4 answers (checked with curl)."""

from __future__ import annotations

import pytest

from actors.etcd import errors as E
from actors.etcd.commands import V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.event import Action, Event
from actors.etcd.store import KeyStore
from actors.etcd.v2api import Write

NOW = 1_700_000_000 * 10**9


def req(method: str, path: str, value: str = "", **kw) -> V2Request:
    return Write(method, path, value, **kw).stamped("r", NOW)


class Harness:
    def __init__(self) -> None:
        self.store = KeyStore()
        self.raft = 0

    def do(self, method: str, path: str, value: str = "", **kw) -> Event | EtcdError:
        self.raft += 1
        result = self.store.apply(req(method, path, value, **kw), self.raft)
        assert result.etcd_index == self.store.index
        return result.result

    def ok(self, method: str, path: str, value: str = "", **kw) -> Event:
        out = self.do(method, path, value, **kw)
        assert isinstance(out, Event), out
        return out

    def err(self, method: str, path: str, value: str = "", **kw) -> EtcdError:
        before = self.store.snapshot()
        out = self.do(method, path, value, **kw)
        assert isinstance(out, EtcdError), out
        assert out.index == self.store.index
        # a failed write changes nothing but the counters
        after = KeyStore()
        after.restore(self.store.snapshot())
        old = KeyStore()
        old.restore(before)
        assert after.get("/", True, True, NOW) == old.get("/", True, True, NOW)
        assert after.index == old.index
        return out


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_set_creates_then_replaces_with_a_new_created_index(h):
    first = h.ok("PUT", "/a", "1")
    assert (first.action, first.node.value, first.node.created_index) == ("set", "1", 1)
    assert first.prev_node is None and first.is_created
    second = h.ok("PUT", "/a", "2")
    assert second.node.created_index == second.node.modified_index == 2
    assert second.prev_node.value == "1" and not second.is_created
    assert h.store.index == 2


def test_set_creates_parent_directories_at_the_same_index(h):
    ev = h.ok("PUT", "/d/e/f", "4")
    got = h.store.get("/d", recursive=True, now_ns=NOW)
    assert got.node.dir and got.node.created_index == ev.node.created_index
    assert got.node.nodes[0].key == "/d/e" and got.node.nodes[0].nodes[0].value == "4"


def test_get_lists_one_level_unless_recursive(h):
    h.ok("PUT", "/d/e/f", "4")
    flat = h.store.get("/d", now_ns=NOW).node
    assert flat.nodes[0].key == "/d/e" and flat.nodes[0].nodes is None
    assert h.store.get("/d/e/f", now_ns=NOW).node.value == "4"


def test_key_not_found_names_the_first_missing_component(h):
    err = h.store.get("/nope/deeper/x", now_ns=NOW)
    assert (err.code, err.cause, err.status) == (100, "/nope", 404)


def test_set_below_a_file_is_not_a_directory(h):
    h.ok("PUT", "/a", "1")
    err = h.err("PUT", "/a/b", "x")
    assert (err.code, err.cause, err.status) == (E.NOT_DIR, "/a", 400)
    assert h.store.get("/a/b/c", now_ns=NOW).code == E.NOT_DIR


def test_set_over_a_directory_is_not_a_file(h):
    h.ok("PUT", "/d/x", "1")
    assert h.err("PUT", "/d", "5").code == E.NOT_FILE
    err = h.err("PUT", "/d", dir=True)
    assert (err.code, err.cause, err.status) == (102, "/d", 403)


def test_create_with_prev_exist_false(h):
    ev = h.ok("PUT", "/a", "1", prev_exist=False)
    assert ev.action == "create" and ev.is_created
    err = h.err("PUT", "/a", "2", prev_exist=False)
    assert (err.code, err.cause, err.status, err.index) == (105, "/a", 412, 1)
    # prevValue is ignored when prevExist=false
    assert h.ok("PUT", "/b", "1", prev_exist=False, prev_value="zz").action == "create"


def test_update_with_prev_exist_true_keeps_created_index(h):
    h.ok("PUT", "/a", "1")
    ev = h.ok("PUT", "/a", "2", prev_exist=True)
    assert (ev.action, ev.node.created_index, ev.node.modified_index) == ("update", 1, 2)
    assert ev.prev_node.value == "1"
    err = h.err("PUT", "/b", "x", prev_exist=True)
    assert (err.code, err.cause) == (100, "/b")


def test_update_of_a_directory_leaves_its_modified_index(h):
    h.ok("PUT", "/d", dir=True)
    ev = h.ok("PUT", "/d", dir=True, prev_exist=True, ttl=10)
    assert ev.node.dir and ev.node.modified_index == 2 and ev.node.ttl == 10
    assert h.store.get("/d", now_ns=NOW).node.modified_index == 1  # etcd's quirk
    assert h.err("PUT", "/d", "x", prev_exist=True).code == E.NOT_FILE


def test_update_of_a_file_with_dir_true_empties_its_value(h):
    h.ok("PUT", "/f", "file")
    ev = h.ok("PUT", "/f", dir=True, prev_exist=True)
    assert ev.node.value == "" and not ev.node.dir


@pytest.mark.parametrize(
    ("kw", "cause"),
    [
        ({"prev_value": "x"}, "[x != 1]"),
        ({"prev_index": 99}, "[99 != 1]"),
        ({"prev_value": "x", "prev_index": 99}, "[x != 1] [99 != 1]"),
        ({"prev_value": "1", "prev_index": 99}, "[99 != 1]"),
        ({"prev_value": "x", "prev_index": 1}, "[x != 1]"),
        ({"prev_value": "x", "prev_exist": True}, "[x != 1]"),
    ],
)
def test_compare_and_swap_failures(h, kw, cause):
    h.ok("PUT", "/a", "1")
    err = h.err("PUT", "/a", "2", **kw)
    assert (err.code, err.cause, err.status, err.index) == (101, cause, 412, 1)


@pytest.mark.parametrize(
    "kw",
    [
        {"prev_value": "1"},
        {"prev_index": 1},
        {"prev_value": "1", "prev_index": 1},
        {"prev_value": "1", "prev_exist": True},
    ],
)
def test_compare_and_swap_success(h, kw):
    h.ok("PUT", "/a", "1")
    ev = h.ok("PUT", "/a", "2", **kw)
    assert ev.action == Action.COMPARE_AND_SWAP
    assert (ev.node.value, ev.node.modified_index, ev.node.created_index) == ("2", 2, 1)
    assert ev.prev_node.value == "1"


def test_compare_and_swap_errors(h):
    assert h.err("PUT", "/a", "2", prev_value="1").code == 100
    h.ok("PUT", "/d", dir=True)
    assert h.err("PUT", "/d", "2", prev_index=1).code == E.NOT_FILE
    assert h.err("PUT", "/", "2", prev_value="x").code == E.ROOT_READ_ONLY


def test_in_order_keys_are_named_by_the_next_index(h):
    a = h.ok("POST", "/q", "j1")
    b = h.ok("POST", "/q", "j2")
    c = h.ok("POST", "/q", dir=True)
    assert [a.node.key, b.node.key, c.node.key] == [
        "/q/00000000000000000001",
        "/q/00000000000000000002",
        "/q/00000000000000000003",
    ]
    assert a.action == "create" and c.node.dir
    listing = h.store.get("/q", sorted=True, now_ns=NOW).node.nodes
    assert [n.value for n in listing[:2]] == ["j1", "j2"]
    assert h.ok("POST", "/", "top").node.key == "/00000000000000000004"


def test_post_under_a_file_is_not_a_directory_and_counts_as_a_failed_set(h):
    h.ok("PUT", "/f", "1")
    err = h.err("POST", "/f", "x")
    assert (err.code, err.cause) == (E.NOT_DIR, "/f")
    stats = h.store.stats()
    assert stats["createFail"] == 1 and stats["setsFail"] == 1  # etcd counts it twice


def test_delete_file_and_dirs(h):
    h.ok("PUT", "/a", "1")
    ev = h.ok("DELETE", "/a")
    assert ev.action == "delete" and ev.node.value is None and ev.node.modified_index == 2
    assert ev.prev_node.value == "1"
    assert h.err("DELETE", "/a").code == 100
    h.ok("PUT", "/d/x", "1")
    assert h.err("DELETE", "/d").code == E.NOT_FILE
    err = h.err("DELETE", "/d", dir=True)
    assert (err.code, err.cause, err.status) == (108, "/d", 403)
    ev = h.ok("DELETE", "/d", recursive=True)
    assert ev.node.dir and ev.prev_node.dir
    assert h.store.get("/d", now_ns=NOW).code == 100
    h.ok("PUT", "/e", dir=True)
    assert h.ok("DELETE", "/e", dir=True).node.dir
    h.ok("PUT", "/f", "1")
    assert h.ok("DELETE", "/f", dir=True).action == "delete"  # dir=true on a file is fine


@pytest.mark.parametrize(
    ("method", "kw"),
    [
        ("PUT", {}),
        ("PUT", {"prev_exist": True}),
        ("PUT", {"prev_exist": False}),
        ("PUT", {"prev_value": "x"}),
        ("DELETE", {}),
        ("DELETE", {"recursive": True}),
        ("PUT", {"dir": True}),
    ],
)
def test_root_is_read_only(h, method, kw):
    err = h.err(method, "/", "1", **kw)
    assert (err.code, err.cause, err.status) == (107, "/", 400)


def test_compare_and_delete_on_the_root_is_not_a_file_without_cause(h):
    err = h.err("DELETE", "/", prev_value="x")
    assert (err.code, err.cause) == (E.NOT_FILE, "")


@pytest.mark.parametrize(
    ("kw", "cause"),
    [({"prev_value": "x"}, "[x != 1]"), ({"prev_index": 5}, "[5 != 1]")],
)
def test_compare_and_delete(h, kw, cause):
    h.ok("PUT", "/a", "1")
    err = h.err("DELETE", "/a", **kw)
    assert (err.code, err.cause) == (101, cause)
    ev = h.ok("DELETE", "/a", prev_value="1", prev_index=1)
    assert ev.action == "compareAndDelete" and ev.node.modified_index == 2
    assert ev.node.value is None and ev.prev_node.value == "1"
    assert h.err("DELETE", "/a", prev_value="1").code == 100
    h.ok("PUT", "/d", dir=True)
    assert h.err("DELETE", "/d", prev_index=3).code == E.NOT_FILE


def test_hidden_keys_are_readable_but_not_listed(h):
    h.ok("PUT", "/h/_hid", "h")
    h.ok("PUT", "/h/vis", "v")
    h.ok("PUT", "/_top", "t")
    assert [n.key for n in h.store.get("/h", now_ns=NOW).node.nodes] == ["/h/vis"]
    assert [n.key for n in h.store.get("/", True, now_ns=NOW).node.nodes] == ["/h"]
    assert h.store.get("/h/_hid", now_ns=NOW).node.value == "h"
    assert h.store.get("/", True, now_ns=NOW).node.nodes[0].nodes[0].key == "/h/vis"


def test_sorted_and_unsorted_listings(h):
    for name in ["b", "c", "a"]:
        h.ok("PUT", f"/s/{name}/x", name)
    unsorted = [n.key for n in h.store.get("/s", now_ns=NOW).node.nodes]
    assert unsorted == ["/s/b", "/s/c", "/s/a"]  # insertion order: the same on every member
    deep = h.store.get("/s", recursive=True, sorted=True, now_ns=NOW).node
    assert [n.key for n in deep.nodes] == ["/s/a", "/s/b", "/s/c"]
    assert deep.nodes[0].nodes[0].value == "a"


def test_empty_value_and_paths_are_cleaned(h):
    assert h.ok("PUT", "/e", "").node.value == ""
    assert h.ok("PUT", "/x/./y/../z/", "1").node.key == "/x/z"
    assert h.store.get("//x//z/", now_ns=NOW).node.value == "1"


def test_get_counts_successes_and_failures(h):
    h.store.get("/nope", now_ns=NOW)
    h.store.get("/", now_ns=NOW)
    assert (h.store.counters["getsSuccess"], h.store.counters["getsFail"]) == (1, 1)


def test_quorum_get_goes_through_apply_without_moving_the_index(h):
    h.ok("PUT", "/a", "1")
    res = h.store.apply(V2Request.qget("q", "/a", False, False, NOW), 2)
    assert res.event.action == "get" and res.event.node.value == "1"
    assert res.etcd_index == 1 and h.store.raft_index == 2
    miss = h.store.apply(V2Request.qget("q", "/zz", False, False, NOW), 3)
    assert miss.error.code == 100


def test_unknown_method_is_a_raft_internal_error(h):
    bad = V2Request("x", "PATCH", "/a", "", False, "", 0, None, 0, False, False, False, NOW)
    res = h.store.apply(bad, 1)
    assert res.error.code == E.RAFT_INTERNAL and res.request_id == "x"


def test_values_are_copied_into_events(h):
    ev = h.ok("PUT", "/a", "1")
    h.ok("PUT", "/a", "2", prev_exist=True)
    assert ev.node.value == "1"  # events are pictures, not live nodes
