"""The etcd member's logic, sans-IO: the one member core that the Pykka actor drives in a node and
the simulator drives in virtual time (design: "One member, two drivers").

Theory of operation. The core owns the Raft core and the v2 keyspace and is driven by four
inputs: :meth:`tick` (one heartbeat interval), :meth:`step` (a Raft message from a peer),
:meth:`handle` (a client request carrying its ``reply`` callback) and :meth:`ready`, which runs
the Ready cycle — persist (one fsync for the whole batch), send, apply, answer. The driver calls
``ready`` when it likes: the actor once its inbox is empty (group commit), the simulator after
every input. Where it is safe a leader sends before its fsync and already-durable entries are
applied before it (:mod:`actors.etcd.readyorder` says when).

Persisting aside. A leader that sent first may also hand the Ready's WAL write to the optional
``persist_aside`` port and return: until the port calls back, ``ready`` hands out no other Ready,
while ``step``, ``handle`` and ``tick`` go on taking acks and new writes into the Raft core (as
etcd's raft node does while its Ready is being saved). Nothing leaves the core in that time, so
what others see is as if those inputs had waited for the fsync; the leader just has them parsed
and proposed by then, which is where a loaded leader's time went while it sat in the fsync.

A write is stamped with a request id and proposed; whichever member applies the entry answers the
waiting client if the id is its own. Quorum reads go through ReadIndex (or the log, or nowhere: see
:class:`~actors.etcd.requests.MemberSettings`); plain reads are served from the local keyspace, as
etcd's v2 API does. When the leader changes, writes and reads in flight are answered at once with
etcd's indeterminate "leader changed" error. TTL expiry is driven by the leader, which proposes a
SYNC with its clock; every member expires the same keys at the same index.

Ports, all handed in: ``wal`` and ``snaps`` (the WAL and snapshot files, on whatever disk the
driver chose), ``send(msg)`` for Raft messages, ``clock`` (``monotonic()`` for request deadlines,
``time_ns()`` for TTL stamps), ``log(event, **fields)``, an optional ``observer`` that sees
each Ready once persisted and each entry as applied (the simulator's checkers), and an optional
``persist_aside`` (:data:`~actors.etcd.memberports.PersistAside`) for Readies of at least
``aside_min_entries`` entries, and an optional ``later`` (:data:`~actors.etcd.memberports.Later`)
for timers.

Commit notices. With a ``later`` port the leader does not send an empty AppendEntries to every
follower each time its commit index moves (etcd's raft does). Followers learn it from the next
append, which under a steady stream of writes comes within a fraction of a millisecond anyway,
or from a heartbeat, and at the latest from a notice ``COMMIT_NOTICE_S`` after the commit: a
write then costs each follower one message each way instead of two. A follower that forwarded
the committed write (its client waits on its apply) is told at once. A follower that only
replicates applies after its ack has gone, not before (:mod:`actors.etcd.readyorder`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.etcd import v2api
from actors.etcd.appliedmarks import AppliedMarks
from actors.etcd.commands import V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.memberports import (
    Later,
    MemberClock,
    MemberCounters,
    MemberObserver,
    PendingRequest,
    PersistAside,
    StageTimes,
    member_view,
)
from actors.etcd.membership import MemberRemoved, MembershipChanges
from actors.etcd.raftstats import RaftStats
from actors.etcd.readyorder import ReadyOrder, ready_order
from actors.etcd.requests import (
    ClientConfChange,
    ClientRead,
    ClientWatch,
    ClientWrite,
    MemberQuery,
    MemberSettings,
    QueryKind,
    WatchStarted,
    new_request_id,
)
from actors.etcd.store import ApplyResult, KeyStore
from actors.raft.core import RaftCore
from actors.raft.entries import EntryKind, HardState
from actors.raft.messages import FROM_LEADER, AppendEntries, AppendResponse
from actors.raft.ready import RaftConfig, Ready, Role
from emulator import wire

REQUEST_TIMEOUT_S = 5.0
SYNC_INTERVAL_S = 0.5
# With a ``later`` port, followers learn a new commit index from the next append (a steady stream
# of writes carries it at no cost) or, at the latest, from a notice this long after the commit.
COMMIT_NOTICE_S = 0.002


class MemberCore:
    def __init__(
        self,
        node: str,
        settings: MemberSettings,
        *,
        wal: Any,
        recovered: Any,
        snaps: Any,
        rng: Any,
        send: Callable[[Any], None],
        clock: MemberClock,
        log: Callable[..., None],
        observer: MemberObserver | None = None,
        new_id: Callable[[], str] = new_request_id,
        raft_knobs: dict[str, Any] | None = None,
        persist_aside: PersistAside | None = None,
        aside_min_entries: int = 1,
        later: Later | None = None,
    ):
        self.node = node
        self.settings = s = settings
        self.wal, self.snaps = wal, snaps
        self._send, self.clock, self.log = send, clock, log
        self.observer = observer
        self._new_id = new_id
        self._persist_aside = persist_aside
        self._aside_min_entries = aside_min_entries
        self._later = later
        self._notice_since: float | None = None  # when followers began to lack a commit notice
        self._notice_armed = False
        self._persisting: Ready | None = None  # a Ready whose WAL write runs aside
        snapshot = snaps.load_newest()
        self.store = KeyStore()
        if snapshot is not None:
            self.store.restore(snapshot.data)
        entries = [e for e in recovered.entries if snapshot is None or e.index > snapshot.index]
        self._durable_state = recovered.hard_state
        config = RaftConfig(
            id=node,
            election_ticks=max(2, round(s.election_ms / s.heartbeat_ms)),
            heartbeat_ticks=1,
            **{"lazy_commit_notices": later is not None, **(raft_knobs or {})},
        )
        self.core = RaftCore(
            config,
            s.voters,
            rng,
            hard_state=recovered.hard_state,
            snapshot=snapshot,
            entries=entries,
        )
        self._snap_index = snapshot.index if snapshot else 0
        self.counters = MemberCounters()
        self.stats = RaftStats()
        self.stage_times = StageTimes()
        self._marks = AppliedMarks()
        self._writes: dict[str, PendingRequest] = {}
        self._proposed: dict[bytes, V2Request] = {}  # packed -> request, for writes proposed here
        self._reads: dict[bytes, PendingRequest] = {}
        self._read_waits: list[
            tuple[int, PendingRequest]
        ] = []  # ReadIndex answered, waiting to apply
        self.membership = MembershipChanges(self.core, new_id, log)
        self._last_sync = float("-inf")
        self._leader: str | None = None
        self.started = clock.time_ns() / 1e9
        self.leader_since = self.started  # when this member learned of the current leader
        self.leader_since_mono = clock.monotonic()  # the same, for an uptime no clock step bends
        log(
            "member.recovered",
            snapshot_index=self._snap_index,
            entries=len(entries),
            term=recovered.hard_state.term if recovered.hard_state else 0,
        )

    # --- inputs ------------------------------------------------------------------------------
    def tick(self) -> None:
        if not self.membership.removed:  # a removed member no longer campaigns
            self.core.tick()
        now = self.clock.monotonic()
        if self.core.role is Role.LEADER and now - self._last_sync >= SYNC_INTERVAL_S:
            self._last_sync = now
            if self.store.has_expiring_keys():
                self.core.propose(wire.pack(V2Request.sync(self.clock.time_ns())))
        self._expire_pending(now)
        self.membership.tick(now)

    def step(self, msg: Any) -> None:
        now = self.clock.monotonic()
        self.stats.received(msg, now)
        if type(msg) is AppendResponse and not msg.reject:
            self.stage_times.append_acked(msg.frm, msg.index, now)
        membership = self.membership
        if type(msg) is MemberRemoved:
            membership.told_removed(msg)
            return
        if msg.frm in membership.removed_peers:  # etcd answers 410 Gone; so do we, in Raft
            self._send(MemberRemoved(self.core.term, self.node, msg.frm))
            return
        if membership.removed and isinstance(msg, FROM_LEADER):
            membership.heard_from_leader()
        self.core.step(msg)

    def handle(self, message: Any) -> bool:
        """Take one client request; False if ``message`` is not one."""
        if isinstance(message, ClientWrite):
            self._propose(message)
        elif isinstance(message, ClientRead):
            self._read(message)
        elif isinstance(message, ClientWatch):
            self._watch(message)
        elif isinstance(message, MemberQuery):
            if message.kind is QueryKind.VIEW:
                message.reply(member_view(self))
            else:
                message.reply(self.watch_voters(message.listener))  # type: ignore[arg-type]
        elif isinstance(message, ClientConfChange):
            self.membership.propose(message, self.clock.monotonic() + REQUEST_TIMEOUT_S)
        else:
            return False
        return True

    def ready(self) -> None:
        """Run the Ready cycle until the Raft core has nothing left to hand out, or until a
        Ready's WAL write runs aside (the cycle goes on when it is done)."""
        while self._persisting is None and self.core.has_ready():
            self._handle_ready(self.core.ready())
        if self._later is not None:
            self._watch_commit_notices()

    def _watch_commit_notices(self) -> None:
        """A leader whose followers lack a commit notice sends one ``COMMIT_NOTICE_S`` after the
        commit, unless an append carried it meanwhile (checked after every Ready cycle: only a
        Ready sends anything)."""
        if not self.core.commit_notice_pending():
            self._notice_since = None
            return
        if self._notice_since is None:
            self._notice_since = self.clock.monotonic()
        if not self._notice_armed:
            self._arm_notice(self._notice_since)

    def _arm_notice(self, since: float) -> None:
        self._notice_armed = True
        wait = since + COMMIT_NOTICE_S - self.clock.monotonic()
        self._later(max(wait, 0.0), self._commit_notice_due)  # type: ignore[misc]

    def _commit_notice_due(self) -> bool:
        """The ``later`` timer; True when it asked for notices (the driver then runs the Ready
        cycle). Under load it mostly finds the commit carried already: that costs no Ready."""
        self._notice_armed = False
        since = self._notice_since
        if since is None:
            return False  # an append carried the commit meanwhile
        # a timer may fire a little early: what is left under a tenth of the wait counts as due
        if since + COMMIT_NOTICE_S - self.clock.monotonic() >= 0.0002:
            self._arm_notice(since)  # a newer commit is owed: wait out what is left of its delay
            return False
        self._notice_since = None
        self.core.send_commit_notices()
        return True

    # --- client requests -----------------------------------------------------------------------
    def _render(
        self, result: Any, etcd_index: int | None = None, no_value: bool = False
    ) -> v2api.Response:
        if isinstance(result, EtcdError):
            return v2api.render_error(result)
        return v2api.render_event(
            result,
            etcd_index=self.store.index if etcd_index is None else etcd_index,
            raft_index=self.core.log.committed,
            raft_term=self.core.term,
            no_value_on_success=no_value,
        )

    def _propose(self, msg: ClientWrite) -> None:
        req = msg.request
        data = wire.pack(req)
        if not self.core.propose(data):
            self.counters.proposals_failed += 1
            msg.reply(self._render(EtcdError.leader_election(self.store.index)))
            return
        self._proposed[data] = req  # applying it here needs no decoding
        now = self.clock.monotonic()
        self._writes[req.id] = PendingRequest(
            msg.reply, now + REQUEST_TIMEOUT_S, no_value=msg.no_value_on_success, data=data,
            proposed=now,
        )  # fmt: skip
        if msg.received:
            self.stage_times.add("queue", now - msg.received)  # client port to here
            if msg.arrived:
                self.stage_times.add("parse", msg.received - msg.arrived)

    def _local_get(self, read: Any) -> v2api.Response:
        got = self.store.get(read.path, read.recursive, read.sorted, self.clock.time_ns())
        return self._render(got)

    def _read(self, msg: ClientRead) -> None:
        read = msg.read
        if not read.quorum or self.settings.unsafe_reads:
            msg.reply(self._local_get(read))
            return
        if self.settings.quorum_reads_via_log:  # etcd 3.4's v2 QGET: a GET through the log
            stamped = read.stamped(self._new_id(), self.clock.time_ns())
            self._propose(ClientWrite(stamped, False, msg.reply))
            return
        ctx = self._new_id().encode()
        if not self.core.read_index(ctx):
            msg.reply(self._render(EtcdError.leader_election(self.store.index)))
            return
        deadline = self.clock.monotonic() + REQUEST_TIMEOUT_S
        self._reads[ctx] = PendingRequest(msg.reply, deadline, read)

    def _watch(self, msg: ClientWatch) -> None:
        w = msg.watch
        st = self.core.status()
        watcher = self.store.watch(
            w.path, w.recursive, w.stream, w.wait_index, msg.sink, msg.cancelled
        )
        if isinstance(watcher, EtcdError):
            msg.started(
                WatchStarted(v2api.render_error(watcher), (), self.store.index, st.commit, st.term)
            )
            return
        msg.started(WatchStarted(None, watcher.events, watcher.start_index, st.commit, st.term))

    def _fail_in_flight(self) -> None:
        """The leader changed: proposals and ReadIndex requests sent to the old one may be lost
        with it. Answer them now with etcd's indeterminate error (as for a timeout: the write may
        still commit) so clients retry at once instead of waiting out the request timeout."""
        error = EtcdError.timeout(self.store.index, "etcdserver: leader changed")
        for pending in [*self._writes.values(), *self._reads.values()]:
            pending.reply(self._render(error))
        self.counters.proposals_failed += len(self._writes)
        self._writes.clear()
        self._reads.clear()

    def _expire_pending(self, now: float) -> None:
        for key, pending in list(self._writes.items()):
            if pending.deadline <= now:
                del self._writes[key]
                self._proposed.pop(pending.data, None)
                self.counters.proposals_failed += 1
                pending.reply(self._render(EtcdError.timeout(self.store.index)))
        for key, pending in list(self._reads.items()):
            if pending.deadline <= now:
                del self._reads[key]
                pending.reply(self._render(EtcdError.timeout(self.store.index)))
        self.store.prune_watchers()

    # --- the Ready cycle ---------------------------------------------------------------------
    def _handle_ready(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            self.snaps.save(rd.snapshot)
            self.wal.mark_snapshot(rd.snapshot.index, rd.snapshot.term)
        order = ready_order(
            rd,
            leader=self.core.role is Role.LEADER,
            durable=self._durable_state,
            durable_last_index=self.wal.last_index,
            answers_waiting=bool(self._writes or self._read_waits),
        )
        if order.apply_first:  # answers go out before this Ready's messages and fsync
            for entry in rd.committed_entries:
                self._apply(entry)
        if order.send_first:
            self._send_all(rd.messages)
        hard_state = rd.hard_state
        if hard_state is not None and not rd.entries and self._only_commit_moved(hard_state):
            hard_state = None  # etcd's MustSync: a commit index need not be durable, skip the fsync
        if rd.entries or hard_state is not None:
            if (
                order.send_first
                and self._persist_aside is not None
                and len(rd.entries) >= self._aside_min_entries
            ):
                self._persisting = rd
                self.counters.persisted_aside += 1
                self._persist_aside(
                    lambda: self.wal.append(rd.entries, hard_state),
                    lambda error: self._persisted_aside(rd, order, hard_state, error),
                )
                return
            self.wal.append(rd.entries, hard_state)  # the WAL times its fsync (on_fsync)
        self._persisted(rd, order, hard_state)

    def _persisted_aside(
        self,
        rd: Ready,
        order: ReadyOrder,
        hard_state: HardState | None,
        error: BaseException | None,
    ) -> None:
        self._persisting = None
        if error is not None:
            raise error  # a failed fsync stops the member, as it does inline
        self._persisted(rd, order, hard_state)
        self.ready()  # inputs taken in meanwhile may have made another Ready

    def _persisted(self, rd: Ready, order: ReadyOrder, hard_state: HardState | None) -> None:
        """The rest of the Ready cycle, once its entries and hard state are durable."""
        if hard_state is not None:
            self._durable_state = hard_state
        if self.observer is not None:
            self.observer.persisted(rd)
        self._after_persist(rd)
        if not order.send_first:
            self._send_all(rd.messages)
        if rd.snapshot is not None:
            self.store.restore(rd.snapshot.data)
            self._snap_index = rd.snapshot.index
            self.log("member.snapshot_installed", index=rd.snapshot.index, term=rd.snapshot.term)
        if not order.apply_first:
            for entry in rd.committed_entries:
                self._apply(entry)
        self.core.advance(rd)
        if rd.soft_state is not None and rd.soft_state.leader != self._leader:
            self._leader = rd.soft_state.leader
            self.leader_since = self.clock.time_ns() / 1e9
            self.leader_since_mono = self.clock.monotonic()
            self.counters.leader_changes += 1
            self.log(
                "raft.leader_changed",
                leader=self._leader,
                term=self.core.term,
                role=rd.soft_state.role.value,
            )
            if rd.soft_state.role is Role.LEADER:
                self.stats.became_leader()
            self.stage_times.leadership_changed()
            self._fail_in_flight()
        for rs in rd.read_states:
            pending = self._reads.pop(rs.ctx, None)
            if pending is not None:
                self._read_waits.append((rs.index, pending))
        self._serve_reads()
        self._maybe_snapshot()

    def _only_commit_moved(self, hs: Any) -> bool:
        """Term and vote as on disk: Raft needs those durable before anyone hears of them, but
        the commit index is learned again from the leader after a restart."""
        was = self._durable_state
        return was is not None and hs.term == was.term and hs.vote == was.vote

    def _after_persist(self, rd: Ready) -> None:
        """A seam for the simulator's deliberately broken variants; nothing to do here."""

    def _send_all(self, messages: tuple[Any, ...]) -> None:
        now = self.clock.monotonic()
        for m in messages:
            self.stats.sent(m, now)
            if type(m) is AppendEntries and m.entries:
                self.stage_times.append_sent(m.to, m.entries[-1].index, now)
            self._send(m)

    def _apply(self, entry: Any) -> None:
        self.counters.applied += 1
        crc = self._marks.applied(entry.index, entry.term, entry.data)
        if crc is not None:  # checkers compare each window's CRC across nodes
            self.log(
                "raft.applied_mark",
                index=entry.index,
                term=entry.term,
                crc=crc,
                window=self._marks.window,
            )
        if entry.kind == EntryKind.CONF_CHANGE:
            self.membership.applied(entry)
        if entry.kind != EntryKind.NORMAL or not entry.data:
            if self.observer is not None:
                self.observer.applied(entry, None)
            return  # conf changes are applied by the core; b"" is a new leader's no-op
        req = self._proposed.pop(entry.data, None)
        try:
            if req is None:
                req = wire.unpack(entry.data)
        except wire.WireError as exc:
            self.log.error("apply.bad_entry", index=entry.index, error=str(exc))
            return
        if not isinstance(req, V2Request):
            self.log.error(
                "apply.bad_entry", index=entry.index, error=f"not a request: {type(req).__name__}"
            )
            return
        pending = self._writes.pop(req.id, None)
        started = self.clock.monotonic() if pending is not None else 0.0
        result: ApplyResult = self.store.apply(req, entry.index)
        if self.observer is not None:
            self.observer.applied(entry, req)
        if pending is not None:
            response = self._render(result.result, result.etcd_index, pending.no_value)
            rendered = self.clock.monotonic()
            pending.reply(response)
            times = self.stage_times
            times.add("replicate", started - pending.proposed)  # leader fsync + a quorum's acks
            times.add("apply", rendered - started)
            times.add("reply", self.clock.monotonic() - rendered)
        for sink, event in result.notifications:
            if callable(sink):
                sink(event)

    def _serve_reads(self) -> None:
        if not self._read_waits:
            return
        applied = self.core.log.applied
        still = []
        for index, pending in self._read_waits:
            if index <= applied:
                pending.reply(self._local_get(pending.read))
            else:
                still.append((index, pending))
        self._read_waits = still

    def _maybe_snapshot(self) -> None:
        applied = self.core.log.applied
        if applied - self._snap_index < self.settings.snapshot_count:
            return
        started = self.clock.monotonic()
        snap = self.core.make_snapshot(self.store.snapshot())
        self.snaps.save(snap)
        self.wal.mark_snapshot(snap.index, snap.term)
        self.core.compact(snap)
        self.wal.release_to(snap.index)
        self.snaps.purge()
        self._snap_index = snap.index
        took_ms = round((self.clock.monotonic() - started) * 1000, 1)  # the loop waits that long
        self.log("member.snapshot", index=snap.index, term=snap.term, took_ms=took_ms)

    def watch_voters(self, listener: Callable[[tuple[str, ...]], None]) -> tuple[str, ...]:
        """Call ``listener(voters)`` (on the driver's thread) whenever the voters change, from
        the next tick on; returns the voters now. For ``MemberQuery``."""
        return self.membership.watch_voters(listener)
