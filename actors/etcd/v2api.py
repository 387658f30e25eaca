"""The ``/v2/keys`` HTTP API without the HTTP: parse a request, render an answer (sans-IO).

:func:`parse_keys_request` is etcd's ``parseKeyRequest`` plus its dispatch: the same parameters,
checked in the same order, failing with the same codes and causes (index 0, as etcd's request
errors have). It yields a :class:`Read` (served from the local store, or through the log when
``quorum``), a :class:`Watch`, or a :class:`Write` for the log. :func:`decode_form` turns the raw
query string and body into the form etcd sees (Go's ``ParseForm``: body values win, strict
percent-decoding, ``;`` rejected). The ``render_*`` functions build :class:`Response` values with
etcd's statuses, headers and byte-exact bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from actors.etcd import errors as E
from actors.etcd import gojson
from actors.etcd.commands import V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.event import VALUE_ACTIONS, Event
from actors.etcd.node import clean_path
from actors.etcd.v2json import event_json_bytes

KEYS_PREFIX = "/v2/keys"
ALLOWED_METHODS = ("HEAD", "GET", "PUT", "POST", "DELETE")
JSON = "application/json"
_INT64 = 1 << 64
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_DIGITS = re.compile(r"[0-9]+")
_HEX = frozenset("0123456789abcdefABCDEF")


# Made on every request, so slotted and not frozen: a frozen dataclass's __init__ pays an
# object.__setattr__ call per field (a Write's 11 took 3.8 us, now 0.6). Nobody changes them.
@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(slots=True)
class Read:
    path: str
    recursive: bool = False
    sorted: bool = False
    quorum: bool = False  # a GET with quorum=true: through the log (QGET), as etcd does
    head: bool = False  # HEAD: same answer, no body

    def stamped(self, request_id: str, now_ns: int) -> V2Request:
        """The QGET request to propose for a quorum read."""
        return V2Request.qget(request_id, self.path, self.recursive, self.sorted, now_ns)


@dataclass(frozen=True)
class Watch:
    path: str
    recursive: bool = False
    stream: bool = False
    wait_index: int = 0  # 0: from the next change


@dataclass(slots=True)
class Write:
    method: str  # Method.PUT / POST / DELETE
    path: str
    value: str = ""
    dir: bool = False
    prev_value: str = ""
    prev_index: int = 0
    prev_exist: bool | None = None
    ttl: int | None = None  # seconds; None: no TTL (and an update makes the key permanent)
    refresh: bool = False
    recursive: bool = False
    no_value_on_success: bool = False

    def stamped(self, request_id: str, now_ns: int) -> V2Request:
        """The request to propose: ``expiration`` = now + ttl, computed here like etcd does
        when it parses the request (Go's int64 arithmetic, wrap-around included)."""
        expiration = 0
        if self.ttl is not None:
            expiration = _wrap64(now_ns + _wrap64(_wrap64(self.ttl) * 1_000_000_000))
        return V2Request(
            request_id,
            self.method,
            self.path,
            self.value,
            self.dir,
            self.prev_value,
            self.prev_index,
            self.prev_exist,
            expiration,
            self.refresh,
            self.recursive,
            False,
            now_ns,
        )


@dataclass(frozen=True)
class MethodNotAllowed:
    method: str


def _wrap64(n: int) -> int:
    n %= _INT64
    return n - _INT64 if n >= 1 << 63 else n


# --- the form ------------------------------------------------------------------------------------
def _unescape(text: str) -> str:
    """Go's ``QueryUnescape`` ('+' is a space); raises :class:`EtcdError` 210 on a bad escape."""
    if "%" not in text:
        return text.replace("+", " ")
    i = text.find("%")
    while i != -1:
        if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
            bad = text[i : i + 3]
            raise EtcdError(E.INVALID_FORM, f'invalid URL escape "{bad}"', 0)
        i = text.find("%", i + 3)
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


def parse_query(raw: str) -> dict[str, str] | EtcdError:
    """Go's ``url.ParseQuery`` keeping the first value of each key; 210 as etcd reports it."""
    out: dict[str, str] = {}
    error: EtcdError | None = None
    for part in raw.split("&"):
        if ";" in part:
            error = error or EtcdError(E.INVALID_FORM, "invalid semicolon separator in query", 0)
            continue
        if not part:
            continue
        key, _, value = part.partition("=")
        try:
            key, value = _unescape(key), _unescape(value)
        except EtcdError as err:
            error = error or err
            continue
        out.setdefault(key, value)
    return error if error is not None else out


def decode_form(
    method: str, raw_query: str, body: bytes = b"", content_type: str | None = None
) -> dict[str, str] | EtcdError:
    """The form etcd reads: for POST/PUT/PATCH with an urlencoded body, the body's values first,
    then the query string's (Go's ``Request.ParseForm``). ``raw_query`` must be undecoded."""
    form: dict[str, str] = {}
    error: EtcdError | None = None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if method in ("POST", "PUT", "PATCH") and media == "application/x-www-form-urlencoded":
        parsed = parse_query(body.decode("utf-8", "replace"))
        if isinstance(parsed, EtcdError):
            error = parsed
        else:
            form = parsed
    query = parse_query(raw_query)
    if isinstance(query, EtcdError):
        return error or query
    if error is not None:
        return error
    for key, value in query.items():
        form.setdefault(key, value)
    return form


# --- parsing -------------------------------------------------------------------------------------
def _uint(form: Mapping[str, str], name: str, code: int) -> int:
    raw = form.get(name)
    if raw is None:
        return 0
    if not _DIGITS.fullmatch(raw) or int(raw) >= _INT64:
        raise EtcdError(code, f'invalid value for "{name}"', 0)
    return int(raw)


def _bool(form: Mapping[str, str], name: str, cause: str | None = None) -> bool:
    raw = form.get(name)
    if raw is None:
        return False
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EtcdError(E.INVALID_FIELD, cause or f'invalid value for "{name}"', 0)


def parse_keys_request(
    method: str, key_path: str, query: Mapping[str, str], form: Mapping[str, str]
) -> Read | Watch | Write | EtcdError | MethodNotAllowed:
    """Parse one ``/v2/keys`` request. ``key_path`` is the decoded URL path after ``/v2/keys``;
    ``query`` and ``form`` are the decoded query-string and urlencoded-body values (or both
    already merged by :func:`decode_form`); the body is ignored unless POST or PUT, as in Go."""
    if method not in ALLOWED_METHODS:
        return MethodNotAllowed(method)
    merged = dict(query)
    if method in ("POST", "PUT"):
        merged.update(form)
    try:
        return _parse(method, clean_path("/" + key_path), merged)
    except EtcdError as err:
        return err


_VALUE_ONLY = frozenset({"value"})


def _parse(method: str, path: str, f: dict[str, str]) -> Read | Watch | Write:
    if method != "GET" and method != "HEAD" and f.keys() <= _VALUE_ONLY:
        return Write(method, path, f.get("value", ""))  # the commonest write: every flag unset
    prev_index = _uint(f, "prevIndex", E.INDEX_NAN)
    wait_index = _uint(f, "waitIndex", E.INDEX_NAN)
    recursive = _bool(f, "recursive")
    sort = _bool(f, "sorted")
    wait = _bool(f, "wait")
    is_dir = _bool(f, "dir")
    quorum = _bool(f, "quorum")
    stream = _bool(f, "stream")
    if wait and method != "GET":
        raise EtcdError(E.INVALID_FIELD, '"wait" can only be used with GET requests', 0)
    prev_value = f.get("prevValue", "")
    if "prevValue" in f and prev_value == "":
        raise EtcdError(E.PREV_VALUE_REQUIRED, '"prevValue" cannot be empty', 0)
    no_value = _bool(f, "noValueOnSuccess")
    ttl: int | None = None
    if f.get("ttl"):
        ttl = _uint(f, "ttl", E.TTL_NAN)
    prev_exist = _bool(f, "prevExist", "invalid value for prevExist") if "prevExist" in f else None
    refresh = False
    if "refresh" in f:
        refresh = _bool(f, "refresh", "invalid value for refresh")
        if refresh and f.get("value"):
            raise EtcdError(E.REFRESH_VALUE, "A value was provided on a refresh", 0)
        if refresh and ttl is None:
            raise EtcdError(E.REFRESH_TTL_REQUIRED, "No TTL value set", 0)

    if method == "HEAD":
        return Read(path, recursive, sort, False, head=True)
    if method == "GET":
        if quorum:  # etcd turns any GET with quorum into a QGET, wait or not
            return Read(path, recursive, sort, quorum=True)
        if wait:
            return Watch(path, recursive, stream, wait_index)
        return Read(path, recursive, sort)
    return Write(
        method,  # PUT, POST or DELETE: a Method value (ALLOWED_METHODS was checked)
        path,
        f.get("value", ""),
        is_dir,
        prev_value,
        prev_index,
        prev_exist,
        ttl,
        refresh,
        recursive,
        no_value,
    )


# --- rendering -----------------------------------------------------------------------------------
def _raft_headers(etcd_index: int, raft_index: int, raft_term: int) -> dict[str, str]:
    return {
        "Content-Type": JSON,
        "X-Etcd-Index": str(etcd_index),
        "X-Raft-Index": str(raft_index),
        "X-Raft-Term": str(raft_term),
    }


def render_event(
    event: Event,
    *,
    etcd_index: int,
    raft_index: int,
    raft_term: int,
    no_value_on_success: bool = False,
) -> Response:
    """A read or write answer: 201 for a create (or a set of a new key), else 200."""
    no_value = no_value_on_success and event.action in VALUE_ACTIONS
    body = event_json_bytes(event, no_value) + b"\n"
    status = 201 if event.is_created else 200
    return Response(status, _raft_headers(etcd_index, raft_index, raft_term), body)


def render_error(err: EtcdError, *, etcd_index: int | None = None) -> Response:
    """An error answer; ``X-Etcd-Index`` is the error's own index, as etcd sends it, unless
    ``etcd_index`` is given."""
    index = err.index if etcd_index is None else etcd_index
    body = gojson.dumps_bytes(err.to_dict()) + b"\n"
    return Response(err.status, {"Content-Type": JSON, "X-Etcd-Index": str(index)}, body)


def watch_headers(start_index: int, raft_index: int, raft_term: int) -> dict[str, str]:
    """A watch answer's headers, sent at once: ``X-Etcd-Index`` is the index when it began."""
    return _raft_headers(start_index, raft_index, raft_term)


def watch_line(event: Event) -> bytes:
    """One event of a watch answer (one-shot: the whole body; stream: one line of it)."""
    return event_json_bytes(event) + b"\n"


def render_watch_event(
    event: Event, *, start_index: int, raft_index: int, raft_term: int
) -> Response:
    """A one-shot watch answer: always 200, whatever the action."""
    return Response(200, watch_headers(start_index, raft_index, raft_term), watch_line(event))


def render_store_stats(stats: Mapping[str, int]) -> Response:
    """``/v2/stats/store`` (etcd writes it without a trailing newline)."""
    return Response(200, {"Content-Type": JSON}, gojson.dumps_bytes(dict(stats)))


def render_method_not_allowed() -> Response:
    """Go's ``http.Error`` for a method ``/v2/keys`` does not take."""
    headers = {
        "Allow": ",".join(ALLOWED_METHODS),
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(405, headers, b"Method Not Allowed\n")


def redirect_location(url_path: str) -> str | None:
    """Where Go's ServeMux redirects (301) a non-canonical path such as ``/v2/keys//a``."""
    cleaned = clean_path(url_path)
    if url_path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return None if cleaned == url_path else cleaned
