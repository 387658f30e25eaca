"""HTTP/1.1 on the server side without the sockets: bytes in, requests out; answers to bytes.

Theory of operation. A :class:`RequestParser` is fed whatever the socket delivered
(:meth:`~RequestParser.feed`) and hands out complete requests one at a time
(:meth:`~RequestParser.next_event`): a :class:`Request`, :data:`NEED_DATA` (wait for more bytes)
or :data:`SEND_CONTINUE` (the client sent ``Expect: 100-continue`` and waits for an interim
answer before its body). Anything that breaks the protocol raises :class:`HttpError`, whose
status and body say what was wrong; the connection cannot be trusted after that, so the caller
answers and closes. Bodies come with ``Content-Length`` or chunked (``Transfer-Encoding:
chunked``, decoded here, trailers dropped); either is capped at ``max_body`` (413).

The rules follow Go's ``net/http`` server (what etcd clients are used to): bare ``\\n`` line ends
are accepted, header names must be tokens, folded header lines, control characters, conflicting
``Content-Length`` values and ``Content-Length`` next to ``Transfer-Encoding`` are rejected.
:func:`render` turns an answer into bytes; it never looks at the request.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote

MAX_HEADER_BYTES = 1 << 20  # Go's DefaultMaxHeaderBytes
_BAD_HEAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN_RE = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rf"({_TOKEN_RE}) ([^ \r]+) (HTTP/[^ \r]*)\r?")
_FIELD_LINE = rf"{_TOKEN_RE}:[^\r\n]*\r?"
_FIELDS = re.compile(rf"(?:{_FIELD_LINE}\n)*{_FIELD_LINE}")  # the whole block, validated
_FIELD = re.compile(rf"({_TOKEN_RE}):[ \t]*([^\r\n]*?)[ \t]*\r?(?:\n|$)")
_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class Event(enum.Enum):
    NEED_DATA = "need data"
    SEND_CONTINUE = "send 100 continue"


NEED_DATA = Event.NEED_DATA
SEND_CONTINUE = Event.SEND_CONTINUE


class _State(enum.Enum):
    HEAD = "head"
    BODY = "body"
    CHUNK_SIZE = "chunk size"
    CHUNK_DATA = "chunk data"
    TRAILERS = "trailers"
    BROKEN = "broken"


@dataclass(slots=True)  # not frozen: that would cost a setattr call per field, per request
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: str  # raw (undecoded) query string, "" when there is none
    headers: dict[str, str]  # lower-cased names; repeated fields joined with ", "; read-only
    body: bytes
    keep_alive: bool
    http10: bool = False

    @property
    def path_qs(self) -> str:
        return self.path + ("?" + self.query if self.query else "")


class HttpError(Exception):
    """The request cannot be served; answer ``status`` with ``body`` and close the connection.

    ``unread`` is how many body bytes the client may still send (a 413 for a declared length):
    swallowing them before closing lets the client read the answer instead of a reset."""

    def __init__(self, status: int, body: bytes, content_type: str, unread: int = 0):
        super().__init__(f"{status}: {body[:80]!r}")
        self.status, self.body, self.content_type, self.unread = status, body, content_type, unread

    @classmethod
    def plain(cls, status: int, text: str | None = None) -> HttpError:
        text = text or f"{status} {HTTPStatus(status).phrase}"
        return cls(status, text.encode(), "text/plain; charset=utf-8")

    @classmethod
    def too_large(cls, limit: int, unread: int = 0) -> HttpError:
        body = {"message": f"request body larger than {limit} bytes (etcd's --max-request-bytes)"}
        data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        return cls(413, data, "application/json", unread)


def _head_end(buf: bytearray) -> tuple[int, int]:
    """Where the header block ends (the first empty line): (end of head, start of body)."""
    a, b = buf.find(b"\n\r\n"), buf.find(b"\n\n")
    if a >= 0 and (b < 0 or a < b):
        return a, a + 3
    if b >= 0:
        return b, b + 2
    return -1, -1


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith(("http://", "https://")):  # absolute-form: drop scheme and authority
        slash = target.find("/", target.index("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    elif not target.startswith("/") and target != "*":
        raise HttpError.plain(400, "400 Bad Request: invalid request URI")
    path, _, query = target.partition("?")
    path = path.partition("#")[0]
    if "%" in path:
        if _BAD_ESCAPE.search(path):
            raise HttpError.plain(400, "400 Bad Request: invalid URL escape in path")
        path = unquote(path, errors="replace")
    return path, query.partition("#")[0]


def _parse_fields(fields: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not fields:
        return headers
    if not _FIELDS.fullmatch(fields):
        raise HttpError.plain(400, "400 Bad Request: malformed header line")
    for name, value in _FIELD.findall(fields):
        name = name.lower()
        seen = headers.get(name)
        if seen is None:
            headers[name] = value
        elif name == "content-length":
            if seen != value:
                raise HttpError.plain(400, "400 Bad Request: conflicting Content-Length")
        else:
            headers[name] = seen + ", " + value
    return headers


class RequestParser:
    """One connection's inbound half; see the module docstring."""

    def __init__(self, max_body: int):
        self.max_body = max_body
        self._buf = bytearray()
        self._state = _State.HEAD
        self._pending: tuple | None = None  # (method, path, query, headers, keep_alive, http10)
        self._body = bytearray()
        self._left = 0  # body bytes still expected (Content-Length or the current chunk)
        self._continue = False
        self._last_fields: str | None = None  # the previous request's header block, parsed
        self._last_headers: dict[str, str] = {}

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def idle(self) -> bool:
        """Between requests with nothing buffered (a keep-alive connection at rest)."""
        return self._state is _State.HEAD and not self._buf

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_event(self) -> Request | Event:
        """The next complete request, or what to do meanwhile; raises :class:`HttpError`."""
        if self._state is _State.BROKEN:
            raise HttpError.plain(400)
        try:
            return self._next()
        except HttpError:
            self._state = _State.BROKEN
            raise

    # --- the states ----------------------------------------------------------------------------
    def _next(self) -> Request | Event:
        if self._state is _State.HEAD:
            end, body_start = _head_end(self._buf)
            if end < 0:
                if len(self._buf) > MAX_HEADER_BYTES:
                    raise HttpError.plain(431)
                return NEED_DATA
            if end > MAX_HEADER_BYTES:
                raise HttpError.plain(431)
            head = self._buf[:end].decode("latin-1")
            del self._buf[:body_start]
            if self._parse_head(head) == 0:
                return self._finish(b"")
        if self._state is _State.BODY:
            if len(self._buf) < self._left:
                return self._ask_continue()
            body = bytes(self._buf[: self._left])
            del self._buf[: self._left]
            return self._finish(body)
        return self._chunked()

    def _ask_continue(self) -> Event:
        if self._continue and not self._buf:
            self._continue = False
            return SEND_CONTINUE
        return NEED_DATA

    def _parse_head(self, text: str) -> int:
        """Read the request line and headers (the head as latin-1 text); set the body state;
        return the declared length (-1 for chunked)."""
        if text[:1] in ("\r", "\n"):  # Go skips one empty line before a request
            text = text[2:] if text.startswith("\r\n") else text[1:]
        request_line, _, fields = text.partition("\n")
        # a keep-alive client mostly repeats its header block: parsed (and checked) once
        repeated = fields == self._last_fields
        if _BAD_HEAD_CHARS.search(request_line) or (
            not repeated and _BAD_HEAD_CHARS.search(fields)
        ):
            raise HttpError.plain(400, "400 Bad Request: control character in the header")
        match = _REQUEST_LINE.fullmatch(request_line)
        if match is None:
            raise HttpError.plain(400, "400 Bad Request: malformed request line")
        method, target, version = match.groups()
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            if not version.startswith("HTTP/1."):
                raise HttpError.plain(505, "505 HTTP Version Not Supported")
            if not version[7:].isdigit():
                raise HttpError.plain(400, "400 Bad Request: malformed HTTP version")
        if not repeated:
            self._last_headers = _parse_fields(fields)
            self._last_fields = fields
        headers = self._last_headers  # shared by the requests that repeat it: read-only
        path, query = _split_target(target)
        http10 = version == "HTTP/1.0"
        conn = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in conn if http10 else "close" not in conn
        self._pending = (method, path, query, headers, keep_alive, http10)
        self._continue = not http10 and headers.get("expect", "").lower() == "100-continue"
        te = headers.get("transfer-encoding")
        declared = headers.get("content-length")
        if te is not None:
            if declared is not None:
                raise HttpError.plain(400, "400 Bad Request: both Content-Length and chunked")
            if te.lower() != "chunked":
                raise HttpError.plain(501, "501 Not Implemented: unsupported transfer encoding")
            self._state = _State.CHUNK_SIZE
            self._body = bytearray()
            return -1
        if declared is None:
            return 0
        if not declared.isdigit() or not declared.isascii():
            raise HttpError.plain(400, "400 Bad Request: bad Content-Length")
        length = int(declared)
        if length > self.max_body:  # a client waiting for "100 Continue" sends nothing more
            unread = 0 if self._continue and not self._buf else length - len(self._buf)
            raise HttpError.too_large(self.max_body, unread=unread)
        if length:
            self._state, self._left = _State.BODY, length
        return length

    def _chunked(self) -> Request | Event:
        while True:
            if self._state is _State.CHUNK_SIZE:
                nl = self._buf.find(b"\n")
                if nl < 0:
                    if len(self._buf) > 4096:
                        raise HttpError.plain(400, "400 Bad Request: malformed chunk size")
                    return self._ask_continue()
                size = bytes(self._buf[:nl]).rstrip(b"\r").split(b";", 1)[0].strip(b" \t")
                if not size or len(size) > 16 or not _HEX_DIGITS.issuperset(size):
                    raise HttpError.plain(400, "400 Bad Request: malformed chunk size")
                del self._buf[: nl + 1]
                self._left = int(size, 16)
                if len(self._body) + self._left > self.max_body:
                    raise HttpError.too_large(self.max_body)
                self._state = _State.CHUNK_DATA if self._left else _State.TRAILERS
            elif self._state is _State.CHUNK_DATA:
                need = self._left + 2
                if len(self._buf) < need and not (
                    len(self._buf) == need - 1 and self._buf[self._left :] == b"\n"
                ):
                    return NEED_DATA
                tail_len = 2 if self._buf[self._left : need] == b"\r\n" else 1
                if self._buf[self._left : self._left + tail_len] not in (b"\r\n", b"\n"):
                    raise HttpError.plain(400, "400 Bad Request: malformed chunk")
                self._body += self._buf[: self._left]
                del self._buf[: self._left + tail_len]
                self._state = _State.CHUNK_SIZE
            else:  # TRAILERS: skip lines up to the empty one
                nl = self._buf.find(b"\n")
                if nl < 0:
                    if len(self._buf) > MAX_HEADER_BYTES:
                        raise HttpError.plain(431)
                    return NEED_DATA
                line = bytes(self._buf[:nl]).rstrip(b"\r")
                del self._buf[: nl + 1]
                if not line:
                    body, self._body = bytes(self._body), bytearray()
                    return self._finish(body)

    def _finish(self, body: bytes) -> Request:
        method, path, query, headers, keep_alive, http10 = self._pending  # type: ignore[misc]
        self._pending = None
        self._state = _State.HEAD
        self._continue = False
        return Request(method, path, query, headers, body, keep_alive, http10)


# --- answers -------------------------------------------------------------------------------------
def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "status code " + str(status)
    return f"HTTP/1.1 {status} {phrase}\r\n"


_STATUS_LINES = {s.value: _status_line(s.value) for s in HTTPStatus}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY = frozenset({204, 304})  # answers that have neither a body nor a Content-Length


def render(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    date: str,
    head: bool = False,
    close: bool = False,
    length: bool = True,
) -> bytes:
    """A whole answer (``length=False``: just its head, for a chunked or close-delimited body).
    ``head``: the answer to a HEAD request, with the length the body would have had."""
    out = [_STATUS_LINES.get(status) or _status_line(status), "Date: ", date, "\r\n"]
    for name, value in headers.items():
        out += (name, ": ", value, "\r\n")
    if status in _NO_BODY:
        length, body = False, b""
    if length:
        out += ("Content-Length: ", str(len(body)), "\r\n")
    if close:
        out.append("Connection: close\r\n")
    out.append("\r\n")
    data = "".join(out).encode()
    return data if head or not body else data + body


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (the empty chunk ends it)."""
    return b"%x\r\n%s\r\n" % (len(data), data)
