"""CoreOS value formats: the texts etcd, fleet, locksmith and coreos-cloudinit accept.

Each checker takes the text as written and returns it (or the value it stands for), or raises
``ValueError`` with a message naming the value and the format expected; :mod:`.cloudconfig`
turns that into a problem at the value's line.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import re
from urllib.parse import urlsplit

ENCODINGS = ("base64", "b64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64")
_PERMISSIONS = re.compile(r"^0?[0-7]{3,4}$")
_WINDOW_START = re.compile(
    r"^(?:(?P<day>sun|mon|tue|wed|thu|fri|sat) )?0*(?P<h>1?[0-9]|2[0-3]):0*(?P<m>[1-5]?[0-9])$",
    re.I,
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GO_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)"
_GO_DURATION = re.compile(rf"^(?:{_GO_DURATION_PART})+$")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")


def hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a valid hostname (letters, digits, hyphens, dots)")
    return value


def check_url(url: str, *, need_port: bool = False) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s)://host:port URL")
    if need_port and port is None:
        raise ValueError(f"{url!r} needs a port to listen on")
    return url


def go_duration(value: str) -> float:
    """A Go duration as locksmith takes it (``1h30m``, ``90s``) → seconds."""
    text = value.strip()
    if not _GO_DURATION.match(text):
        raise ValueError(f"{value!r} is not a duration like 1h30m or 45m")
    return sum(float(n) * _GO_UNITS[u] for n, u in re.findall(_GO_DURATION_PART, text))


def os_version(value: str) -> str:
    """A Container Linux version as the release header holds it (``1.0.0``, ``1632.3.0``)."""
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}", value.strip()):
        raise ValueError(f"{value!r} is not a version like 1.0.0 (at most 32 characters)")
    return value.strip()


def window_start(value: str) -> tuple[int | None, int, int]:
    """A locksmith window start (``Thu 04:00`` or ``04:00``) → (weekday 0=Mon or None, h, m)."""
    m = _WINDOW_START.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a window start like 'Thu 04:00' or '04:00'")
    day = _DAYS.index(m["day"].lower()) if m["day"] else None
    return day, int(m["h"]), int(m["m"])


def permissions(value: str) -> str:
    if not _PERMISSIONS.match(value):
        raise ValueError(f"{value!r} is not an octal file mode like '0644'")
    return value


def absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    return value


def decode_content(content: str, encoding: str | None) -> bytes:
    """write_files content per its encoding (base64 and/or gzip), as coreos-cloudinit decodes."""
    data = content.encode()
    try:
        if encoding and ("base64" in encoding or "b64" in encoding):
            data = base64.b64decode(data, validate=True)
        if encoding and encoding.startswith("gz"):
            data = gzip.decompress(data)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"content does not decode as {encoding}: {exc}") from None
    return data


def parse_initial_cluster(value: str) -> dict[str, str]:
    """``name=url,name=url`` → {name: first url}; raises ValueError on a malformed pair."""
    members: dict[str, str] = {}
    for pair in (p.strip() for p in value.split(",") if p.strip()):
        name, sep, url = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{pair!r} is not name=peer-url")
        members.setdefault(name.strip(), check_url(url.strip()))
    return members


def initial_cluster_text(value: str) -> str:
    if not parse_initial_cluster(value):
        raise ValueError("names no member")
    return value


def metadata_pairs(value: str) -> dict[str, str]:
    """fleet metadata as fleet takes it: ``"region=us-east,disk=ssd"``."""
    result: dict[str, str] = {}
    for pair in (p for p in value.split(",") if p.strip()):
        key, sep, val = pair.partition("=")
        if not sep or not key.strip() or "=" in val:
            raise ValueError(f"metadata {pair.strip()!r} is not key=value")
        result[key.strip()] = val.strip()
    return result
