"""Request parsing and form decoding, with the codes and causes etcd 3.4 answers (from curl)."""

from __future__ import annotations

import pytest

from actors.etcd.commands import Method
from actors.etcd.errors import EtcdError
from actors.etcd.v2api import (
    MethodNotAllowed,
    Read,
    Watch,
    Write,
    decode_form,
    parse_keys_request,
    parse_query,
    redirect_location,
)

NOW = 1_700_000_000 * 10**9


def parse(method: str, key: str = "/k", **form: str):
    return parse_keys_request(method, key, form, {})


@pytest.mark.parametrize(
    ("method", "form", "code", "cause"),
    [
        (
            "PUT",
            {"ttl": "200", "refresh": "true", "value": "x"},
            211,
            "A value was provided on a refresh",
        ),
        ("PUT", {"refresh": "true"}, 212, "No TTL value set"),
        ("PUT", {"ttl": "abc"}, 202, 'invalid value for "ttl"'),
        ("PUT", {"ttl": "-1"}, 202, 'invalid value for "ttl"'),
        ("PUT", {"ttl": "1.5"}, 202, 'invalid value for "ttl"'),
        ("PUT", {"ttl": "+5"}, 202, 'invalid value for "ttl"'),
        ("PUT", {"ttl": "18446744073709551616"}, 202, 'invalid value for "ttl"'),
        ("PUT", {"prevIndex": "abc"}, 203, 'invalid value for "prevIndex"'),
        ("PUT", {"prevIndex": ""}, 203, 'invalid value for "prevIndex"'),
        ("PUT", {"prevIndex": "-1"}, 203, 'invalid value for "prevIndex"'),
        ("GET", {"wait": "true", "waitIndex": "abc"}, 203, 'invalid value for "waitIndex"'),
        ("GET", {"recursive": "maybe"}, 209, 'invalid value for "recursive"'),
        ("GET", {"recursive": ""}, 209, 'invalid value for "recursive"'),
        ("GET", {"sorted": "2"}, 209, 'invalid value for "sorted"'),
        ("PUT", {"wait": "true"}, 209, '"wait" can only be used with GET requests'),
        ("HEAD", {"wait": "true"}, 209, '"wait" can only be used with GET requests'),
        ("PUT", {"prevValue": ""}, 201, '"prevValue" cannot be empty'),
        ("PUT", {"prevExist": "maybe"}, 209, "invalid value for prevExist"),
        ("PUT", {"prevExist": ""}, 209, "invalid value for prevExist"),
        ("PUT", {"refresh": "maybe"}, 209, "invalid value for refresh"),
        ("PUT", {"dir": "maybe"}, 209, 'invalid value for "dir"'),
        ("PUT", {"quorum": "maybe"}, 209, 'invalid value for "quorum"'),
        ("PUT", {"stream": "maybe"}, 209, 'invalid value for "stream"'),
        ("PUT", {"noValueOnSuccess": "maybe"}, 209, 'invalid value for "noValueOnSuccess"'),
        # the first failing check wins, in etcd's order
        ("PUT", {"ttl": "x", "prevIndex": "y"}, 203, 'invalid value for "prevIndex"'),
        ("PUT", {"sorted": "x", "recursive": "y"}, 209, 'invalid value for "recursive"'),
    ],
)
def test_request_errors(method, form, code, cause):
    err = parse(method, **form)
    assert isinstance(err, EtcdError)
    assert (err.code, err.cause, err.index, err.status) == (code, cause, 0, 400)


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_booleans(text):
    assert parse("GET", recursive=text).recursive is True
    assert parse("PUT", prevExist=text).prev_exist is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_false_booleans(text):
    assert parse("GET", recursive=text).recursive is False
    assert parse("PUT", prevExist=text).prev_exist is False


def test_get_head_watch_and_quorum_dispatch():
    assert parse("GET", "/a/", recursive="true", sorted="1") == Read("/a", True, True)
    assert parse("HEAD", "/a") == Read("/a", head=True)
    assert parse("GET", "/a", wait="true", waitIndex="7", stream="true", recursive="t") == Watch(
        "/a", True, True, 7
    )
    assert parse("GET", "/a", wait="true") == Watch("/a")
    assert parse("GET", "/a", wait="true", quorum="true") == Read("/a", quorum=True)
    assert parse("GET", "") == Read("/")
    assert parse("GET", "/x/../y//z") == Read("/y/z")


def test_method_not_allowed():
    assert parse("PATCH") == MethodNotAllowed("PATCH")
    assert parse("get") == MethodNotAllowed("get")


