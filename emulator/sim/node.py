"""One simulated node: a RaftCore, the storage it persisted to, and its state machine.

``process`` is the shell's Ready loop (persist, send, apply, advance), reporting every step to
the :class:`SafetyChecker`: what the state machine answered to each entry, and a digest of its
snapshot every ``state_check_every`` indexes and whenever a snapshot is taken or restored.
``crash`` forgets everything but the storage; ``start`` rebuilds the core and the state machine
from it, as a restarted process would from its WAL and snapshot.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from actors.raft.core import RaftConfig, RaftCore, Ready
from actors.raft.entries import Entry, HardState, Snapshot
from emulator.sim.checker import SafetyChecker
from emulator.sim.peer import SimPeer
from emulator.sim.statemachine import KvStateMachine, StateMachine


class SimStorage:
    """What survives a crash: exactly what the node persisted from its Ready batches."""

    def __init__(self) -> None:
        self.hard_state: HardState | None = None
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []

    @property
    def snap_index(self) -> int:
        return self.snapshot.index if self.snapshot else 0

    def save(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            self.entries = []
        if rd.entries:
            first = rd.entries[0].index
            del self.entries[max(first - self.snap_index - 1, 0) :]
            self.entries.extend(rd.entries)
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state

    def compact(self, snapshot: Snapshot) -> None:
        if snapshot.index <= self.snap_index:
            return
        del self.entries[: snapshot.index - self.snap_index]
        self.snapshot = snapshot


class SimNode(SimPeer):
    def __init__(
        self,
        node_id: str,
        voters: tuple[str, ...],
        config: RaftConfig,
        seed: str,
        checker: SafetyChecker,
        state_machine: Callable[[], StateMachine] = KvStateMachine,
        compact_every: int = 0,
        state_check_every: int = 0,
    ) -> None:
        super().__init__(node_id, checker)
        self.voters = voters
        self.config = config
        self.seed = seed
        self.state_machine = state_machine
        self.compact_every = compact_every
        self.state_check_every = state_check_every
        self.storage = SimStorage()
        self.core: RaftCore | None = None
        self.sm: StateMachine | None = None
        self.start()

    def start(self) -> None:
        st = self.storage
        rng = random.Random(f"{self.seed}/{self.id}/{self.restarts}")
        self.core = RaftCore(
            self.config,
            self.voters,
            rng,
            hard_state=st.hard_state,
            snapshot=st.snapshot,
            entries=tuple(st.entries),
        )
        self.sm = self.state_machine()
        if st.snapshot is not None:
            self.sm.restore(st.snapshot.data)
            self.check_state(st.snap_index, "restarted from its snapshot")
        self._started(st.snap_index)

    def crash(self) -> None:
        self.core = None
        self.sm = None
        self.restarts += 1

    def process(self) -> list[Any]:
        """Run the Ready loop until the core is idle; the messages to send, in order."""
        core, sm, checker = self.core, self.sm, self.checker
        assert core is not None and sm is not None
        out: list[Any] = []
        self.check_leader()
        while core.has_ready():
            rd = core.ready()
            self.storage.save(rd)
            if rd.snapshot is not None:
                checker.restored(self.id, rd.snapshot.index)
            if rd.entries:
                checker.appended(self.id, rd.entries, core.log)
            if rd.hard_state is not None:
                checker.commit(self.id, rd.hard_state.commit, rd.hard_state.term, core.log)
            out.extend(rd.messages)
            if rd.snapshot is not None:
                sm.restore(rd.snapshot.data)
                self.check_state(rd.snapshot.index, "restored a snapshot")
            every = self.state_check_every
            for entry in rd.committed_entries:
                checker.applied(self.id, entry)
                answer = sm.apply(entry)
                if answer is not None:
                    checker.outcome(self.id, entry.index, answer)
                if every and entry.index % every == 0:
                    self.check_state(entry.index, "sampled")
            for rs in rd.read_states:
                checker.read_answered(self.id, rs)
            core.advance(rd)
            if (
                self.compact_every
                and core.log.applied - self.storage.snap_index >= self.compact_every
            ):
                data = sm.snapshot()
                checker.state(self.id, core.log.applied, _digest(data), "took a snapshot")
                snapshot = core.make_snapshot(data)
                core.compact(snapshot)
                self.storage.compact(snapshot)
        self.check_leader()
        return out

    def check_state(self, index: int, when: str) -> None:
        """Report the digest of the state machine's snapshot, which reflects ``index``."""
        assert self.sm is not None
        self.checker.state(self.id, index, _digest(self.sm.snapshot()), when)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()
