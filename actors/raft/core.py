"""RaftCore: the Raft consensus algorithm with no I/O (in the style of etcd-io/raft).

Theory of operation
-------------------
Inputs are ``tick()`` (one heartbeat interval passed), ``step(message)`` and the proposal calls;
the output is a :class:`Ready` batch that the shell persists, sends and applies before calling
``advance(ready)``. The core never blocks and never looks at a clock; randomness (the election
timeout) comes from the ``random.Random`` it is given.

The protocol itself lives in ``protocol`` (terms, elections, the follower side) and
``replication`` (the leader side); this module is the surface the shell uses. Safety needs the
shell to persist a Ready's snapshot, entries and hard state before any of its messages leave
the node, and to apply committed entries in order.

A follower forwards proposals (batched, at the next Ready) and ReadIndex requests to the leader
it knows; ``propose`` returning True only means the proposal went on its way. The caller learns
the outcome from the entries it applies (or a timeout), as with etcd. The leader appends a
forwarded proposal once even when the network delivers its message twice (``recentproposals``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from actors.raft.entries import ConfChange, ConfState, Entry, EntryKind, HardState, Snapshot
from actors.raft.log import RaftLog
from actors.raft.messages import Propose, ReadIndexRequest
from actors.raft.protocol import RaftProtocol, apply_conf_change, decode_conf_change
from actors.raft.readindex import ReadState
from actors.raft.ready import RaftConfig, RaftStatus, Ready, Role, SoftState
from emulator import wire

__all__ = ["RaftConfig", "RaftCore", "RaftStatus", "ReadState", "Ready", "Role", "SoftState"]


class RaftCore(RaftProtocol):
    """One Raft node: a fresh one, or one restarted from what its WAL and snapshot recovered."""

    def __init__(
        self,
        config: RaftConfig,
        voters: tuple[str, ...],
        rng: random.Random,
        *,
        hard_state: HardState | None = None,
        snapshot: Snapshot | None = None,
        entries: Sequence[Entry] = (),
    ) -> None:
        hs = hard_state or HardState(0, None, 0)
        log = RaftLog(snapshot, entries, hs.commit)
        conf = tuple(sorted(snapshot.conf.voters if snapshot else voters))
        for entry in entries:  # committed conf changes count; the log has the rest
            if log.snap_index < entry.index <= log.committed:
                if entry.kind == EntryKind.CONF_CHANGE:
                    cc = decode_conf_change(entry)
                    if cc is not None:
                        conf = apply_conf_change(conf, cc)
        super().__init__(config, conf, rng, log, hs)
        self._forward: list[Entry] = []  # proposals for the leader, sent at the next Ready
        self._prev_soft = SoftState(None, Role.FOLLOWER)
        self._prev_hard = hs
        self._offered_snapshot: Snapshot | None = None

    # -- proposals --------------------------------------------------------------------------------

    def propose(self, data: bytes) -> bool:
        """Propose a command; False when there is no known leader (or it is handing over)."""
        return self._propose(EntryKind.NORMAL, data)

    def propose_conf_change(self, cc: ConfChange) -> bool:
        """Propose adding or removing one voter; a leader refuses while another is pending."""
        return self._propose(EntryKind.CONF_CHANGE, wire.pack(cc))

    def read_index(self, ctx: bytes) -> bool:
        """Ask for a linearizable read; a ReadState(ctx, index) arrives in a later Ready."""
        if self._leader_state is not None:
            self._leader_state.read_index(ctx, self.id)
            return True
        if self.leader is None:
            return False
        self.send(ReadIndexRequest(self.term, self.id, self.leader, ctx))
        return True

    def commit_notice_pending(self) -> bool:
        """Leader with lazy commit notices: some follower holds entries it does not yet know
        are committed (the shell calls :meth:`send_commit_notices` a moment later)."""
        return self._leader_state is not None and self._leader_state.commit_notice_pending()

    def send_commit_notices(self) -> None:
        """Tell those followers the commit index at the next Ready."""
        if self._leader_state is not None:
            self._leader_state.send_commit_notices()

    def transfer_leadership(self, to: str) -> bool:
        """Leader only: hand leadership to ``to`` once its log is caught up (TimeoutNow)."""
        if self._leader_state is None:
            return False
        return self._leader_state.transfer(to)

    def compact(self, snapshot: Snapshot) -> None:
        """The shell captured its state machine at ``snapshot.index`` (<= applied)."""
        self.log.compact(snapshot)

    def make_snapshot(self, data: bytes) -> Snapshot:
        """A Snapshot of ``data`` (the state machine's bytes) at the applied index."""
        index = self.log.applied
        term = self.log.term(index)
        if term is None:
            raise ValueError(f"{self.id}: term of applied index {index} is unknown")
        return Snapshot(index, term, ConfState(self.voters), data)

    # -- output -----------------------------------------------------------------------------------

    def has_ready(self) -> bool:
        self._flush()
        if self._msgs or self.read_states:
            return True
        log, hard, soft = self.log, self._prev_hard, self._prev_soft
        return (
            self.term != hard.term
            or self.vote != hard.vote
            or log.committed != hard.commit
            or self.leader != soft.leader
            or self.role is not soft.role
            or log.has_unstable()
            or log.has_next_committed()
            or (
                log.pending_snapshot is not None
                and log.pending_snapshot is not self._offered_snapshot
            )
        )

    def ready(self) -> Ready:
        self._flush()
        log = self.log
        soft, hard = self._soft_state(), self._hard_state()
        snapshot = log.pending_snapshot
        if snapshot is self._offered_snapshot:
            snapshot = None
        entries = log.unstable_entries()
        committed = log.next_committed()
        rd = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=hard if hard != self._prev_hard else None,
            entries=tuple(entries),
            snapshot=snapshot,
            committed_entries=tuple(committed),
            messages=tuple(self._msgs),
            read_states=tuple(self.read_states),
        )
        log.offered(entries, committed)
        if snapshot is not None:
            self._offered_snapshot = snapshot
        self._prev_soft, self._prev_hard = soft, hard
        self._msgs = []
        self.read_states = []
        return rd

    def advance(self, rd: Ready) -> None:
        """The shell persisted, sent and applied ``rd``."""
        log = self.log
        if rd.snapshot is not None:
            log.snapshot_persisted(rd.snapshot)
        if rd.entries:
            last = rd.entries[-1]
            log.stable_to(last.index, last.term)
        if rd.committed_entries:
            for entry in rd.committed_entries:
                if entry.kind == EntryKind.CONF_CHANGE and entry.index > log.snap_index:
                    cc = decode_conf_change(entry)
                    if cc is not None:
                        self._apply_conf_change(cc)
            log.applied_to(rd.committed_entries[-1].index)

    def status(self) -> RaftStatus:
        leader = self._leader_state
        return RaftStatus(
            id=self.id,
            role=self.role,
            term=self.term,
            leader=self.leader,
            commit=self.log.committed,
            applied=self.log.applied,
            last_index=self.log.last_index(),
            voters=self.voters,
            progress=leader.status() if leader is not None else {},
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def _soft_state(self) -> SoftState:
        return SoftState(self.leader, self.role)

    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def _flush(self) -> None:
        if self._leader_state is not None:
            self._leader_state.flush()
        elif self._forward:
            if self.leader is not None:
                self.send(Propose(self.term, self.id, self.leader, tuple(self._forward)))
            self._forward = []

    def _propose(self, kind: int, data: bytes) -> bool:
        if self._leader_state is not None:
            return self._leader_state.propose(kind, data)
        if self.leader is None:
            return False
        self._forward.append(Entry(0, 0, kind, data))
        return True
