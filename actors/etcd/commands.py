"""The replicated v2 request: what goes into a Raft log entry, modelled on etcd's ``pb.Request``.

Everything that must be the same on every member is decided before the proposal and travels in
the request: the absolute ``expiration`` (unix ns; the accepting member computes now + ttl, as
etcd does when it parses the HTTP request) and ``time_ns``, the proposer's clock, which the
keyspace uses to compute the ``ttl`` it reports and, for ``SYNC``, as the expiry cutoff. Applying
a request therefore never reads a clock, and every member produces the same events.
"""

from __future__ import annotations

from enum import Enum

from emulator.wire import message


class Method(str, Enum):
    """What the request does (etcd's ``Request.Method`` strings)."""

    PUT = "PUT"  # set / create (prevExist=false) / update (prevExist=true) / compareAndSwap
    POST = "POST"  # create an in-order key under path
    DELETE = "DELETE"  # delete / compareAndDelete
    QGET = "QGET"  # a quorum read: a GET that goes through the log
    SYNC = "SYNC"  # the leader's clock tick: expire every key whose time is up


@message("etcd.Request")
class V2Request:
    id: str  # the proposer's request id: it answers its client when this entry applies
    method: str  # a Method value
    path: str  # cleaned key path, "/" for the root
    value: str
    dir: bool
    prev_value: str  # "" = no condition
    prev_index: int  # 0 = no condition
    prev_exist: bool | None  # None = no condition
    expiration: int  # absolute unix time in ns; 0 = no TTL
    refresh: bool
    recursive: bool
    sorted: bool
    time_ns: int  # the proposer's clock when it proposed

    @classmethod
    def sync(cls, time_ns: int, request_id: str = "") -> V2Request:
        """The leader's periodic SYNC: expire what is due at ``time_ns`` on every member."""
        return cls(
            request_id,
            Method.SYNC.value,
            "/",
            "",
            False,
            "",
            0,
            None,
            0,
            False,
            False,
            False,
            time_ns,
        )

    @classmethod
    def qget(
        cls, request_id: str, path: str, recursive: bool, sorted: bool, time_ns: int
    ) -> V2Request:
        """A quorum read as etcd does it: a GET through the log, answered when it applies."""
        return cls(
            request_id,
            Method.QGET.value,
            path,
            "",
            False,
            "",
            0,
            None,
            0,
            False,
            recursive,
            sorted,
            time_ns,
        )


Request = V2Request  # the name the brief uses

__all__ = ["Method", "V2Request", "Request"]
