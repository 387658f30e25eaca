"""The etcd member actor: a thin Pykka shell around :class:`~actors.etcd.membercore.MemberCore`.

Everything that touches the Raft core or the keyspace runs on this actor, so neither needs a lock.
The actor lives on the node's event loop (:class:`~emulator.loopactor.LoopActor`), beside the
transport and the client port, so a write reaches it, leaves for the followers and comes back as
an answer without crossing a thread. The shell opens the WAL and snapshots on the node's disk,
subscribes to the ticker, hands the core its inputs (ticks, Raft messages, client requests) and
runs the core's Ready cycle once per burst of inputs: one ``call_soon`` after the first input of a
burst, so it runs after everything already queued on the loop (or at once every ``READY_BATCH``
inputs under load). That is the group commit that lets one fsync and one AppendEntries carry many
client writes. A leader's batch of writes has its WAL write and fsync done on the member's WAL
thread (the core's ``persist_aside`` port), so the loop takes in acks and the next writes
meanwhile. It also publishes the member's role for ``run.py status``.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from actors.etcd.membercore import (  # noqa: F401  (re-exported for the shell's users)
    REQUEST_TIMEOUT_S,
    MemberCore,
    MemberCounters,
)
from actors.etcd.requests import (  # noqa: F401  (re-exported: the client port imports them here)
    ClientBatch,
    ClientConfChange,
    ClientRead,
    ClientWatch,
    ClientWrite,
    ConfChangeOutcome,
    ConfChangeResult,
    MemberQuery,
    MemberSettings,
    Reply,
    WatchStarted,
    new_request_id,
)
from actors.raft.snapfile import SnapshotStore
from actors.raft.wal import WAL
from emulator.loopactor import LoopActor
from emulator.nodectx import NodeContext
from emulator.nodeloop import NodeLoop
from emulator.ticker import Tick

RAFT_ACTOR = "raft"
READY_BATCH = 64
# A leader's batch of this many writes has its WAL write and fsync done on the WAL thread while
# the loop takes in acks and the next writes; a lone write (c=1) has nothing to overlap with, and
# the two thread hand-offs would only lengthen its path.
ASIDE_MIN_ENTRIES = 2


class _NodeClocks:
    """The core's clock in a node: monotonic time for deadlines, the node's wall clock (where
    clock faults act) for TTL stamps."""

    def __init__(self, ctx: NodeContext):
        self.monotonic = time.monotonic
        self.time_ns = ctx.clock.time_ns


class EtcdMember(LoopActor):
    actor_name = RAFT_ACTOR

    def __init__(
        self,
        ctx: NodeContext,
        settings: MemberSettings,
        metrics: Any = None,
        loop: NodeLoop | None = None,
    ):
        super().__init__(ctx, loop)
        self.settings = settings
        self.metrics = metrics
        self._since_ready = 0
        self._ready_scheduled = False
        self._wal_jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._wal_thread = threading.Thread(
            target=self._run_wal_jobs, name=f"wal-{ctx.name}", daemon=True
        )

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
        snaps = SnapshotStore(base / "snap", log=self.log, disk=self.ctx.disk)
        self.member = MemberCore(
            self.ctx.name,
            self.settings,
            wal=self.wal,
            recovered=recovered,
            snaps=snaps,
            rng=random.Random(f"{self.ctx.seed}-{self.ctx.name}-{time.time_ns()}"),
            send=self._send,
            clock=_NodeClocks(self.ctx),
            log=self.log,
            persist_aside=self._persist_aside,
            aside_min_entries=ASIDE_MIN_ENTRIES,
            later=self._later,
        )
        self._wal_thread.start()
        self.ctx.ticker.subscribe(self.actor_ref, self.settings.heartbeat_ms / 1000.0)
        self._publish()

    def on_stop(self) -> None:
        if self._wal_thread.is_alive():
            self._wal_jobs.put(None)
            self._wal_thread.join(timeout=10)  # a WAL write under way finishes first
        self.wal.close()

    # --- the WAL thread: a leader's fsync runs there while the loop takes in acks and writes ---
    def _persist_aside(self, job: Callable[[], None], then: Callable[[Any], None]) -> None:
        def run() -> None:
            error = None
            try:
                job()
            except Exception as exc:
                error = exc
            try:
                self.loop.call_soon(self._guarded, lambda: then(error))
            except RuntimeError:  # the loop closed: the node is going down, nobody waits
                pass

        self._wal_jobs.put(run)

    def _run_wal_jobs(self) -> None:
        while (job := self._wal_jobs.get()) is not None:
            job()

    def _later(self, delay_s: float, fn: Callable[[], bool]) -> None:
        def run() -> None:
            if fn():
                self._ready()

        self.loop.loop.call_later(delay_s, self._guarded, run)

    def _send(self, msg: Any) -> None:
        self.send(msg.to, RAFT_ACTOR, msg)

    # --- inputs ------------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> None:
        self.member.tick()
        self._maybe_ready(force=True)
        self._publish()

    def on_message(self, source: str, msg: Any) -> None:
        self.member.step(msg)
        self._maybe_ready()

    def on_local(self, message: Any) -> Any:
        if isinstance(message, ClientBatch):
            for request in message.requests:
                self.member.handle(request)
            self._maybe_ready()
            return None
        if not self.member.handle(message):
            return super().on_local(message)
        self._maybe_ready()
        return None

    def _maybe_ready(self, force: bool = False) -> None:
        self._since_ready += 1
        if force or self._since_ready >= READY_BATCH:
            self._ready()
        elif not self._ready_scheduled:
            # after what is already queued on the loop: the rest of this burst joins the batch
            self._ready_scheduled = True
            self.call_soon(self._ready_soon)

    def _ready_soon(self) -> None:
        self._ready_scheduled = False
        if self._since_ready:
            self._ready()

    def _ready(self) -> None:
        self._since_ready = 0
        self.member.ready()

    # --- status --------------------------------------------------------------------------------
    def _publish(self) -> None:
        st = self.member.core.status()
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
