"""Membership changes for the member core (``/v2/members`` add and remove through Raft), sans-IO.

A change is refused at once when it cannot apply (adding a voter, removing a non-voter or the last
voter); otherwise it is proposed with a request id in its context, and the caller is answered when
a member applies the entry with that id, or after the request timeout.

A removed member learns it was removed, as etcd's does (peers answer it with "410 Gone"): members
remember whom they removed, answer any Raft message from such a node with :class:`MemberRemoved`
and drop it; the removed node then stops campaigning and closes its client port. Added back, it
hears from the leader again and carries on from its own log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from actors.etcd.requests import ClientConfChange, ConfChangeOutcome, ConfChangeResult, Reply
from actors.raft.entries import ConfChange, ConfChangeOp
from actors.raft.protocol import apply_conf_change, decode_conf_change
from emulator.wire import message


@message("etcd.MemberRemoved")
class MemberRemoved:
    """To a node that sent Raft messages after it was removed from the cluster."""

    term: int
    frm: str
    to: str


class MembershipChanges:
    def __init__(self, core: Any, new_id: Callable[[], str], log: Callable[..., None]):
        self.core = core  # the RaftCore
        self._new_id = new_id
        self.log = log
        self._waiting: dict[str, tuple[Reply, float]] = {}  # request id -> (reply, deadline)
        self._voters_listener: Callable[[tuple[str, ...]], None] | None = None
        self._voters_seen: tuple[str, ...] = ()
        self.removed_peers: set[str] = set()  # nodes this member applied the removal of
        self.removed = False  # told by a peer that this member was removed

    def propose(self, msg: ClientConfChange, deadline: float) -> None:
        voters = self.core.voters
        refused = None
        if msg.op == ConfChangeOp.ADD_NODE and msg.node in voters:
            refused = ConfChangeResult.ALREADY_VOTER
        elif msg.op == ConfChangeOp.REMOVE_NODE and msg.node not in voters:
            refused = ConfChangeResult.NOT_VOTER
        elif msg.op == ConfChangeOp.REMOVE_NODE and len(voters) == 1:
            refused = ConfChangeResult.LAST_VOTER
        if refused is not None:
            msg.reply(ConfChangeOutcome(refused, voters))
            return
        rid = self._new_id()
        context = json.dumps({"request": rid, "peerURLs": list(msg.peer_urls)}).encode()
        if not self.core.propose_conf_change(ConfChange(int(msg.op), msg.node, context)):
            busy = self.core.leader is not None
            result = ConfChangeResult.BUSY if busy else ConfChangeResult.NO_LEADER
            msg.reply(ConfChangeOutcome(result, voters))
            return
        self._waiting[rid] = (msg.reply, deadline)
        self.log("member.conf_change_proposed", op=ConfChangeOp(msg.op).name, node=msg.node)

    def applied(self, entry: Any) -> None:
        """A committed conf change is being applied (the Raft core applies it at ``advance``)."""
        cc = decode_conf_change(entry)
        if cc is None:
            return
        after = apply_conf_change(self.core.voters, cc)
        if cc.op == ConfChangeOp.REMOVE_NODE:
            self.removed_peers.add(cc.node)
        else:
            self.removed_peers.discard(cc.node)
        self.log(
            "member.conf_change_applied",
            op=ConfChangeOp(cc.op).name,
            node=cc.node,
            index=entry.index,
            voters=list(after),
        )
        try:
            rid = json.loads(cc.context or b"{}").get("request")
        except ValueError:
            rid = None
        waiting = self._waiting.pop(rid, None) if rid else None
        if waiting is not None:
            waiting[0](ConfChangeOutcome(ConfChangeResult.APPLIED, after))

    def tick(self, now: float) -> None:
        for rid, (reply, deadline) in list(self._waiting.items()):
            if deadline <= now:
                del self._waiting[rid]
                reply(ConfChangeOutcome(ConfChangeResult.TIMED_OUT, self.core.voters))
        voters = self.core.voters
        if self.removed:
            voters = tuple(v for v in voters if v != self.core.id)  # its log does not know yet
        if self._voters_listener is not None and voters != self._voters_seen:
            self._voters_seen = voters
            self._voters_listener(voters)

    def told_removed(self, notice: MemberRemoved) -> None:
        if not self.removed:
            self.removed = True
            self.log.warning(
                "member.removed",
                by=notice.frm,
                note="the member has been permanently removed from the cluster",
            )

    def heard_from_leader(self) -> None:
        """A leader replicates to this node again: it was added back."""
        if self.removed:
            self.removed = False
            self.log("member.added_back")

    def watch_voters(self, listener: Callable[[tuple[str, ...]], None]) -> tuple[str, ...]:
        self._voters_listener = listener
        self._voters_seen = self.core.voters
        return self._voters_seen
