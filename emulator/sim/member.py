"""One simulated etcd member: the shipping :class:`~actors.etcd.membercore.MemberCore` on the shipping
WAL and snapshot files, over a simulated disk (:class:`~emulator.simdisk.SimDisk`).

``crash`` is a power cut: the disk drops what was not fsynced (a torn tail at a random byte) and
the core, its requests in flight and its outbox are gone; ``start`` reopens the WAL and snapshots
from what survived, exactly as a restarted node does. A crash may also strike *during* an fsync
(:class:`CrashingDisk`), leaving the batch being written torn on disk while the leader may already
have sent it (send-before-fsync). A failed fsync makes the WAL refuse further writes and the
member stops, as a node's does; the simulator then restarts it on a healthy disk.

The :class:`MemberProbe` passes each persisted Ready and each applied entry to the Raft safety
checker, and records at which (index, term) every client write was applied, so the simulation can
check that every acknowledged write is in every later leader's log.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.etcd.commands import V2Request
from actors.etcd.membercore import MemberCore
from actors.etcd.requests import MemberSettings
from actors.raft.core import RaftCore
from actors.raft.entries import Entry
from actors.raft.ready import Ready, Role
from actors.raft.snapfile import SnapshotStore
from actors.raft.wal import WAL
from emulator.disk import DiskFaults
from emulator.sim.checker import SafetyChecker
from emulator.sim.driver import SimClock
from emulator.sim.peer import SimPeer
from emulator.simdisk import SimDisk

ROOT = Path("/member")
# The WAL allocates ahead as on a real disk, a few records at a time here rather than 4 MiB, so
# the allocation, the zero tail a crash leaves and its replay come up often and stay cheap.
SIM_PREALLOCATE_BYTES = 1024


class CrashNow(Exception):
    """Raised from inside an fsync: the node loses power before the fsync completes."""


class CrashingDisk(SimDisk):
    """A SimDisk that can lose power in the middle of the next fsync."""

    crash_on_fsync = False

    def sync_cost(self, path: Path) -> None:
        if self.crash_on_fsync:
            self.crash_on_fsync = False
            raise CrashNow(str(path))
        super().sync_cost(path)


class SimLog:
    """The member's log in the simulator: to the trace when asked, else nowhere."""

    def __init__(self, node: str, sink: Callable[[str], None] | None):
        self._node, self._sink = node, sink

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        if self._sink is not None and event not in ("raft.applied_mark",):
            self._sink(f"{self._node} {event} {fields}")

    def error(self, event: str, **fields: Any) -> None:
        self(event, "error", **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self(event, "warning", **fields)


class TakenLog:
    """The log as it was when a Ready went aside: the terms from the last durable index to the
    last entry, frozen (inputs stepped in meanwhile may have truncated them in the live log),
    and the live log below (durable then; what the checker reads there is committed)."""

    def __init__(self, log: Any):
        self._live = log
        self._first = log.stable
        self._terms = [log.term(i) for i in range(log.stable, log.last_index() + 1)]

    @property
    def snap_index(self) -> int:
        return self._live.snap_index

    def term(self, index: int) -> int | None:
        at = index - self._first
        if 0 <= at < len(self._terms):
            return self._terms[at]
        return self._live.term(index) if at < 0 else None


class MemberProbe:
    def __init__(self, node: SimMember, checker: SafetyChecker, applied_at: dict[str, Any]):
        self.node, self.checker, self.applied_at = node, checker, applied_at

    def persisted(self, rd: Ready) -> None:
        core, name = self.node.member.core, self.node.id  # type: ignore[union-attr]
        log = self.node.finishing_log or core.log  # for a Ready that went aside: its own log
        self.node.finishing_log = None
        if rd.snapshot is not None:
            self.checker.restored(name, rd.snapshot.index)
        if rd.entries:
            self.checker.appended(name, rd.entries, log)
        if rd.hard_state is not None:
            self.checker.commit(name, rd.hard_state.commit, rd.hard_state.term, log)

    def applied(self, entry: Entry, request: V2Request | None) -> None:
        self.checker.applied(self.node.id, entry)
        if request is not None:
            self.applied_at.setdefault(request.id, (entry.index, entry.term))


class SimMember(SimPeer):
    def __init__(
        self,
        node_id: str,
        settings: MemberSettings,
        seed: int,
        clock: SimClock,
        checker: SafetyChecker,
        applied_at: dict[str, Any],
        core_class: type[MemberCore] = MemberCore,
        raft_knobs: dict[str, Any] | None = None,
        trace: Callable[[str], None] | None = None,
    ):
        super().__init__(node_id, checker)
        self.settings = settings
        self.seed = seed
        self.clock = clock
        self.applied_at = applied_at
        self.core_class = core_class
        self.raft_knobs = raft_knobs
        self.disk = CrashingDisk(random.Random(f"{seed}/{node_id}/disk"))
        self.log = SimLog(node_id, trace)
        self.outbox: list[Any] = []
        self.member: MemberCore | None = None
        # a leader's WAL write running aside, as the node's WAL thread runs it: (due step, job,
        # then, the log as its Ready found it)
        self.aside: tuple[int, Callable[[], None], Callable[[Any], None], TakenLog] | None = None
        self.finishing_log: TakenLog | None = None  # the same, while its outcome is handed back
        self._aside_rng = random.Random(f"{seed}/{node_id}/aside")
        # the member's timers (its ``later`` port): (due step, fn), run by the driver when due
        self.timers: list[tuple[int, Callable[[], bool]]] = []
        self._timer_rng = random.Random(f"{seed}/{node_id}/timers")
        self._ids = 0
        self.start()

    @property
    def core(self) -> RaftCore | None:  # type: ignore[override]
        return self.member.core if self.member is not None else None

    def start(self) -> None:
        self.disk.faults = DiskFaults()
        wal, recovered = WAL.open(
            ROOT / "wal",
            node=self.id,
            token="sim",
            log=self.log,
            disk=self.disk,
            preallocate_bytes=SIM_PREALLOCATE_BYTES,
        )
        snaps = SnapshotStore(ROOT / "snap", log=self.log, disk=self.disk)
        self.member = self.core_class(
            self.id,
            self.settings,
            wal=wal,
            recovered=recovered,
            snaps=snaps,
            rng=random.Random(f"{self.seed}/{self.id}/{self.restarts}"),
            send=self.outbox.append,
            clock=self.clock,
            log=self.log,
            observer=MemberProbe(self, self.checker, self.applied_at),
            new_id=self._new_id,
            raft_knobs=self.raft_knobs,
            persist_aside=self._persist_aside,
            later=self._later,
        )
        self._started(self.member.core.log.snap_index)

    def _persist_aside(self, job: Callable[[], None], then: Callable[[Any], None]) -> None:
        """The WAL write is done 1-3 network steps from now (:meth:`finish_aside`); messages
        delivered meanwhile are stepped into the core, as on the node's loop."""
        taken = TakenLog(self.member.core.log)  # type: ignore[union-attr]
        self.aside = (self.clock.step + self._aside_rng.randint(1, 3), job, then, taken)

    def _later(self, delay_s: float, fn: Callable[[], bool]) -> None:
        """A timer fires the steps ``delay_s`` takes, or up to two steps late (a busy loop)."""
        due = self.clock.step + self.clock.steps_in(delay_s) + self._timer_rng.randint(0, 2)
        self.timers.append((due, fn))

    def take_due_timers(self, step: int) -> list[Callable[[], bool]]:
        due = [fn for at, fn in self.timers if at <= step]
        self.timers = [(at, fn) for at, fn in self.timers if at > step]
        return due

    def aside_due(self, step: int) -> bool:
        return self.member is not None and self.aside is not None and self.aside[0] <= step

    def finish_aside(self) -> None:
        """Run the WAL write that is due and hand its outcome back to the core (a crash in the
        middle of its fsync raises, as an inline one does)."""
        assert self.aside is not None
        _, job, then, taken = self.aside
        self.aside = None
        # the probe checks the Ready that went aside against its own log, once: the Readies
        # its cycle goes on to run are checked against the live log
        self.finishing_log = taken
        try:
            job()
            error = None
        except OSError as exc:  # a failed fsync: the core raises it back, as the node's does
            error = exc
        try:
            then(error)
        finally:
            self.finishing_log = None

    def crash(self) -> dict[Path, int]:
        """Power off: requests in flight are never answered; unsynced bytes are torn (a WAL write
        still running aside never reached the disk)."""
        self.member = None
        self.aside = self.finishing_log = None
        self.timers.clear()
        self.outbox.clear()
        self.restarts += 1
        return self.disk.crash()

    def _new_id(self) -> str:
        self._ids += 1
        return f"{self.id}.{self.restarts}.{self._ids}"

    def take_outbox(self) -> list[Any]:
        out, self.outbox[:] = list(self.outbox), []
        return out


class AckOnAppend(MemberCore):
    """A deliberately broken member: a leader answers a write once the entry is on its *own*
    disk, before a quorum has it (the simulator must catch this)."""

    def _after_persist(self, rd: Ready) -> None:
        if self.core.role is not Role.LEADER:
            return
        from actors.etcd.v2api import Response

        for entry in rd.entries:
            req = self._proposed.get(entry.data)
            pending = self._writes.pop(req.id, None) if req is not None else None
            if pending is not None:
                pending.reply(Response(201, {}, b'{"action":"set"}'))


class UnsafeReads(MemberCore):
    """Quorum reads from local state (``unsafe_reads``), as a broken variant to catch."""

    def __init__(self, node: str, settings: MemberSettings, **kwargs: Any):
        from dataclasses import replace

        super().__init__(node, replace(settings, unsafe_reads=True), **kwargs)


BROKEN = {"ack-before-quorum": AckOnAppend, "unsafe-reads": UnsafeReads}
