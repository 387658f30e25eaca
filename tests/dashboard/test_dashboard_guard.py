"""Who may read and who may act, decided from headers alone."""

from __future__ import annotations

from emulator.dashboard import guard

PORT, TOKEN = 8765, "s3cret-token"
HOST = {"Host": f"127.0.0.1:{PORT}"}


def test_reading_needs_the_secret_by_query_cookie_or_header():
    assert guard.may_read(HOST, f"token={TOKEN}", PORT, TOKEN)
    assert guard.may_read({**HOST, "Cookie": guard.set_cookie_header(PORT, TOKEN)}, "", PORT, TOKEN)
    assert guard.may_read({**HOST, guard.TOKEN_HEADER: TOKEN}, "", PORT, TOKEN)
    assert not guard.may_read(HOST, "", PORT, TOKEN)
    assert not guard.may_read(HOST, "token=wrong", PORT, TOKEN)
    # another run's dashboard cookie (same host, other port) does not open this one
    other = guard.set_cookie_header(PORT + 1, TOKEN).split(";")[0]
    assert not guard.may_read({**HOST, "Cookie": other}, "", PORT, TOKEN)


def test_acting_needs_the_secret_in_a_header_or_field_not_a_cookie():
    cookie = {**HOST, "Cookie": guard.set_cookie_header(PORT, TOKEN).split(";")[0]}
    assert guard.may_act({**HOST, guard.TOKEN_HEADER: TOKEN}, None, PORT, TOKEN) == (True, "")
    assert guard.may_act(HOST, TOKEN, PORT, TOKEN)[0]
    allowed, why = guard.may_act(cookie, None, PORT, TOKEN)
    assert not allowed and "secret" in why


def test_acting_from_another_origin_or_host_is_refused_even_with_the_secret():
    ok = {**HOST, guard.TOKEN_HEADER: TOKEN}
    assert guard.may_act({**ok, "Origin": f"http://localhost:{PORT}"}, None, PORT, TOKEN)[0]
    for headers in (
        {**ok, "Origin": "http://evil.example"},
        {**ok, "Origin": f"http://127.0.0.1:{PORT + 1}"},
        {**ok, "Origin": "null"},
        {**ok, "Sec-Fetch-Site": "cross-site"},
        {**ok, "Host": f"evil.example:{PORT}"},  # DNS rebinding
        {guard.TOKEN_HEADER: TOKEN},
    ):
        allowed, why = guard.may_act(headers, None, PORT, TOKEN)
        assert not allowed, headers
        assert why


def test_a_garbled_cookie_is_no_secret():
    assert guard.cookie_token({"Cookie": '";;=\x00'}, PORT) is None