def test_writes_carry_every_field():
    w = parse(
        "PUT",
        "/a",
        value="v",
        ttl="5",
        prevValue="p",
        prevIndex="3",
        prevExist="true",
        dir="true",
        noValueOnSuccess="true",
    )
    assert w == Write(Method.PUT, "/a", "v", True, "p", 3, True, 5, False, False, True)
    assert parse("PUT", ttl="") == Write("PUT", "/k")  # an empty ttl is no ttl
    assert parse("PUT", ttl="5", refresh="true").refresh is True
    assert parse("PUT", ttl="5", refresh="true", value="").refresh is True
    assert parse("DELETE", "/d", recursive="true", dir="true") == Write(
        "DELETE", "/d", dir=True, recursive=True
    )
    assert parse("POST", "/q", value="j").method == "POST"
    # the commonest write, a value alone, has every flag unset; a GET with one is still a read
    for method in ("PUT", "POST", "DELETE"):
        assert parse(method, "/a", value="v") == Write(
            method, "/a", "v", False, "", 0, None, None, False, False, False
        )
    assert parse("GET", "/a", value="v") == Read("/a")


def test_body_is_ignored_for_get_and_delete_and_wins_for_put():
    assert parse_keys_request("DELETE", "/t", {}, {"prevValue": "zz"}) == Write("DELETE", "/t")
    put = parse_keys_request("PUT", "/t", {"value": "fromquery"}, {"value": "frombody"})
    assert put.value == "frombody"
    assert parse_keys_request("PUT", "/t", {"value": "fromquery"}, {}).value == "fromquery"


def test_stamped_expiration_is_absolute_and_none_without_ttl():
    req = Write("PUT", "/t", "v", ttl=100).stamped("id-1", NOW)
    assert (req.id, req.method, req.expiration, req.time_ns) == (
        "id-1",
        "PUT",
        NOW + 100 * 10**9,
        NOW,
    )
    assert Write("PUT", "/t", "v").stamped("i", NOW).expiration == 0
    assert Write("PUT", "/t", "v", ttl=0).stamped("i", NOW).expiration == NOW
    huge = Write("PUT", "/t", "v", ttl=2**64 - 1).stamped("i", NOW)
    assert -(2**63) <= huge.expiration < 2**63  # Go's int64 wrap, and msgpack-safe
    q = Read("/a", True, True, quorum=True).stamped("q", NOW)
    assert (q.method, q.path, q.recursive, q.sorted) == ("QGET", "/a", True, True)


def test_parse_query_is_gos():
    assert parse_query("value=a+b%2B&value=second&=x&&novalue") == {
        "value": "a b+",
        "": "x",
        "novalue": "",
    }
    assert parse_query("value=h%C3%A9llo%00x") == {"value": "héllo\x00x"}
    for raw, cause in [
        ("a=1;b=2", "invalid semicolon separator in query"),
        ("a=%z", 'invalid URL escape "%z"'),
        ("recursive=%zz", 'invalid URL escape "%zz"'),
        ("a=%", 'invalid URL escape "%"'),
    ]:
        err = parse_query(raw)
        assert isinstance(err, EtcdError) and (err.code, err.cause, err.index) == (210, cause, 0)


def test_decode_form_merges_body_before_query():
    ctype = "application/x-www-form-urlencoded"
    assert decode_form("PUT", "value=q&ttl=5", b"value=b", ctype) == {"value": "b", "ttl": "5"}
    assert decode_form("PUT", "value=q", b"value=b", "text/plain") == {"value": "q"}
    assert decode_form("DELETE", "prevValue=1", b"prevValue=zz", ctype) == {"prevValue": "1"}
    assert decode_form("PUT", "", b"value=%yy", ctype).cause == 'invalid URL escape "%yy"'
    assert decode_form("PUT", "x=%zz", b"value=%yy", ctype).cause == 'invalid URL escape "%yy"'
    assert decode_form("PUT", "x=%zz", b"value=1", ctype).cause == 'invalid URL escape "%zz"'
    assert decode_form("POST", "", "value=é".encode(), ctype + "; charset=utf-8") == {"value": "é"}


def test_redirect_location_for_unclean_paths():
    assert redirect_location("/v2/keys//foo") == "/v2/keys/foo"
    assert redirect_location("/v2/keys/a/../b/") == "/v2/keys/b/"
    assert redirect_location("/v2/keys/foo/") is None
    assert redirect_location("/v2/keys") is None
