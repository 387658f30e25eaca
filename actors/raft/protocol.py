"""RaftProtocol: terms, elections and the follower side of Raft; the state behind RaftCore.

Theory of operation
-------------------
Terms (§5.1): a message from a higher term turns the node into a follower of that term, except
that a vote request from a node we believe is not needed (check-quorum lease: we heard from a
leader less than an election timeout ago) is ignored, and pre-votes never change anyone's term.
A message from a lower term is dropped; a stale leader's appends and heartbeats get an answer at
the current term so that it steps down.

Elections: a follower that hears nothing for its randomized timeout first runs a pre-vote at
term + 1 without changing its term; only if a majority would vote for it does it start a real
election. So a node coming back from a partition cannot depose a healthy leader. A leader that
has not heard from a majority for an election timeout steps down (check quorum). A leader
transfer (TimeoutNow) starts a real election at once, past the lease.

Safety rests on the log (``log.RaftLog``): votes only go to candidates whose log is at least as
up to date, and the leader (``replication.Leader``) commits only entries of its own term by
counting replicas.

Membership: ``voters`` is the configuration applied so far. Committed conf changes take effect
when the shell advances past them (one at a time, see ``replication``); a snapshot carries the
configuration at its index. A node not among the voters never campaigns.

``RaftCore`` (``core``) adds the public API: proposals and the Ready/advance cycle.
"""

from __future__ import annotations

import random
from typing import Any

