"""The values RaftCore takes and hands out: its config, roles, Ready batches and status."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from actors.raft.entries import Entry, HardState, Snapshot
from actors.raft.readindex import ReadState


class Role(Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """One tick is one heartbeat interval of the shell (100 ms by default in the node)."""

    id: str
    election_ticks: int = 10  # the election timeout is drawn from [this, 2 * this)
    heartbeat_ticks: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    max_entries_per_append: int = 256
    max_inflight: int = 256
    # Followers learn a new commit index from the next append or heartbeat, or from a notice
    # the shell asks for a moment later (RaftCore.send_commit_notices), rather than from an
    # empty append sent at once: under a steady stream of writes the index rides the next
    # append and each write costs one message each way instead of two. A follower that
    # forwarded the committed proposal, or asked for the read index, is still told at once.
    lazy_commit_notices: bool = False

    def __post_init__(self) -> None:
        if self.heartbeat_ticks < 1 or self.election_ticks <= self.heartbeat_ticks:
            raise ValueError(
                f"raft config for {self.id}: need 1 <= heartbeat_ticks < election_ticks, "
                f"got {self.heartbeat_ticks} and {self.election_ticks}"
            )
        if self.max_entries_per_append < 1 or self.max_inflight < 1:
            raise ValueError(f"raft config for {self.id}: batch and window sizes must be >= 1")


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state worth telling the shell about (not persisted)."""

    leader: str | None
    role: Role


@dataclass(frozen=True, slots=True)
class Ready:
    """One batch of work for the shell, in this order:

    1. persist ``snapshot`` (it replaces the whole stored log), then ``entries`` (the first may
       overwrite a stored suffix from its index on), then ``hard_state`` — one fsync;
    2. send ``messages``;
    3. restore the state machine from ``snapshot`` if any, then apply ``committed_entries``;
    4. serve each of ``read_states`` once applied >= its index;
    5. call ``advance(ready)``.
    """

    soft_state: SoftState | None = None
    hard_state: HardState | None = None
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None
    committed_entries: tuple[Entry, ...] = ()
    messages: tuple[Any, ...] = ()
    read_states: tuple[ReadState, ...] = ()

    def must_sync(self) -> bool:
        """True when something must reach the disk before the messages go out."""
        return bool(self.entries) or self.hard_state is not None or self.snapshot is not None


@dataclass(frozen=True, slots=True)
class FollowerStatus:
    match: int
    next: int
    state: str  # "probe", "replicate" or "snapshot"


@dataclass(frozen=True)
class RaftStatus:
    id: str
    role: Role
    term: int
    leader: str | None
    commit: int
    applied: int
    last_index: int
    voters: tuple[str, ...]
    progress: dict[str, FollowerStatus] = field(default_factory=dict)  # leader only
