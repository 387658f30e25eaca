"""JSON text exactly as Go's ``encoding/json`` writes it (what etcd's HTTP bodies look like).

Python's encoder differs from Go's in a few escapes only: Go writes ``<``, ``>``, ``&``, U+2028
and U+2029 as ``\\u003c`` … (HTML-safe by default) and ``\\b``/``\\f`` as ``\\u0008``/``\\u000c``;
both emit other non-ASCII characters raw. :func:`dumps` runs the C encoder, then rewrites those
few escapes; the fast path (plain ASCII values) costs one scan.
"""

from __future__ import annotations

import json
import re
from typing import Any

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_HTML = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_ESCAPE = re.compile(r"\\(.)")
_GO_SHORT = {"b": "\\u0008", "f": "\\u000c"}


def _fix_escape(m: re.Match[str]) -> str:
    return _GO_SHORT.get(m.group(1), m.group(0))


def dumps(obj: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` would produce for the same (ordered) dicts."""
    text = _encode(obj)
    if "\\" in text:
        text = _ESCAPE.sub(_fix_escape, text)
    # five scans in C cost less than one regex search; ASCII text needs only the first three
    if (
        "<" in text
        or ">" in text
        or "&" in text
        or (not text.isascii() and ("\u2028" in text or "\u2029" in text))
    ):
        text = text.translate(_HTML)
    return text


# A string made only of these is its own JSON text, in Go's encoding too: printable ASCII without
# the quote, the backslash and the three HTML characters Go escapes (the common key and value).
_PLAIN = re.compile(r"[ !#-%'-;=?-\[\]-~]*")


def dumps_string(text: str) -> str:
    """One string as Go's JSON; a plain one is just quoted (a third of :func:`dumps`'s cost)."""
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    return dumps(text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps_bytes(obj: Any) -> bytes:
    """:func:`dumps` as UTF-8 (see :func:`encode_utf8`)."""
    return encode_utf8(dumps(obj))


def encode_utf8(text: str) -> bytes:
    """JSON text as UTF-8; a lone surrogate (undecodable input) becomes ``\\ufffd`` like Go."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\\\\ufffd", text).encode()