from actors.raft.election import VoteResult, VoteTally
from actors.raft.entries import ConfChange, ConfChangeOp, Entry, HardState
from actors.raft.log import RaftLog
from actors.raft.messages import (
    FROM_LEADER,
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Propose,
    RaftMessage,
    ReadIndexRequest,
    ReadIndexResponse,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from actors.raft.readindex import ReadState
from actors.raft.ready import RaftConfig, Role
from actors.raft.recentproposals import RecentProposals
from actors.raft.replication import Leader
from emulator import wire


def apply_conf_change(voters: tuple[str, ...], cc: ConfChange) -> tuple[str, ...]:
    """The voters after ``cc`` (adding a member or removing a non-member changes nothing)."""
    if cc.op == ConfChangeOp.ADD_NODE and cc.node not in voters:
        return tuple(sorted((*voters, cc.node)))
    if cc.op == ConfChangeOp.REMOVE_NODE and cc.node in voters:
        return tuple(v for v in voters if v != cc.node)
    return voters


def decode_conf_change(entry: Entry) -> ConfChange | None:
    try:
        cc = wire.unpack(entry.data)
    except wire.WireError:
        return None
    return cc if isinstance(cc, ConfChange) else None


class RaftProtocol:
    def __init__(
        self,
        config: RaftConfig,
        voters: tuple[str, ...],
        rng: random.Random,
        log: RaftLog,
        hard_state: HardState,
    ) -> None:
        self.config = config
        self.id = config.id
        self._rng = rng
        self.log = log
        self.voters = voters
        self.term = hard_state.term
        self.vote: str | None = hard_state.vote
        self.leader: str | None = None
        self.role = Role.FOLLOWER
        self.read_states: list[ReadState] = []
        self._msgs: list[Any] = []
        self._leader_state: Leader | None = None
        self._forwarded = RecentProposals()  # kept across terms: a duplicate may come late
        self._tally: VoteTally | None = None
        self._election_elapsed = 0
        self._timeout = self._random_timeout()
        self._handlers = {
            VoteRequest: self._on_vote_request,
            VoteResponse: self._on_vote_response,
            AppendEntries: self._on_append,
            Heartbeat: self._on_heartbeat,
            InstallSnapshot: self._on_snapshot,
            AppendResponse: self._on_append_response,
            HeartbeatResponse: self._on_heartbeat_response,
            TimeoutNow: self._on_timeout_now,
            Propose: self._on_propose,
            ReadIndexRequest: self._on_read_index_request,
            ReadIndexResponse: self._on_read_index_response,
        }

    @property
    def duplicate_proposals(self) -> int:
        """Forwarded proposals that arrived again (a duplicating network) and were dropped."""
        return self._forwarded.duplicates

    # -- inputs -----------------------------------------------------------------------------------

    def tick(self) -> None:
        self._election_elapsed += 1
        leader = self._leader_state
        if leader is None:
            if self._election_elapsed >= self._timeout and self.promotable():
                self._campaign(pre=self.config.pre_vote)
            return
        if self._election_elapsed >= self.config.election_ticks:
            self._election_elapsed = 0
            if self.config.check_quorum and not leader.quorum_active():
                self._become_follower(self.term, None)
                return
        leader.tick()

    def step(self, m: RaftMessage) -> None:
        """Handle any Raft message addressed to this node (others are ignored)."""
        if m.to != self.id:
            return
        handler = self._handlers.get(type(m))
        if handler is None:
            return
        if isinstance(m, (Propose, ReadIndexRequest, ReadIndexResponse)):
            handler(m)
            return
        if m.term > self.term:
            if isinstance(m, VoteRequest):
                if not m.force and self._in_lease():
                    return
                if not m.pre:
                    self._become_follower(m.term, None)
            elif not (isinstance(m, VoteResponse) and m.pre and m.granted):
                self._become_follower(m.term, m.frm if isinstance(m, FROM_LEADER) else None)
        elif m.term < self.term:
            if isinstance(m, (AppendEntries, Heartbeat)):
                if self.config.check_quorum or self.config.pre_vote:
                    self.send(AppendResponse(self.term, self.id, m.frm, 0, False, 0, 0))
            elif isinstance(m, VoteRequest) and m.pre:
                self.send(VoteResponse(self.term, self.id, m.frm, False, True))
            return
        handler(m)

    # -- plumbing ---------------------------------------------------------------------------------

    def send(self, m: Any) -> None:
        self._msgs.append(m)

    def promotable(self) -> bool:
        return self.id in self.voters

    def _random_timeout(self) -> int:
        ticks = self.config.election_ticks
        return self._rng.randrange(ticks, 2 * ticks)

    def _in_lease(self) -> bool:
        return (
            self.config.check_quorum
            and self.leader is not None
            and self._election_elapsed < self.config.election_ticks
        )

    # -- roles ------------------------------------------------------------------------------------

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.leader = None
        self._leader_state = None
        self._tally = None
        self._election_elapsed = 0
        self._timeout = self._random_timeout()

    def _become_follower(self, term: int, leader: str | None) -> None:
        self._reset(term)
        self.role = Role.FOLLOWER
        self.leader = leader

    def _campaign(self, pre: bool, force: bool = False) -> None:
        if not self.promotable():
            return
        if pre:
            self._reset(self.term)
            self.role = Role.PRE_CANDIDATE
            vote_term = self.term + 1
        else:
            self._reset(self.term + 1)
            self.role = Role.CANDIDATE
            self.vote = self.id
            vote_term = self.term
        self._tally = VoteTally(self.voters)
        if self._tally.record(self.id, True) is VoteResult.WON:
            self._won(pre)
            return
        last_index, last_term = self.log.last_index(), self.log.last_term()
        for voter in self.voters:
            if voter != self.id:
                self.send(VoteRequest(vote_term, self.id, voter, last_index, last_term, pre, force))

    def _won(self, pre: bool) -> None:
        if pre:
            self._campaign(pre=False)
            return
        self._reset(self.term)
        self.role = Role.LEADER
        self.leader = self.id
        self._leader_state = Leader(self)

    # -- handlers ---------------------------------------------------------------------------------

    def _on_vote_request(self, m: VoteRequest) -> None:
        can_vote = (
            self.vote == m.frm
            or (self.vote is None and self.leader is None)
            or (m.pre and m.term > self.term)
        )
        if can_vote and self.log.is_up_to_date(m.last_index, m.last_term):
            self.send(VoteResponse(m.term, self.id, m.frm, True, m.pre))
            if not m.pre:
                self.vote = m.frm
                self._election_elapsed = 0
        else:
            self.send(VoteResponse(self.term, self.id, m.frm, False, m.pre))

    def _on_vote_response(self, m: VoteResponse) -> None:
        if self._tally is None:
            return
        if self.role is Role.PRE_CANDIDATE:
            expected = self.term + 1 if m.granted else self.term
            if not m.pre or m.term != expected:
                return
        elif self.role is not Role.CANDIDATE or m.pre:
            return
        result = self._tally.record(m.frm, m.granted)
        if result is VoteResult.WON:
            self._won(self.role is Role.PRE_CANDIDATE)
        elif result is VoteResult.LOST:
            self._become_follower(self.term, None)

    def _heard_from_leader(self, m: Any) -> bool:
        """A leader of the current term spoke: follow it. False if we lead this term."""
        if self.role is Role.LEADER:
            return False
        if self.role is not Role.FOLLOWER:
            self._become_follower(self.term, m.frm)
        self.leader = m.frm
        self._election_elapsed = 0
        return True

    def _on_append(self, m: AppendEntries) -> None:
        if not self._heard_from_leader(m):
            return
        log = self.log
        prev_index, prev_term, entries = m.prev_index, m.prev_term, m.entries
        if prev_index < log.committed:
            skip = log.committed - prev_index  # entries we already hold as committed
            if len(entries) <= skip:
                self.send(AppendResponse(self.term, self.id, m.frm, log.committed, False, 0, 0))
                return
            prev_index, prev_term = log.committed, entries[skip - 1].term
            entries = entries[skip:]
        last_new = log.maybe_append(prev_index, prev_term, m.commit, entries)
        if last_new is not None:
            self.send(AppendResponse(self.term, self.id, m.frm, last_new, False, 0, 0))
            return
        hint = log.find_conflict_by_term(min(prev_index, log.last_index()), prev_term)
        hint_term = log.term(hint) or 0
        self.send(AppendResponse(self.term, self.id, m.frm, prev_index, True, hint, hint_term))

    def _on_heartbeat(self, m: Heartbeat) -> None:
        if not self._heard_from_leader(m):
            return
        self.log.commit_to(min(m.commit, self.log.last_index()))
        self.send(HeartbeatResponse(self.term, self.id, m.frm, m.ctx))

    def _on_snapshot(self, m: InstallSnapshot) -> None:
        if not self._heard_from_leader(m):
            return
        log, snap = self.log, m.snapshot
        if snap.index <= log.committed:
            pass
        elif log.match_term(snap.index, snap.term):
            log.commit_to(snap.index)
        else:
            log.restore(snap)
            self.voters = tuple(sorted(snap.conf.voters))
        self.send(AppendResponse(self.term, self.id, m.frm, log.committed, False, 0, 0))

    def _on_append_response(self, m: AppendResponse) -> None:
        if self._leader_state is not None:
            self._leader_state.on_append_response(m)

    def _on_heartbeat_response(self, m: HeartbeatResponse) -> None:
        if self._leader_state is not None:
            self._leader_state.on_heartbeat_response(m)

    def _on_timeout_now(self, m: TimeoutNow) -> None:
        if self.role is Role.FOLLOWER:
            self._campaign(pre=False, force=True)

    def _on_propose(self, m: Propose) -> None:
        if self._leader_state is not None:
            for entry in m.entries:
                if self._forwarded.first_time(entry.data):  # a duplicated message: once only
                    self._leader_state.propose(entry.kind, entry.data, origin=m.frm)

    def _on_read_index_request(self, m: ReadIndexRequest) -> None:
        if self._leader_state is not None:
            self._leader_state.read_index(m.ctx, m.frm)

    def _on_read_index_response(self, m: ReadIndexResponse) -> None:
        if self._leader_state is None:
            self.read_states.append(ReadState(m.ctx, m.index))

    # -- membership -------------------------------------------------------------------------------

    def _apply_conf_change(self, cc: ConfChange) -> None:
        voters = apply_conf_change(self.voters, cc)
        if voters == self.voters:
            return
        self.voters = voters
        if self._leader_state is not None:
            if not self.promotable():
                self._become_follower(self.term, None)  # the leader was removed: step down
            else:
                self._leader_state.conf_changed(cc)
        elif self._tally is not None and not self.promotable():
            self._become_follower(self.term, None)
