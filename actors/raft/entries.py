"""What Raft persists: log entries, the hard state, snapshots and membership changes.

These travel in AppendEntries/InstallSnapshot and are written to the WAL, so they are wire
messages. ``Entry.data`` is opaque to Raft: the etcd layer puts its encoded request there.
"""

from __future__ import annotations

from enum import IntEnum

from emulator.wire import message


class EntryKind(IntEnum):
    NORMAL = 0  # data is an application command (may be b"" for the leader's no-op)
    CONF_CHANGE = 1  # data is a packed ConfChange


class ConfChangeOp(IntEnum):
    ADD_NODE = 0
    REMOVE_NODE = 1


@message("raft.Entry")
class Entry:
    term: int
    index: int
    kind: int  # EntryKind
    data: bytes


@message("raft.HardState")
class HardState:
    term: int
    vote: str | None
    commit: int


@message("raft.ConfState")
class ConfState:
    voters: tuple[str, ...]


@message("raft.Snapshot")
class Snapshot:
    index: int
    term: int
    conf: ConfState
    data: bytes  # the state machine's own encoding


@message("raft.ConfChange")
class ConfChange:
    op: int  # ConfChangeOp
    node: str
    context: bytes  # e.g. the member's peer URLs, for /v2/members
