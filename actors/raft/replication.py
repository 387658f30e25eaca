"""The leader's half of Raft: replication, commit, heartbeats, ReadIndex and leader transfer.

Theory of operation
-------------------
A ``Leader`` exists while its core leads one term; it is dropped when the core steps down.
It keeps a :class:`Progress` per voter (itself included, always matching its last index) and
sends through the core's outbox.

Sending is batched: proposals, acknowledgements and commit changes only mark followers as
*dirty*; ``flush`` (called when the shell asks for a Ready) sends each dirty follower one round
of AppendEntries — up to ``max_entries_per_append`` entries per message and, for a follower in
REPLICATE, as many messages as its window allows. A follower that needs compacted entries gets
the newest snapshot instead.

Commit: the highest index a majority of voters has matched, and only when that entry is of the
current term (the paper's Figure 8: counting replicas of older entries is unsafe). The no-op a
new leader appends is what lets it commit, and so serve ReadIndex requests, quickly.

Conf changes: one at a time. A proposal is refused until everything up to the previous one
(and the leader's own no-op) has been applied; the core applies committed changes and tells the
leader through ``conf_changed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.raft.entries import ConfChange, ConfChangeOp, Entry, EntryKind
from actors.raft.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    ReadIndexResponse,
    TimeoutNow,
)
from actors.raft.progress import Progress, ProgressState, quorum, quorum_index
from actors.raft.readindex import ReadIndexQueue, ReadState
from actors.raft.ready import FollowerStatus
from emulator import wire

if TYPE_CHECKING:
    from actors.raft.protocol import RaftProtocol

# A follower that has not acknowledged an InstallSnapshot after this many election timeouts
# gets it again (the transport gives no delivery reports).
SNAPSHOT_RETRY_ELECTIONS = 2


class Leader:
    def __init__(self, core: RaftProtocol) -> None:
        self.core = core
        self.log = core.log
        self.term = core.term
        self.id = core.id
        cfg = core.config
        self.max_entries = cfg.max_entries_per_append
        self.progress: dict[str, Progress] = {}
        for voter in core.voters:
            pr = Progress(self.log.last_index() + 1, cfg.max_inflight)
            pr.recent_active = voter == self.id
            self.progress[voter] = pr
        self.progress[self.id].become_replicate()
        self.reads = ReadIndexQueue()
        self._waiting_reads: list[tuple[bytes, str]] = []  # until a commit in this term
        self.committed_in_term = False
        self.transferee: str | None = None
        self._transfer_elapsed = 0
        self._heartbeat_elapsed = 0
        self._heartbeat_due = False
        self._dirty: dict[str, bool] = {}  # follower -> send even an empty append
        self.pending_conf_index = 0
        self.lazy_notices = cfg.lazy_commit_notices
        self._forwarded_last: dict[str, int] = {}  # follower -> last entry it forwarded (lazy)
        self._append(EntryKind.NORMAL, b"")  # the no-op that lets this term commit
        self.pending_conf_index = self.log.last_index()

    # -- proposals -----------------------------------------------------------------------------

    def propose(self, kind: int, data: bytes, origin: str | None = None) -> bool:
        """Append a proposal; ``origin`` is the follower that forwarded it, if one did."""
        if self.transferee is not None:
            return False
        if kind == EntryKind.CONF_CHANGE:
            if self.pending_conf_index > self.log.applied:
                return False
            if not self._conf_change_valid(data):
                return False
        self._append(kind, data)
        if kind == EntryKind.CONF_CHANGE:
            self.pending_conf_index = self.log.last_index()
        if origin is not None and self.lazy_notices:
            self._forwarded_last[origin] = self.log.last_index()
        return True

    def _conf_change_valid(self, data: bytes) -> bool:
        try:
            cc = wire.unpack(data)
        except wire.WireError:
            return False
        if not isinstance(cc, ConfChange):
            return False
        voters = self.core.voters
        if cc.op == ConfChangeOp.ADD_NODE:
            return cc.node not in voters
        if cc.op == ConfChangeOp.REMOVE_NODE:
            return cc.node in voters and len(voters) > 1
        return False

    def _append(self, kind: int, data: bytes) -> None:
        index = self.log.last_index() + 1
        self.log.append([Entry(self.term, index, kind, data)])
        own = self.progress.get(self.id)
        if own is not None:
            own.maybe_update(index)
        for peer in self.progress:
            if peer != self.id:
                self._dirty.setdefault(peer, False)
        self.maybe_commit()

    # -- commit --------------------------------------------------------------------------------

    def maybe_commit(self) -> bool:
        voters = self.core.voters
        matches = [self.progress[v].match if v in self.progress else 0 for v in voters]
        if not self.log.maybe_commit(quorum_index(matches), self.term):
            return False
        if self.lazy_notices:
            # a follower that forwarded a proposal now committed answers its client once it
            # applies it: tell that one at once; the others learn it lazily (RaftConfig)
            committed = self.log.committed
            for peer, last in list(self._forwarded_last.items()):
                if last <= committed:
                    del self._forwarded_last[peer]
                    if peer in self.progress:
                        self._dirty[peer] = True
        else:
            for peer in self.progress:
                if peer != self.id:
                    self._dirty[peer] = True  # tell followers the new commit index
        if not self.committed_in_term:
            self.committed_in_term = True
            waiting, self._waiting_reads = self._waiting_reads, []
            for ctx, requester in waiting:
                self.read_index(ctx, requester)
        return True

    # -- responses -----------------------------------------------------------------------------

    def on_append_response(self, m: AppendResponse) -> None:
        pr = self.progress.get(m.frm)
        if pr is None:
            return
        pr.recent_active = True
        if m.reject:
            hint = self.log.find_conflict_by_term(m.hint_index, m.hint_term)
            if pr.maybe_decr_to(m.index, hint):
                self._dirty[m.frm] = True
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            if was_paused and not pr.is_paused():
                self._dirty.setdefault(m.frm, False)
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
            pr.become_probe()
            pr.become_replicate()
        self.maybe_commit()
        self._dirty.setdefault(m.frm, False)  # what it lacks and was not sent yet, if anything
        if m.frm == self.transferee and pr.match == self.log.last_index():
            self.core.send(TimeoutNow(self.term, self.id, m.frm))

    def on_heartbeat_response(self, m: HeartbeatResponse) -> None:
        pr = self.progress.get(m.frm)
        if pr is None:
            return
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state is ProgressState.REPLICATE and pr.is_paused():
            pr.free_one()
        if pr.match < self.log.last_index():
            self._dirty[m.frm] = True
        if m.ctx:
            for read in self.reads.ack(m.ctx, m.frm, self.core.voters):
                self._answer_read(read.ctx, read.index, read.requester)

    # -- ReadIndex -----------------------------------------------------------------------------

    def read_index(self, ctx: bytes, requester: str) -> None:
        if not self.committed_in_term:
            self._waiting_reads.append((ctx, requester))
            return
        if self.core.voters == (self.id,):
            self._answer_read(ctx, self.log.committed, requester)
        elif self.reads.add(ctx, self.log.committed, requester, self.id):
            self._heartbeat_due = True

    def _answer_read(self, ctx: bytes, index: int, requester: str) -> None:
        if requester == self.id:
            self.core.read_states.append(ReadState(ctx, index))
        else:
            self.core.send(ReadIndexResponse(self.term, self.id, requester, ctx, index))

    # -- commit notices (RaftConfig.lazy_commit_notices) ----------------------------------------

    def _owed_notice(self) -> list[str]:
        """Followers holding committed entries they were not told are committed."""
        committed, me = self.log.committed, self.id  # (asked after every Ready: kept plain)
        return [
            peer
            for peer, pr in self.progress.items()
            if pr.commit_sent < committed and pr.commit_sent < pr.match and peer != me
        ]

    def commit_notice_pending(self) -> bool:
        return bool(self._owed_notice())

    def send_commit_notices(self) -> None:
        """Tell them at the next flush (an empty append where nothing else is due)."""
        for peer in self._owed_notice():
            self._dirty[peer] = True

    # -- time ----------------------------------------------------------------------------------

    def tick(self) -> None:
        self._heartbeat_elapsed += 1
        if self._heartbeat_elapsed >= self.core.config.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            self._heartbeat_due = True
        retry = SNAPSHOT_RETRY_ELECTIONS * self.core.config.election_ticks
        for pr in self.progress.values():
            if pr.state is ProgressState.SNAPSHOT:
                pr.snapshot_elapsed += 1
                if pr.snapshot_elapsed >= retry:
                    pr.snapshot_lost()
        if self.transferee is not None:
            self._transfer_elapsed += 1
            if self._transfer_elapsed >= self.core.config.election_ticks:
                self.transferee = None

    def quorum_active(self) -> bool:
        """Check quorum: did a majority (self included) answer since the last check?"""
        active = 0
        for peer, pr in self.progress.items():
            if peer == self.id or pr.recent_active:
                if peer in self.core.voters:
                    active += 1
            pr.recent_active = peer == self.id
        return active >= quorum(len(self.core.voters))

    # -- leader transfer -----------------------------------------------------------------------

    def transfer(self, to: str) -> bool:
        if to == self.id or to not in self.progress:
            return False
        if self.transferee == to:
            return True
        self.transferee = to
        self._transfer_elapsed = 0
        if self.progress[to].match == self.log.last_index():
            self.core.send(TimeoutNow(self.term, self.id, to))
        else:
            self._dirty[to] = True
        return True

    # -- membership ----------------------------------------------------------------------------

    def conf_changed(self, cc: ConfChange) -> None:
        if cc.op == ConfChangeOp.ADD_NODE and cc.node not in self.progress:
            self.progress[cc.node] = Progress(
                self.log.last_index() + 1, self.core.config.max_inflight
            )
            self._dirty[cc.node] = True
        elif cc.op == ConfChangeOp.REMOVE_NODE:
            self.progress.pop(cc.node, None)
            self._dirty.pop(cc.node, None)
            if self.transferee == cc.node:
                self.transferee = None
        self.maybe_commit()  # the quorum may have shrunk

    # -- sending -------------------------------------------------------------------------------

    def flush(self) -> None:
        if self._heartbeat_due:
            self._heartbeat_due = False
            ctx = self.reads.last_ctx()
            committed = self.log.committed
            for peer, pr in self.progress.items():
                if peer != self.id:
                    commit = min(pr.match, committed)
                    self.core.send(Heartbeat(self.term, self.id, peer, commit, ctx))
                    pr.commit_sent = max(pr.commit_sent, commit)
        if self._dirty:
            dirty, self._dirty = self._dirty, {}
            for peer, send_if_empty in dirty.items():
                if peer in self.progress:
                    self._send_append(peer, send_if_empty)

    def _send_append(self, peer: str, send_if_empty: bool) -> None:
        pr = self.progress[peer]
        log = self.log
        last = log.last_index()
        while not pr.is_paused():
            if pr.next > last + 1:
                pr.next = last + 1
            prev = pr.next - 1
            prev_term = log.term(prev)
            if prev_term is None:
                self._send_snapshot(peer, pr)
                return
            entries = tuple(log.slice(pr.next, pr.next + self.max_entries))
            if not entries and not send_if_empty:
                return
            committed = log.committed
            self.core.send(
                AppendEntries(self.term, self.id, peer, prev, prev_term, entries, committed)
            )
            last_sent = entries[-1].index if entries else prev
            if pr.commit_sent < committed:  # a follower commits up to what the append covers
                pr.commit_sent = max(pr.commit_sent, min(committed, last_sent))
            pr.sent(entries[-1].index if entries else None)
            if pr.state is not ProgressState.REPLICATE or pr.next > last:
                return
            send_if_empty = False

    def _send_snapshot(self, peer: str, pr: Progress) -> None:
        snapshot = self.log.snapshot
        if snapshot is None or not pr.recent_active:
            return
        self.core.send(InstallSnapshot(self.term, self.id, peer, snapshot))
        pr.become_snapshot(snapshot.index)

    # -- status --------------------------------------------------------------------------------

    def status(self) -> dict[str, FollowerStatus]:
        return {
            peer: FollowerStatus(pr.match, pr.next, pr.state.value)
            for peer, pr in self.progress.items()
        }
