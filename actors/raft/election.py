"""Counting votes (and pre-votes) of one campaign against the current voters."""

from __future__ import annotations

from enum import Enum

from actors.raft.progress import quorum


class VoteResult(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


class VoteTally:
    def __init__(self, voters: tuple[str, ...]) -> None:
        self._voters = voters
        self._votes: dict[str, bool] = {}

    def record(self, voter: str, granted: bool) -> VoteResult:
        """Count the first answer of ``voter`` (later ones are ignored) and return the result."""
        if voter in self._voters:
            self._votes.setdefault(voter, granted)
        return self.result()

    def result(self) -> VoteResult:
        need = quorum(len(self._voters))
        granted = sum(1 for v in self._votes.values() if v)
        rejected = len(self._votes) - granted
        if granted >= need:
            return VoteResult.WON
        if rejected > len(self._voters) - need:
            return VoteResult.LOST
        return VoteResult.PENDING
