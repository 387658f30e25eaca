"""ReadIndex: linearizable reads without writing to the log (Raft thesis §6.4).

Theory of operation
-------------------
A read is registered with the leader's commit index at the time it arrives. The leader then
sends a heartbeat round carrying the read's context; once a quorum (the leader included) has
answered a heartbeat carrying that context, no other leader can have been elected before the
read arrived, so the read may be served as soon as the state machine has applied its index.
Heartbeats carry the newest pending context, and the answers confirm every read that was
queued before it as well, so one heartbeat round releases a whole batch of reads, in order.

The leader only registers reads once it has committed an entry of its own term (its commit
index is then at least that of any earlier leader); until then the core keeps them waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.raft.progress import quorum


@dataclass(frozen=True, slots=True)
class ReadState:
    """Serve the read ``ctx`` once the state machine has applied ``index``."""

    ctx: bytes
    index: int


@dataclass(slots=True)
class PendingRead:
    ctx: bytes
    index: int
    requester: str  # the node that asked (the leader itself or a follower)
    acks: set[str] = field(default_factory=set)


class ReadIndexQueue:
    def __init__(self) -> None:
        self._pending: dict[bytes, PendingRead] = {}  # in arrival order

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, ctx: bytes, index: int, requester: str, leader: str) -> bool:
        """Queue a read; False when a read with the same context is already pending."""
        if ctx in self._pending:
            return False
        self._pending[ctx] = PendingRead(ctx, index, requester, {leader})
        return True

    def last_ctx(self) -> bytes:
        return next(reversed(self._pending)) if self._pending else b""

    def ack(self, ctx: bytes, voter: str, voters: tuple[str, ...]) -> list[PendingRead]:
        """``voter`` answered a heartbeat carrying ``ctx``: the reads this releases, in order."""
        read = self._pending.get(ctx)
        if read is None:
            return []
        read.acks.add(voter)
        if sum(1 for v in voters if v in read.acks) < quorum(len(voters)):
            return []
        released: list[PendingRead] = []
        for key in list(self._pending):
            released.append(self._pending.pop(key))
            if key == ctx:
                break
        return released

    def clear(self) -> None:
        self._pending.clear()
