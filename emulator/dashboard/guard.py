"""Who may look and who may act: the dashboard's checks, as pure functions of a request's headers.

The model is Jupyter's: the server binds loopback only, and the URL ``up`` prints carries a
per-run secret (``?token=...``). Opening it sets a cookie, so the page can be reloaded.

- Reading (the page, its event stream, its state) needs the secret: by cookie, query or header.
- Acting (POST) needs the secret *in a header or form field*, never by cookie alone: a cookie is
  sent by the browser on any site's behalf, a header or field only by code that knows the secret
  (cross-site request forgery).
- Every request must name this server in ``Host`` (a page on some other name that resolves to
  127.0.0.1 — DNS rebinding — is refused), and a POST that carries ``Origin`` or
  ``Sec-Fetch-Site`` must come from this very origin. No CORS headers are ever sent, so other
  origins can neither read answers nor send the custom header.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

TOKEN_HEADER = "X-Dashboard-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    # cookies are per host, not per port: two runs' dashboards must not overwrite each other's
    return f"coreemu_dashboard_{port}"


def same_token(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def allowed_origins(port: int) -> frozenset[str]:
    return frozenset(f"http://{name}:{port}" for name in LOOPBACK_NAMES)


def host_ok(headers: Mapping[str, str], port: int) -> bool:
    return (headers.get("Host") or "").lower() in allowed_hosts(port)


def origin_ok(headers: Mapping[str, str], port: int) -> bool:
    """A browser's POST says where it comes from; it must be this dashboard's own origin."""
    origin = headers.get("Origin")
    if origin is not None and origin.lower() not in allowed_origins(port):
        return False
    site = headers.get("Sec-Fetch-Site")
    return site is None or site in ("same-origin", "none")


def query_token(query: str) -> str | None:
    values = parse_qs(query).get("token")
    return values[0] if values else None


def cookie_token(headers: Mapping[str, str], port: int) -> str | None:
    raw = headers.get("Cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(cookie_name(port))
    return morsel.value if morsel else None


def may_read(headers: Mapping[str, str], query: str, port: int, token: str) -> bool:
    return any(
        same_token(t, token)
        for t in (headers.get(TOKEN_HEADER), query_token(query), cookie_token(headers, port))
    )


def may_act(
    headers: Mapping[str, str], form_token: str | None, port: int, token: str
) -> tuple[bool, str]:
    """(allowed, why not) for a state-changing request; the cookie alone is not enough."""
    if not host_ok(headers, port):
        return False, "wrong Host header"
    if not origin_ok(headers, port):
        return False, "cross-origin request refused"
    if not (same_token(headers.get(TOKEN_HEADER), token) or same_token(form_token, token)):
        return False, f"missing or wrong secret (send it in the {TOKEN_HEADER} header)"
    return True, ""


def set_cookie_header(port: int, token: str) -> str:
    return f"{cookie_name(port)}={token}; Path=/; HttpOnly; SameSite=Strict"
