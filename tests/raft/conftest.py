"""A small synchronous harness for RaftCore unit tests: deliver, cut links, crash, restart."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from actors.raft.core import RaftConfig, RaftCore, Role
from actors.raft.entries import Entry
from actors.raft.messages import TimeoutNow
from actors.raft.readindex import ReadState
from emulator.sim.node import SimStorage


class Harness:
    def __init__(self, ids: tuple[str, ...], **config: Any) -> None:
        self.ids = ids
        self.config = config
        self.cores: dict[str, RaftCore] = {}
        self.storage: dict[str, SimStorage] = {}
        self.applied: dict[str, list[Entry]] = {}
        self.reads: dict[str, list[ReadState]] = {}
        self.sent: list[Any] = []  # every message delivered or dropped, in order
        self.cut: set[tuple[str, str]] = set()
        self.drop: Callable[[Any], bool] = lambda m: False
        self.down: set[str] = set()
        for i in ids:
            self.add(i, ids)

    def add(self, node: str, voters: tuple[str, ...]) -> RaftCore:
        seed = len(self.cores) + 1
        self.cores[node] = RaftCore(RaftConfig(node, **self.config), voters, random.Random(seed))
        self.storage[node] = SimStorage()
        self.applied[node] = []
        self.reads[node] = []
        return self.cores[node]

    def __getitem__(self, node: str) -> RaftCore:
        return self.cores[node]

    # -- driving -------------------------------------------------------------------------------

    def pump(self, rounds: int = 200) -> None:
        """Process Ready batches and deliver messages until everything is quiet."""
        for _ in range(rounds):
            outbox: list[Any] = []
            for node, core in self.cores.items():
                if node in self.down:
                    continue
                while core.has_ready():
                    rd = core.ready()
                    self.storage[node].save(rd)
                    outbox.extend(rd.messages)
                    self.applied[node].extend(rd.committed_entries)
                    self.reads[node].extend(rd.read_states)
                    core.advance(rd)
            if not outbox:
                return
            for m in outbox:
                self.sent.append(m)
                if (m.frm, m.to) in self.cut or m.to in self.down or self.drop(m):
                    continue
                if m.to in self.cores:
                    self.cores[m.to].step(m)
        raise AssertionError("the cluster did not go quiet")

    def tick(self, n: int = 1, nodes: tuple[str, ...] | None = None) -> None:
        for _ in range(n):
            for node in nodes or tuple(self.cores):
                if node not in self.down:
                    self.cores[node].tick()
            self.pump()

    def elect(self, node: str) -> None:
        """Make ``node`` campaign at once (as a leader transfer does), then let only its clock
        run until it leads."""
        core = self.cores[node]
        if core.role is Role.FOLLOWER:
            core.step(TimeoutNow(core.term, node, node))
            self.pump()
        for _ in range(10 * self.cores[node].config.election_ticks):
            if self.cores[node].role is Role.LEADER:
                self.pump()
                return
            self.tick(nodes=(node,))
        raise AssertionError(f"{node} did not become leader: {self.cores[node].status()}")

    # -- faults --------------------------------------------------------------------------------

    def isolate(self, node: str) -> None:
        for other in self.cores:
            if other != node:
                self.cut.add((node, other))
                self.cut.add((other, node))

    def heal(self) -> None:
        self.cut.clear()

    def crash(self, node: str) -> None:
        self.down.add(node)

    def restart(self, node: str, voters: tuple[str, ...] | None = None) -> RaftCore:
        st = self.storage[node]
        self.down.discard(node)
        self.cores[node] = RaftCore(
            RaftConfig(node, **self.config),
            voters if voters is not None else self.ids,
            random.Random(99),
            hard_state=st.hard_state,
            snapshot=st.snapshot,
            entries=tuple(st.entries),
        )
        self.applied[node] = []
        return self.cores[node]

    # -- views ---------------------------------------------------------------------------------

    def leaders(self) -> list[str]:
        return [n for n, c in self.cores.items() if n not in self.down and c.role is Role.LEADER]

    def data(self, node: str) -> list[bytes]:
        return [e.data for e in self.applied[node] if e.data and e.kind == 0]

    def sent_of(self, kind: type, frm: str | None = None, to: str | None = None) -> list[Any]:
        return [
            m
            for m in self.sent
            if isinstance(m, kind) and (frm is None or m.frm == frm) and (to is None or m.to == to)
        ]


@pytest.fixture
def make_cluster() -> Callable[..., Harness]:
    def make(ids: tuple[str, ...] = ("a", "b", "c"), **config: Any) -> Harness:
        return Harness(ids, **config)

    return make
