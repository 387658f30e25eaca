"""A small etcd v2 HTTP client that fails the way etcd's Go client (the one etcdctl uses) fails.

Requests go to the endpoints in order: a connection error or a 5xx answer moves on to the next
endpoint, and when none answers the caller gets a ``ClusterError`` listing every endpoint's
error in Go's words ("dial tcp 127.0.0.1:2379: connect: connection refused", "client: etcd
member http://… has no leader"). Any other answer is decoded: ``KeysResponse`` for 200/201, the
server's ``EtcdError`` otherwise. Redirects are followed with method and body kept (up to 10).
Standard library only (``http.client``), and no proxy settings apply: endpoints are loopback.
"""

from __future__ import annotations

import errno
import http.client
import json
import posixpath
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

MAX_REDIRECTS = 10
KEYS_PREFIX = "/v2/keys"
DEFAULT_TIMEOUT = 5.0  # etcdctl's --total-timeout
_PATH_SAFE = "/$&+,:;=@-_.~"
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:\[\]]*):[^:]*")


class EtcdError(Exception):
    """An error answer of the keys API: ``{"errorCode", "message", "cause", "index"}``."""

    def __init__(self, code: int, message: str, cause: str, index: int):
        super().__init__(code, message, cause, index)
        self.code, self.message, self.cause, self.index = code, message, cause, index

    def __str__(self) -> str:
        return f"{self.code}: {self.message} ({self.cause}) [{self.index}]"


class ClusterError(Exception):
    """No endpoint gave a usable answer."""

    def __init__(self, errors: list[str], connection_only: bool, timed_out: bool = False):
        super().__init__(errors)
        self.errors = errors
        self.connection_only = connection_only  # nothing answered at all (etcdctl exits 2)
        self.timed_out = timed_out  # every endpoint only timed out (a long poll that saw nothing)

    def __str__(self) -> str:
        text = "client: etcd cluster is unavailable or misconfigured"
        return text + "".join(f"; error #{i}: {e}\n" for i, e in enumerate(self.errors))

    def detail(self) -> str:
        return "".join(f"error #{i}: {e}\n" for i, e in enumerate(self.errors))


class ClientError(Exception):
    """Any other failure, its text as etcd's Go client words it."""


INVALID_JSON = (
    "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint."
)


@dataclass(frozen=True)
class KeysResponse:
    action: str
    node: dict[str, Any]
    prev_node: dict[str, Any] | None
    index: int  # X-Etcd-Index


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _EmptyBody(ClientError):
    def __init__(self) -> None:
        super().__init__("client: response is empty")


def keys_path(key: str, prefix: str = KEYS_PREFIX) -> str:
    """``/v2/keys/<key>`` (or ``<prefix>/<key>``) cleaned like Go's ``path.Clean`` (a trailing
    slash kept), escaped."""
    raw = prefix + (key if key.startswith("/") or not key else "/" + key)
    clean = posixpath.normpath(raw or "/")
    if raw.endswith("/") and clean != "/":
        clean += "/"
    return quote(clean, safe=_PATH_SAFE)


def decode_keys_reply(reply: Reply) -> KeysResponse:
    """A keys API answer → ``KeysResponse``, or raise its ``EtcdError``."""
    if reply.status in (200, 201):
        if not reply.body:
            raise _EmptyBody
        try:
            obj = json.loads(reply.body)
            node = obj.get("node") or {}
            resp = KeysResponse(str(obj["action"]), node, obj.get("prevNode"), _index(reply))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ClientError(INVALID_JSON) from None
        return resp
    try:
        obj = json.loads(reply.body)
        raise EtcdError(
            int(obj.get("errorCode", 0)),
            str(obj.get("message", "")),
            str(obj.get("cause", "")),
            int(obj.get("index", 0)),
        )
    except (ValueError, TypeError, AttributeError):
        raise ClientError(INVALID_JSON) from None


def _index(reply: Reply) -> int:
    try:
        return int(reply.headers.get("X-Etcd-Index", "0"))
    except ValueError:
        return 0


def validate_peer_url(url: str) -> str | None:
    """What etcd's client says is wrong with a peer URL for ``member add``, or None."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "unix", "unixs"):
        return f"URL scheme must be http, https, unix, or unixs: {url}"
    if not _HOST_PORT.fullmatch(parts.netloc):
        return f'URL address does not have the form "host:port": {url}'
    if parts.path or parts.query:
        return f"URL must not contain a path: {url}"
    return None


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def transport_error(endpoint: str, exc: BaseException) -> str:
    """A socket error in the words of Go's net package."""
    where = _host_port(endpoint)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"client: endpoint {endpoint} exceeded header timeout"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {where}: connect: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"dial tcp: lookup {urlsplit(endpoint).hostname}: no such host"
    if isinstance(exc, ConnectionResetError):
        return f"read tcp {where}: read: connection reset by peer"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"dial tcp {where}: connect: {(exc.strerror or '').lower()}"
    if isinstance(exc, http.client.HTTPException):
        return f"read tcp {where}: {exc.__class__.__name__}: {exc}"
    return f"dial tcp {where}: {exc}"


