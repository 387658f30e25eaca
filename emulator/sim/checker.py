"""Raft's safety properties, checked as the simulation runs (Raft paper, Figure 3).

- Election safety: at most one leader per term.
- Log matching: two entries with the same index and term hold the same command and follow
  entries of the same term (by induction, the logs are identical up to there).
- Leader completeness: a leader of term T holds every entry committed in a term before T.
- State machine safety: no two nodes apply different entries at one index; every node applies
  indices in order without gaps (after a snapshot, from the snapshot's index on).
- State machine agreement: every node applying an index gets the same answer from its state
  machine, and nodes that applied up to the same index hold the same state (snapshot digests
  compared at sampled indexes, at every snapshot taken or restored, and at the end).
- ReadIndex: a read is answered with an index at least the commit index when it was asked.

Every check is incremental, so it can run after every step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from actors.raft.entries import Entry
from actors.raft.readindex import ReadState


class SimulationFailure(AssertionError):
    """A safety or liveness property was broken."""


class LogView(Protocol):
    snap_index: int

    def term(self, index: int) -> int | None: ...


class SafetyChecker:
    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}
        self._seen: dict[tuple[int, int], tuple[int, bytes, int]] = {}
        # committed[i] = (entry term, the term in which it was first seen committed)
        self.committed: list[tuple[int, int]] = [(0, 0)]
        self._node_commit: dict[str, int] = {}
        self._applied: dict[int, tuple[int, bytes]] = {}
        self._node_applied: dict[str, int] = {}
        self.index_of: dict[bytes, int] = {}  # command -> the index it was first applied at
        self._reads: dict[bytes, int] = {}
        self.read_count = 0
        self.outcomes: dict[int, str] = {}  # index -> the state machine's answer to it
        self.states: dict[int, bytes] = {}  # index -> digest of the state after applying it

    @property
    def max_committed(self) -> int:
        return len(self.committed) - 1

    def leader(self, node: str, term: int, log: LogView) -> None:
        """``node`` leads ``term`` (called whenever it is seen leading)."""
        known = self.leaders.get(term)
        if known == node:
            return
        if known is not None:
            raise SimulationFailure(f"election safety: {known} and {node} both lead term {term}")
        self.leaders[term] = node
        for index in range(log.snap_index + 1, len(self.committed)):
            entry_term, commit_term = self.committed[index]
            if commit_term < term and log.term(index) != entry_term:
                raise SimulationFailure(
                    f"leader completeness: {node} leads term {term} without entry {index} "
                    f"(term {entry_term}, committed in term {commit_term}); "
                    f"its log has term {log.term(index)}"
                )

    def appended(self, node: str, entries: Iterable[Entry], log: LogView) -> None:
        """``node`` persisted ``entries`` (``log`` already holds them)."""
        seen = self._seen
        for e in entries:
            prev = log.term(e.index - 1)
            if prev is None:
                raise SimulationFailure(
                    f"{node}: entry {e.index} persisted without its predecessor"
                )
            record = (e.kind, e.data, prev)
            known = seen.setdefault((e.index, e.term), record)
            if known != record:
                raise SimulationFailure(
                    f"log matching: {node} has entry {e.index}/{e.term} = {record!r}, "
                    f"another node {known!r}"
                )

    def commit(self, node: str, commit: int, term: int, log: LogView) -> None:
        """``node`` (at ``term``) persisted commit index ``commit``."""
        start = self._node_commit.get(node, 0) + 1
        for index in range(max(start, log.snap_index + 1), commit + 1):
            entry_term = log.term(index)
            if entry_term is None:
                raise SimulationFailure(f"{node}: commit {commit} beyond its log")
            if index < len(self.committed):
                if self.committed[index][0] != entry_term:
                    raise SimulationFailure(
                        f"state machine safety: {node} committed entry {index} of term "
                        f"{entry_term}, earlier term {self.committed[index][0]} was committed"
                    )
            elif index == len(self.committed):
                self.committed.append((entry_term, term))
            else:
                raise SimulationFailure(
                    f"{node}: commit {index} beyond all known commits ({self.max_committed})"
                )
        self._node_commit[node] = max(self._node_commit.get(node, 0), commit)

    def restarted(self, node: str, snap_index: int) -> None:
        self._node_applied[node] = snap_index

    def restored(self, node: str, snap_index: int) -> None:
        if snap_index > self.max_committed:
            raise SimulationFailure(f"{node} restored an uncommitted snapshot at {snap_index}")
        self._node_applied[node] = snap_index
        self._node_commit[node] = max(self._node_commit.get(node, 0), snap_index)

    def applied(self, node: str, entry: Entry) -> None:
        expected = self._node_applied.get(node, 0) + 1
        if entry.index != expected:
            raise SimulationFailure(f"{node} applied {entry.index}, expected {expected}")
        self._node_applied[node] = entry.index
        record = (entry.term, entry.data)
        known = self._applied.setdefault(entry.index, record)
        if known is record and entry.data:
            self.index_of.setdefault(entry.data, entry.index)
        if known != record:
            raise SimulationFailure(
                f"state machine safety: {node} applied {record!r} at {entry.index}, "
                f"another node {known!r}"
            )

    def outcome(self, node: str, index: int, text: str) -> None:
        """``node``'s state machine answered ``text`` to the entry at ``index``."""
        known = self.outcomes.setdefault(index, text)
        if known != text:
            raise SimulationFailure(
                f"state machine safety: {node} answered entry {index} with {text}, "
                f"another node with {known}"
            )

    def state(self, node: str, index: int, digest: bytes, when: str) -> None:
        """``node``'s state after applying up to ``index`` has ``digest`` (seen ``when``)."""
        known = self.states.setdefault(index, digest)
        if known != digest:
            raise SimulationFailure(
                f"state machine safety: {node}'s state at {index} ({when}) differs from "
                f"another node's: {digest.hex()[:16]} != {known.hex()[:16]}"
            )

    def read_issued(self, ctx: bytes) -> None:
        self._reads[ctx] = self.max_committed

    def read_answered(self, node: str, rs: ReadState) -> None:
        floor = self._reads.pop(rs.ctx, None)
        if floor is None:
            return  # a duplicated answer: the shell ignores reads it no longer waits for
        if rs.index < floor:
            raise SimulationFailure(
                f"ReadIndex: {node} got index {rs.index} for {rs.ctx!r}, "
                f"but {floor} was committed when the read was asked"
            )
        self.read_count += 1

    def sequences(self, sequences: dict[str, list[bytes]]) -> None:
        """The applied command sequences must be prefixes of one another."""
        longest = max(sequences.values(), key=len, default=[])
        for node, seq in sequences.items():
            if longest[: len(seq)] != seq:
                raise SimulationFailure(f"state machine safety: {node}'s applied commands diverge")
