"""The sans-IO HTTP/1.1 parser and answer renderer of the client port."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.etcd.http1 import (
    NEED_DATA,
    SEND_CONTINUE,
    HttpError,
    Request,
    RequestParser,
    chunk,
    render,
)

PUT = (
    b"PUT /v2/keys/a%20b?prevExist=false HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\nvalue=1"
)
GET = b"GET /v2/keys/a HTTP/1.1\r\nHost: x\r\n\r\n"
DATE = "Wed, 25 Nov 2026 21:40:43 GMT"


def events(data: bytes, max_body: int = 1 << 20) -> list:
    parser = RequestParser(max_body)
    parser.feed(data)
    out = []
    while (event := parser.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def error_of(data: bytes, max_body: int = 1 << 20) -> HttpError:
    with pytest.raises(HttpError) as info:
        events(data, max_body)
    return info.value


def test_a_put_is_parsed_into_method_decoded_path_raw_query_headers_and_body():
    (req,) = events(PUT)
    assert req == Request(
        "PUT",
        "/v2/keys/a b",
        "prevExist=false",
        {"host": "x", "content-type": "application/x-www-form-urlencoded", "content-length": "7"},
        b"value=1",
        keep_alive=True,
    )
    assert req.path_qs == "/v2/keys/a b?prevExist=false"


@given(st.lists(st.integers(min_value=0, max_value=len(PUT + GET)), max_size=8))
def test_requests_split_anywhere_parse_the_same(cuts):
    data = PUT + GET
    parser = RequestParser(1 << 20)
    got = []
    bounds = sorted(set(cuts)) + [len(data)]
    start = 0
    for end in bounds:
        parser.feed(data[start:end])
        start = end
        while (event := parser.next_event()) is not NEED_DATA:
            got.append(event)
    assert got == events(PUT) + events(GET)
    assert parser.idle


def test_pipelined_requests_come_out_one_at_a_time_in_order():
    reqs = events(GET + PUT + GET)
    assert [r.method for r in reqs] == ["GET", "PUT", "GET"]


def test_bare_newlines_and_one_leading_empty_line_are_accepted_as_go_does():
    (req,) = events(b"\r\nGET /x HTTP/1.1\nHost: y\n\n")
    assert req.path == "/x" and req.headers == {"host": "y"}


def test_keep_alive_follows_the_version_and_the_connection_header():
    assert events(GET)[0].keep_alive
    assert not events(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")[0].keep_alive
    old = events(b"GET / HTTP/1.0\r\n\r\n")[0]
    assert old.http10 and not old.keep_alive
    assert events(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")[0].keep_alive


def test_repeated_fields_are_joined_and_names_lower_cased():
    (req,) = events(b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nCONTENT-LENGTH: 0\r\n\r\n")
    assert req.headers == {"x-a": "1, 2", "content-length": "0"}


def test_absolute_form_targets_lose_scheme_and_authority():
    assert events(b"GET http://h:2379/v2/keys?x=1 HTTP/1.1\r\n\r\n")[0].path_qs == "/v2/keys?x=1"


def test_a_chunked_body_is_decoded_with_extensions_and_trailers_dropped():
    data = (
        b"PUT /v2/keys/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nvalu\r\n3\r\ne=9\r\n0\r\nX-Trailer: t\r\n\r\n" + GET
    )
    first, second = events(data)
    assert first.body == b"value=9" and second.method == "GET"


def test_continue_is_asked_for_once_when_the_client_waits_for_it():
    parser = RequestParser(1 << 20)
    parser.feed(b"PUT /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert parser.next_event() is SEND_CONTINUE
    assert parser.next_event() is NEED_DATA
    parser.feed(b"a=b")
    assert parser.next_event().body == b"a=b"


def test_no_continue_when_the_body_already_came():
    head = b"PUT /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    assert [r.body for r in events(head + b"a=b")] == [b"a=b"]


def test_an_over_large_body_is_refused_with_etcds_json_413_and_the_bytes_still_to_come():
    err = error_of(b"PUT /k HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" + b"x" * 500, max_body=1000)
    assert err.status == 413 and err.unread == 1500
    assert "larger than 1000 bytes" in json.loads(err.body)["message"]
    waiting = b"PUT /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n"
    assert error_of(waiting, max_body=1000).unread == 0  # it sends nothing more: close at once
    chunked = b"PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"
    assert error_of(chunked, max_body=1000).status == 413


@pytest.mark.parametrize(
    "data, status",
    [
        (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: 1\rB: 2\r\n\r\n", 400),
        (b"GET /a%zz HTTP/1.1\r\n\r\n", 400),
        (b"GET a HTTP/1.1\r\n\r\n", 400),
        (b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 400),
    ],
)
def test_broken_requests_get_a_status_that_says_what_was_wrong(data, status):
    err = error_of(data)
    assert err.status == status
    assert err.body.startswith(str(status).encode())


@pytest.mark.parametrize(
    "bad",
    [
        b"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n",  # in the request line, same header block
        b"GET /a HTTP/1.1\r\nHost: x\x7f\r\n\r\n",  # in a header block that changed
    ],
)
def test_control_characters_are_refused_after_a_repeated_header_block(bad):
    parser = RequestParser(1 << 20)
    for _ in range(2):  # the second request reuses the first one's parsed header block
        parser.feed(GET)
        assert isinstance(parser.next_event(), Request)
    parser.feed(bad)
    with pytest.raises(HttpError) as err:
        parser.next_event()
    assert err.value.body == b"400 Bad Request: control character in the header"


def test_after_an_error_the_parser_stays_broken():
    parser = RequestParser(1 << 20)
    parser.feed(b"nonsense\r\n\r\n")
    with pytest.raises(HttpError):
        parser.next_event()
    parser.feed(GET)
    with pytest.raises(HttpError):
        parser.next_event()


def test_an_endless_header_block_is_cut_off_with_431():
    parser = RequestParser(1 << 20)
    parser.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * (1 << 20) + b"\r\n")
    with pytest.raises(HttpError) as info:
        parser.next_event()
    assert info.value.status == 431


@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_raise_http_error(data):
    parser = RequestParser(1000)
    parser.feed(data)
    try:
        for _ in range(20):
            if parser.next_event() is NEED_DATA:
                break
    except HttpError as err:
        assert 400 <= err.status < 600


def test_render_writes_status_line_date_headers_and_length():
    out = render(201, {"Content-Type": "application/json"}, b"{}", date=DATE)
    assert out == (
        b"HTTP/1.1 201 Created\r\nDate: " + DATE.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )


def test_render_for_head_keeps_the_length_and_drops_the_body():
    out = render(200, {}, b"hello", date=DATE, head=True, close=True)
    assert out.endswith(b"Content-Length: 5\r\nConnection: close\r\n\r\n")


def test_render_204_has_no_length_and_no_body():
    out = render(204, {}, b"", date=DATE)
    assert b"Content-Length" not in out and out.endswith(b"\r\n\r\n")


def test_chunks_are_hex_framed():
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert chunk(b"") == b"0\r\n\r\n"
