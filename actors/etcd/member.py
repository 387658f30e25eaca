"""The etcd member actor: drives the Raft core, its WAL and snapshots, and the v2 keyspace.

Theory of operation. Everything that touches the Raft core or the keyspace runs on this actor's
thread, so neither needs a lock. Inputs are ticks, Raft messages from peers and client requests
from the HTTP thread (each carrying a ``reply`` callback that hands the answer back to asyncio).
After an input the actor runs the Ready cycle — persist (one fsync for the whole batch), send,
apply, answer — but only once its inbox is empty (or every ``READY_BATCH`` inputs under load):
that is the group commit that lets one fsync and one AppendEntries carry many client writes.
Where it is safe, a leader sends before its fsync and already-durable entries are applied before
it (:mod:`actors.etcd.readyorder` says when), so a write waits for fewer fsyncs in a row.

A write is stamped with a request id and proposed; whichever member applies the entry answers the
waiting client if the id is its own. Quorum reads go through ReadIndex; plain reads are served from
the local keyspace, as etcd's v2 API does. TTL expiry is driven by the leader, which proposes a
SYNC with its clock; every member expires the same keys at the same index.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from actors.etcd import v2api
from actors.etcd.commands import V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.raftstats import RaftStats
from actors.etcd.readyorder import ready_order
from actors.etcd.store import ApplyResult, KeyStore
from actors.raft.core import RaftCore
from actors.raft.entries import ConfChange, ConfChangeOp, EntryKind
from actors.raft.protocol import apply_conf_change, decode_conf_change
from actors.raft.ready import RaftConfig, Ready, Role
from actors.raft.snapfile import SnapshotStore
from actors.raft.wal import WAL
from emulator import wire
from emulator.nodectx import NodeActor, NodeContext
from emulator.ticker import Tick

RAFT_ACTOR = "raft"
READY_BATCH = 64
REQUEST_TIMEOUT_S = 5.0
SYNC_INTERVAL_S = 0.5
APPLIED_MARK_EVERY = 25  # log every 25th applied entry: checkers compare them across nodes

Reply = Callable[[Any], None]


@dataclass(frozen=True)
class MemberSettings:
    voters: tuple[str, ...]
    heartbeat_ms: int = 100
    election_ms: int = 1000
    snapshot_count: int = 10000
    token: str = ""
    # Answer quorum reads from this member's own state, skipping ReadIndex: a deliberate bug
    # (stale reads from a deposed leader or a lagging follower) for checking the checkers.
    # On when the node's environment has COREEMU_UNSAFE_READS=1.
    unsafe_reads: bool = False
    # Quorum reads through the Raft log (etcd's v2 QGET) instead of ReadIndex: slower, for
    # comparing like with like against etcd (COREEMU_QUORUM_READS=log).
    quorum_reads_via_log: bool = False


# --- requests from the HTTP thread (local messages, never on the wire) --------------------------
@dataclass(frozen=True)
class ClientWrite:
    request: V2Request
    no_value_on_success: bool
    reply: Reply  # called once with a v2api.Response


@dataclass(frozen=True)
class ClientRead:
    read: v2api.Read
    reply: Reply  # called once with a v2api.Response


@dataclass(frozen=True)
class ClientWatch:
    watch: v2api.Watch
    started: Reply  # called once with a WatchStarted
    sink: Reply  # called with each later event (store Event) that matches
    cancelled: Callable[[], bool]


@dataclass(frozen=True)
class WatchStarted:
    error: v2api.Response | None  # e.g. 401: the index is older than the history keeps
    events: tuple[Any, ...]  # found in the history: answer with these at once
    start_index: int
    raft_index: int
    raft_term: int


@dataclass(frozen=True)
class ClientBatch:
    """Several client requests at once (one crossing of threads), handled in order."""

    requests: tuple[Any, ...]


@dataclass(frozen=True)
class ClientCall:
    """Run ``fn(member)`` on the member's thread and reply with its result (stats, members)."""

    fn: Callable[[EtcdMember], Any]
    reply: Reply