def http_request(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    body_timeout: float | None = DEFAULT_TIMEOUT,
) -> Reply:
    """One HTTP exchange (redirects followed); ``body_timeout`` None waits for a body forever."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        conn_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_type(parts.netloc, timeout=timeout)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            conn.request(method, target, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            if conn.sock is not None:
                conn.sock.settimeout(body_timeout)
            data = resp.read()
            location = resp.getheader("Location")
            if 300 <= resp.status < 400 and location:
                url = urljoin(url, location)
                continue
            return Reply(resp.status, {k: v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()
    raise ClientError(f"too many redirects (last: {url})")


class V2Client:
    """The keys and members API of an etcd cluster reached through ``endpoints``.

    ``keys_prefix`` is where the keys API lives: "" for a discovery URL, whose path is the key
    (Go's ``client.NewKeysAPIWithPrefix``, as etcd's discovery uses it)."""

    def __init__(
        self, endpoints: list[str], timeout: float = DEFAULT_TIMEOUT, keys_prefix: str = KEYS_PREFIX
    ):
        if not endpoints:
            raise ValueError("no endpoints")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self.keys_prefix = keys_prefix

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        json_body: Any = None,
        wait: bool = False,
    ) -> Reply:
        """The first usable answer from the endpoints in order, else ``ClusterError``."""
        headers: dict[str, str] = {}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        target = path + ("?" + urlencode(query) if query else "")
        errors: list[str] = []
        connection_only = True
        timeouts = 0
        for endpoint in self.endpoints:
            try:
                reply = http_request(
                    endpoint + target,
                    method,
                    body,
                    headers,
                    self.timeout,
                    None if wait else self.timeout,
                )
            except (OSError, http.client.HTTPException) as exc:
                errors.append(transport_error(endpoint, exc))
                timeouts += isinstance(exc, TimeoutError)
                continue
            if reply.status in (500, 503):
                errors.append(f"client: etcd member {endpoint} has no leader")
            elif reply.status >= 500:
                phrase = http.client.responses.get(reply.status, "")
                errors.append(f"client: etcd member {endpoint} returns server error [{phrase}]")
            else:
                return reply
            connection_only = False
        raise ClusterError(errors, connection_only, timed_out=timeouts == len(errors))

    # --- keys -------------------------------------------------------------------------------

    def keys_path(self, key: str) -> str:
        return keys_path(key, self.keys_prefix)

    def get(self, key: str, recursive=False, sort=False, quorum=False) -> KeysResponse:
        query = {"recursive": _b(recursive), "sorted": _b(sort), "quorum": _b(quorum)}
        return decode_keys_reply(self.request("GET", self.keys_path(key), query))

    def set(
        self,
        key: str,
        value: str = "",
        ttl: int = 0,
        prev_value: str = "",
        prev_index: int = 0,
        prev_exist: bool | None = None,
        dir: bool = False,
    ) -> KeysResponse:
        query: dict[str, str] = {}
        form: dict[str, str] = {}
        if dir:
            query["dir"] = "true"
        else:
            if prev_value:
                query["prevValue"] = prev_value
            form["value"] = value
        if prev_index:
            query["prevIndex"] = str(prev_index)
        if prev_exist is not None:
            query["prevExist"] = _b(prev_exist)
        if ttl > 0:
            form["ttl"] = str(ttl)
        return decode_keys_reply(self.request("PUT", self.keys_path(key), query, form))

    def create_in_order(self, dir_key: str, value: str, ttl: int = 0) -> KeysResponse:
        form = {"value": value, **({"ttl": str(ttl)} if ttl > 0 else {})}
        return decode_keys_reply(self.request("POST", self.keys_path(dir_key), None, form))

    def delete(
        self, key: str, recursive=False, dir=False, prev_value="", prev_index=0
    ) -> KeysResponse:
        query: dict[str, str] = {}
        if recursive:
            query["recursive"] = "true"
        if dir:
            query["dir"] = "true"
        if prev_value:
            query["prevValue"] = prev_value
        if prev_index:
            query["prevIndex"] = str(prev_index)
        return decode_keys_reply(self.request("DELETE", self.keys_path(key), query))

    def wait(self, key: str, wait_index: int | None, recursive: bool) -> KeysResponse | None:
        """The next change to ``key`` (at or after ``wait_index``); None for an empty answer."""
        query = {"wait": "true", "recursive": _b(recursive)}
        if wait_index:
            query["waitIndex"] = str(wait_index)
        try:
            return decode_keys_reply(self.request("GET", self.keys_path(key), query, wait=True))
        except _EmptyBody:
            return None

    # --- members ----------------------------------------------------------------------------

    def members(self) -> list[dict[str, Any]]:
        reply = self._expect(self.request("GET", "/v2/members"), 200)
        return list(_json(reply.body).get("members") or [])

    def leader(self) -> dict[str, Any]:
        return _json(self._expect(self.request("GET", "/v2/members/leader"), 200).body)

    def add_member(self, peer_url: str) -> dict[str, Any]:
        reply = self.request("POST", "/v2/members", json_body={"peerURLs": [peer_url]})
        self._expect(reply, 201, 409)
        if reply.status == 409:
            raise ClientError(str(_json(reply.body).get("message", "")))
        return _json(reply.body)

    def remove_member(self, member_id: str) -> None:
        self._expect(self.request("DELETE", f"/v2/members/{quote(member_id)}"), 204, 410)

    @staticmethod
    def _expect(reply: Reply, *statuses: int) -> Reply:
        if reply.status not in statuses:
            raise ClientError(f"unexpected status code {reply.status}")
        return reply


def check_health(client_url: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[bool | None, str]:
    """``GET <url>/health`` as ``etcdctl cluster-health`` does: (healthy, error); healthy is None
    when the member could not be checked."""
    url = client_url.rstrip("/") + "/health"
    try:
        reply = http_request(url, timeout=timeout)
    except (OSError, http.client.HTTPException) as exc:
        return None, f'Get "{url}": {transport_error(client_url, exc)}'
    try:
        health = json.loads(reply.body).get("health")
    except (ValueError, AttributeError):
        return None, "invalid character looking for beginning of value"
    return health in ("true", True), ""


def _json(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    if not isinstance(obj, dict):
        raise ClientError("json: cannot unmarshal into Go value of type struct")
    return obj


def _b(flag: bool) -> str:
    return "true" if flag else "false"
