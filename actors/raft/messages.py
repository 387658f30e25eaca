"""Raft's messages between peers (wire names ``raft.*``).

Every message carries ``term``, ``frm`` and ``to``. The RPCs follow the Raft paper with the
etcd-io/raft extensions: pre-vote (``VoteRequest.pre``), heartbeats separate from appends (they
carry the commit index bounded by the follower's match and a ReadIndex context), a reject hint
for fast back-off, leader transfer (``TimeoutNow``) and forwarding of proposals and ReadIndex
requests from followers to the leader.

``Propose``, ``ReadIndexRequest`` and ``ReadIndexResponse`` are not bound to a term: a receiver
handles them whatever their term (a follower forwards with the term it knows).
"""

from __future__ import annotations

from actors.raft.entries import Entry, Snapshot
from emulator.wire import message


@message("raft.VoteRequest")
class VoteRequest:
    term: int  # for a pre-vote: the term the sender would campaign in (its term + 1)
    frm: str
    to: str
    last_index: int
    last_term: int
    pre: bool
    force: bool  # leader transfer: skip the check-quorum lease


@message("raft.VoteResponse")
class VoteResponse:
    term: int  # granted: the request's term; rejected: the responder's term
    frm: str
    to: str
    granted: bool
    pre: bool


@message("raft.AppendEntries")
class AppendEntries:
    term: int
    frm: str
    to: str
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@message("raft.AppendResponse")
class AppendResponse:
    """Success: ``index`` is the last index known to match. Reject: ``index`` is the rejected
    ``prev_index`` and (``hint_index``, ``hint_term``) the follower's guess where logs agree."""

    term: int
    frm: str
    to: str
    index: int
    reject: bool
    hint_index: int
    hint_term: int


@message("raft.Heartbeat")
class Heartbeat:
    term: int
    frm: str
    to: str
    commit: int  # min(leader commit, the follower's match)
    ctx: bytes  # the newest pending ReadIndex context, or b""


@message("raft.HeartbeatResponse")
class HeartbeatResponse:
    term: int
    frm: str
    to: str
    ctx: bytes


@message("raft.InstallSnapshot")
class InstallSnapshot:
    term: int
    frm: str
    to: str
    snapshot: Snapshot


@message("raft.TimeoutNow")
class TimeoutNow:
    term: int
    frm: str
    to: str


@message("raft.Propose")
class Propose:
    """Proposals forwarded by a follower; entries have term 0 and index 0 until the leader
    appends them."""

    term: int
    frm: str
    to: str
    entries: tuple[Entry, ...]


@message("raft.ReadIndexRequest")
class ReadIndexRequest:
    term: int
    frm: str
    to: str
    ctx: bytes


@message("raft.ReadIndexResponse")
class ReadIndexResponse:
    term: int
    frm: str
    to: str
    ctx: bytes
    index: int


RaftMessage = (
    VoteRequest
    | VoteResponse
    | AppendEntries
    | AppendResponse
    | Heartbeat
    | HeartbeatResponse
    | InstallSnapshot
    | TimeoutNow
    | Propose
    | ReadIndexRequest
    | ReadIndexResponse
)

# Messages a leader sends; a receiver at a lower term learns who leads the new term from them.
FROM_LEADER = (AppendEntries, Heartbeat, InstallSnapshot)
# Messages handled whatever their term.
UNTERMED = (Propose, ReadIndexRequest, ReadIndexResponse)