@dataclass(frozen=True)
class ClientConfChange:
    """Add or remove one voter through Raft (``/v2/members``). ``reply`` is called once with a
    :class:`ConfChangeOutcome`: when the change is applied here, refused, or timed out."""

    op: ConfChangeOp
    node: str  # the node (Raft id) to add or remove
    peer_urls: tuple[str, ...]
    reply: Reply


class ConfChangeResult(Enum):
    APPLIED = "applied"
    ALREADY_VOTER = "already-voter"  # add: the node is a voter already
    NOT_VOTER = "not-voter"  # remove: the node is not a voter
    LAST_VOTER = "last-voter"  # remove: it is the only voter left
    NO_LEADER = "no-leader"
    BUSY = "busy"  # the leader has another membership change in flight
    TIMED_OUT = "timed-out"


@dataclass(frozen=True)
class ConfChangeOutcome:
    result: ConfChangeResult
    voters: tuple[str, ...]  # after the change when applied, else as this member sees them


@dataclass
class _Pending:
    reply: Reply
    deadline: float
    read: Any = None
    no_value: bool = False
    data: bytes = b""  # a write's packed request, as proposed


@dataclass
class MemberCounters:
    proposals_failed: int = 0
    leader_changes: int = 0
    applied: int = 0


class EtcdMember(NodeActor):
    actor_name = RAFT_ACTOR

    def __init__(self, ctx: NodeContext, settings: MemberSettings, metrics: Any = None):
        super().__init__(ctx)
        self.settings = settings
        self.metrics = metrics
        self.counters = MemberCounters()
        self.stats = RaftStats()
        self._writes: dict[str, _Pending] = {}
        self._proposed: dict[bytes, V2Request] = {}  # packed -> request, for writes proposed here
        self._reads: dict[bytes, _Pending] = {}
        self._read_waits: list[tuple[int, _Pending]] = []  # ReadIndex answered, waiting to apply
        self._since_ready = 0
        self._last_sync = 0.0
        self._leader: str | None = None
        self.leader_since = time.time()  # when this member learned of the current leader
        self.started = time.time()
        self._conf_changes: dict[str, _Pending] = {}  # request id -> waiting /v2/members call
        self._voters_listener: Callable[[tuple[str, ...]], None] | None = None
        self._voters_seen: tuple[str, ...] = ()

    # --- start: recover from disk ----------------------------------------------------------
    def on_start(self) -> None:
        base = self.ctx.data_dir / "member"
        self.wal, recovered = WAL.open(
            base / "wal",
            node=self.ctx.name,
            token=self.settings.token,
            log=self.log,
            on_fsync=self.metrics.fsync.observe if self.metrics is not None else None,
            disk=self.ctx.disk,
        )
        self.snaps = SnapshotStore(base / "snap", log=self.log, disk=self.ctx.disk)
        snapshot = self.snaps.load_newest()
        self.store = KeyStore()
        if snapshot is not None:
            self.store.restore(snapshot.data)
        entries = [e for e in recovered.entries if snapshot is None or e.index > snapshot.index]
        self._durable_state = recovered.hard_state
        s = self.settings
        self.core = RaftCore(
            RaftConfig(
                id=self.ctx.name,
                election_ticks=max(2, round(s.election_ms / s.heartbeat_ms)),
                heartbeat_ticks=1,
            ),
            s.voters,
            random.Random(f"{self.ctx.seed}-{self.ctx.name}-{time.time_ns()}"),
            hard_state=recovered.hard_state,
            snapshot=snapshot,
            entries=entries,
        )
        self._snap_index = snapshot.index if snapshot else 0
        self.log(
            "member.recovered",
            snapshot_index=self._snap_index,
            entries=len(entries),
            term=recovered.hard_state.term if recovered.hard_state else 0,
        )
        self.ctx.ticker.subscribe(self.actor_ref, s.heartbeat_ms / 1000.0)
        self._publish()

    def on_stop(self) -> None:
        self.wal.close()

    # --- inputs ------------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self.core.tick()
        now = time.monotonic()
        if self.core.role is Role.LEADER and now - self._last_sync >= SYNC_INTERVAL_S:
            self._last_sync = now
            if self.store.has_expiring_keys():
                self.core.propose(wire.pack(V2Request.sync(self.ctx.clock.time_ns())))
        self._expire_pending(now)
        self._conf_tick(now)
        self._maybe_ready(force=True)
        self._publish()

    def on_message(self, source: str, msg: Any) -> None:
        self.stats.received(msg, time.monotonic())
        self.core.step(msg)
        self._maybe_ready()

    def on_local(self, message: Any) -> Any:
        if isinstance(message, ClientBatch):
            for request in message.requests:
                self._client(request)
            self._maybe_ready()
            return None
        if not self._client(message):
            return super().on_local(message)
        self._maybe_ready()
        return None

    def _client(self, message: Any) -> bool:
        """Take one client request; False if ``message`` is not one."""
        if isinstance(message, ClientWrite):
            self._propose(message)
        elif isinstance(message, ClientRead):
            self._read(message)
        elif isinstance(message, ClientWatch):
            self._watch(message)
        elif isinstance(message, ClientCall):
            message.reply(message.fn(self))
        elif isinstance(message, ClientConfChange):
            self._conf_change(message)
        else:
            return False
        return True

    # --- client requests -----------------------------------------------------------------------
    def _render(
        self, result: Any, etcd_index: int | None = None, no_value: bool = False
    ) -> v2api.Response:
        if isinstance(result, EtcdError):
            return v2api.render_error(result)
        core = self.core
        return v2api.render_event(
            result,
            etcd_index=self.store.index if etcd_index is None else etcd_index,
            raft_index=core.log.committed,
            raft_term=core.term,
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
        self._writes[req.id] = _Pending(
            msg.reply,
            time.monotonic() + REQUEST_TIMEOUT_S,
            no_value=msg.no_value_on_success,
            data=data,
        )

    def _read(self, msg: ClientRead) -> None:
        read = msg.read
        if not read.quorum or self.settings.unsafe_reads:
            msg.reply(
                self._render(
                    self.store.get(read.path, read.recursive, read.sorted, self.ctx.clock.time_ns())
                )
            )
            return
        if self.settings.quorum_reads_via_log:  # etcd 3.4's v2 QGET: a GET through the log
            stamped = read.stamped(new_request_id(), time.time_ns())
            self._propose(ClientWrite(stamped, False, msg.reply))
            return
        ctx = new_request_id().encode()
        if not self.core.read_index(ctx):
            msg.reply(self._render(EtcdError.leader_election(self.store.index)))
            return
        self._reads[ctx] = _Pending(msg.reply, time.monotonic() + REQUEST_TIMEOUT_S, read)

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
    def _maybe_ready(self, force: bool = False) -> None:
        self._since_ready += 1
        if not force and not self.actor_inbox.empty() and self._since_ready < READY_BATCH:
            return  # more input is queued: let it join this batch
        self._since_ready = 0
        while self.core.has_ready():
            self._handle_ready(self.core.ready())

    def _handle_ready(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            self.snaps.save(rd.snapshot)
            self.wal.mark_snapshot(rd.snapshot.index, rd.snapshot.term)
        order = ready_order(
            rd,
            leader=self.core.role is Role.LEADER,
            durable=self._durable_state,
            durable_last_index=self.wal.last_index,
        )
        if order.send_first:
            self._send_all(rd.messages)
        if order.apply_first:
            for entry in rd.committed_entries:
                self._apply(entry)
        if rd.entries or rd.hard_state is not None:
            self.wal.append(rd.entries, rd.hard_state)  # the WAL times its fsync (on_fsync)
            if rd.hard_state is not None:
                self._durable_state = rd.hard_state
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
            self.leader_since = time.time()
            self.counters.leader_changes += 1
            self.log(
                "raft.leader_changed",
                leader=self._leader,
                term=self.core.term,
                role=rd.soft_state.role.value,
            )
            if rd.soft_state.role is Role.LEADER:
                self.stats.became_leader()
            self._fail_in_flight()
        for rs in rd.read_states:
            pending = self._reads.pop(rs.ctx, None)
            if pending is not None:
                self._read_waits.append((rs.index, pending))
        self._serve_reads()
        self._maybe_snapshot()

    def _send_all(self, messages: tuple[Any, ...]) -> None:
        now = time.monotonic()
        for m in messages:
            self.stats.sent(m, now)
            self.send(m.to, RAFT_ACTOR, m)

    def _apply(self, entry: Any) -> None:
        self.counters.applied += 1
        if entry.index % APPLIED_MARK_EVERY == 0:
            self.log(
                "raft.applied_mark", index=entry.index, term=entry.term, crc=zlib.crc32(entry.data)
            )
        if entry.kind == EntryKind.CONF_CHANGE:
            self._conf_applied(entry)
        if entry.kind != EntryKind.NORMAL or not entry.data:
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
        result: ApplyResult = self.store.apply(req, entry.index)
        pending = self._writes.pop(req.id, None)
        if pending is not None:
            pending.reply(self._render(result.result, result.etcd_index, pending.no_value))
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
                r = pending.read
                pending.reply(
                    self._render(
                        self.store.get(r.path, r.recursive, r.sorted, self.ctx.clock.time_ns())
                    )
                )
            else:
                still.append((index, pending))
        self._read_waits = still

    def _maybe_snapshot(self) -> None:
        applied = self.core.log.applied
        if applied - self._snap_index < self.settings.snapshot_count:
            return
        snap = self.core.make_snapshot(self.store.snapshot())
        self.snaps.save(snap)
        self.wal.mark_snapshot(snap.index, snap.term)
        self.core.compact(snap)
        self.wal.release_to(snap.index)
        self.snaps.purge()
        self._snap_index = snap.index
        self.log("member.snapshot", index=snap.index, term=snap.term)

    # --- membership changes (/v2/members) -------------------------------------------------------
    def _conf_change(self, msg: ClientConfChange) -> None:
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
        rid = new_request_id()
        context = json.dumps({"request": rid, "peerURLs": list(msg.peer_urls)}).encode()
        if not self.core.propose_conf_change(ConfChange(int(msg.op), msg.node, context)):
            busy = self.core.leader is not None
            msg.reply(
                ConfChangeOutcome(
                    ConfChangeResult.BUSY if busy else ConfChangeResult.NO_LEADER, voters
                )
            )
            return
        self._conf_changes[rid] = _Pending(msg.reply, time.monotonic() + REQUEST_TIMEOUT_S)
        self.log("member.conf_change_proposed", op=ConfChangeOp(msg.op).name, node=msg.node)

    def _conf_applied(self, entry: Any) -> None:
        """A committed conf change is being applied (the core applies it at ``advance``)."""
        cc = decode_conf_change(entry)
        if cc is None:
            return
        after = apply_conf_change(self.core.voters, cc)
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
        pending = self._conf_changes.pop(rid, None) if rid else None
        if pending is not None:
            pending.reply(ConfChangeOutcome(ConfChangeResult.APPLIED, after))

    def _conf_tick(self, now: float) -> None:
        for rid, pending in list(self._conf_changes.items()):
            if pending.deadline <= now:
                del self._conf_changes[rid]
                pending.reply(ConfChangeOutcome(ConfChangeResult.TIMED_OUT, self.core.voters))
        voters = self.core.voters
        if self._voters_listener is not None and voters != self._voters_seen:
            self._voters_seen = voters
            self._voters_listener(voters)

    def watch_voters(self, listener: Callable[[tuple[str, ...]], None]) -> tuple[str, ...]:
        """Call ``listener(voters)`` (on this actor's thread) whenever the voters change, from
        the next tick on; returns the voters now. For ``ClientCall``."""
        self._voters_listener = listener
        self._voters_seen = self.core.voters
        return self._voters_seen

    # --- status --------------------------------------------------------------------------------
    def _publish(self) -> None:
        st = self.core.status()
        role = st.role.value  # "pre-candidate" too: a node that cannot win a pre-vote shows it
        self.ctx.board.publish(
            "top",
            {
                "role": role,
                "term": st.term,
                "leader": st.leader,
                "commit_index": st.commit,
                "applied_index": st.applied,
            },
        )
        self.ctx.board.publish("raft", {"role": role, "term": st.term, "leader": st.leader})


_ID_PREFIX = os.urandom(8).hex()  # this process's requests: unique across members and restarts
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id no other request of the cluster has (cheaper than a uuid4 per request)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
