"""etcd's v2 error codes, with etcd's own messages and HTTP statuses.

An :class:`EtcdError` is a value: the keyspace returns it (never raises it past its public API)
and the HTTP layer renders it as etcd does::

    {"errorCode":100,"message":"Key not found","cause":"/foo","index":7}

``cause`` is left out of the JSON when empty, exactly like etcd's ``omitempty``. Every code maps
to 400 Bad Request unless :data:`STATUS` says otherwise (etcd's ``StatusCode``).
"""

from __future__ import annotations

from typing import Any

from actors.etcd import gojson

# command errors
KEY_NOT_FOUND = 100
TEST_FAILED = 101
NOT_FILE = 102
NO_MORE_PEER = 103
NOT_DIR = 104
NODE_EXIST = 105
KEY_IS_PRESERVED = 106
ROOT_READ_ONLY = 107
DIR_NOT_EMPTY = 108
EXISTING_PEER_ADDR = 109
UNAUTHORIZED = 110
# request (form) errors
VALUE_REQUIRED = 200
PREV_VALUE_REQUIRED = 201
TTL_NAN = 202
INDEX_NAN = 203
VALUE_OR_TTL_REQUIRED = 204
TIMEOUT_NAN = 205
NAME_REQUIRED = 206
INDEX_OR_VALUE_REQUIRED = 207
INDEX_VALUE_MUTEX = 208
INVALID_FIELD = 209
INVALID_FORM = 210
REFRESH_VALUE = 211
REFRESH_TTL_REQUIRED = 212
# raft errors
RAFT_INTERNAL = 300
LEADER_ELECT = 301
# etcd errors
WATCHER_CLEARED = 400
EVENT_INDEX_CLEARED = 401
STANDBY_INTERNAL = 402
INVALID_ACTIVE_SIZE = 403
INVALID_REMOVE_DELAY = 404
CLIENT_INTERNAL = 500

MESSAGES: dict[int, str] = {
    KEY_NOT_FOUND: "Key not found",
    TEST_FAILED: "Compare failed",
    NOT_FILE: "Not a file",
    NO_MORE_PEER: "Reached the max number of peers in the cluster",
    NOT_DIR: "Not a directory",
    NODE_EXIST: "Key already exists",
    KEY_IS_PRESERVED: "The prefix of given key is a keyword in etcd",
    ROOT_READ_ONLY: "Root is read only",
    DIR_NOT_EMPTY: "Directory not empty",
    EXISTING_PEER_ADDR: "Peer address has existed",
    UNAUTHORIZED: "The request requires user authentication",
    VALUE_REQUIRED: "Value is Required in POST form",
    PREV_VALUE_REQUIRED: "PrevValue is Required in POST form",
    TTL_NAN: "The given TTL in POST form is not a number",
    INDEX_NAN: "The given index in POST form is not a number",
    VALUE_OR_TTL_REQUIRED: "Value or TTL is required in POST form",
    TIMEOUT_NAN: "The given timeout in POST form is not a number",
    NAME_REQUIRED: "Name is required in POST form",
    INDEX_OR_VALUE_REQUIRED: "Index or value is required",
    INDEX_VALUE_MUTEX: "Index and value cannot both be specified",
    INVALID_FIELD: "Invalid field",
    INVALID_FORM: "Invalid POST form",
    REFRESH_VALUE: "Value provided on refresh",
    REFRESH_TTL_REQUIRED: "A TTL must be provided on refresh",
    RAFT_INTERNAL: "Raft Internal Error",
    LEADER_ELECT: "During Leader Election",
    WATCHER_CLEARED: "watcher is cleared due to etcd recovery",
    EVENT_INDEX_CLEARED: "The event in requested index is outdated and cleared",
    STANDBY_INTERNAL: "Standby Internal Error",
    INVALID_ACTIVE_SIZE: "Invalid active size",
    INVALID_REMOVE_DELAY: "Standby remove delay",
    CLIENT_INTERNAL: "Client Internal Error",
}

# etcd's errorStatus table; everything else is 400.
STATUS: dict[int, int] = {
    KEY_NOT_FOUND: 404,
    NOT_FILE: 403,
    DIR_NOT_EMPTY: 403,
    UNAUTHORIZED: 401,
    TEST_FAILED: 412,
    NODE_EXIST: 412,
    RAFT_INTERNAL: 500,
    LEADER_ELECT: 500,
}

# Causes etcd 3.4 puts in a 300 "Raft Internal Error" when a proposal does not complete.
CAUSE_TIMEOUT = "etcdserver: request timed out"
CAUSE_TIMEOUT_LEADER_FAIL = "etcdserver: request timed out, possibly due to previous leader failure"
CAUSE_TIMEOUT_CONNECTION_LOST = "etcdserver: request timed out, possibly due to connection lost"
CAUSE_STOPPED = "etcdserver: server stopped"
CAUSE_NO_LEADER = "etcdserver: no leader"


class EtcdError(Exception):
    """One v2 error: ``code`` (see :data:`MESSAGES`), free-text ``cause``, the store ``index``."""

    __slots__ = ("code", "cause", "index")

    def __init__(self, code: int, cause: str = "", index: int = 0):
        super().__init__(code, cause, index)
        self.code = code
        self.cause = cause
        self.index = index

    @property
    def message(self) -> str:
        return MESSAGES.get(self.code, "")

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)

    def with_index(self, index: int) -> EtcdError:
        return EtcdError(self.code, self.cause, index)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.cause:
            out["cause"] = self.cause
        out["index"] = self.index
        return out

    def to_json(self) -> str:
        """etcd's body (without the trailing newline the HTTP layer adds)."""
        return gojson.dumps(self.to_dict())

    # --- errors the member (not the keyspace) produces ---------------------------------------
    @classmethod
    def timeout(cls, index: int = 0, cause: str = CAUSE_TIMEOUT) -> EtcdError:
        """A proposal that did not apply in time (etcd: 300 with the server's error text)."""
        return cls(RAFT_INTERNAL, cause, index)

    @classmethod
    def leader_election(cls, index: int = 0) -> EtcdError:
        """No leader to take a proposal right now (301, 500 Internal Server Error)."""
        return cls(LEADER_ELECT, "", index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EtcdError):
            return NotImplemented
        return (self.code, self.cause, self.index) == (other.code, other.cause, other.index)

    def __hash__(self) -> int:
        return hash((self.code, self.cause, self.index))

    def __repr__(self) -> str:
        return f"EtcdError({self.code}, {self.cause!r}, {self.index})"

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.cause:
            text += f" ({self.cause})"
        return f"{text} [{self.index}]"
