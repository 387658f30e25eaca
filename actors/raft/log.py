"""RaftLog: the in-memory Raft log of one node.

Theory of operation
-------------------
The log is a snapshot (everything up to ``snap_index``, compacted away) followed by a list of
entries ``snap_index + 1 .. last_index``. Four cursors move along it::

    snap_index <= applied <= committed <= last_index        stable <= last_index

- ``stable``: the last index the shell has made durable. Entries after it are *unstable* and
  are handed out in ``Ready.entries``; ``stable_to`` moves the cursor when the shell says so.
- ``committed``: known to be on a quorum; only grows (a commit below it is ignored).
- ``applied``: the last index the shell has applied to its state machine.
- ``_offered`` / ``_applying``: handed out in a Ready that is not advanced yet, so a second
  ``ready()`` before ``advance()`` does not hand the same entries out twice.

A follower's ``maybe_append`` finds the first conflicting entry (same index, another term) and
truncates from there; everything before the conflict is kept. Truncating committed entries is a
safety violation and raises. ``restore`` replaces the whole log by a leader's snapshot (unless
the log already holds the snapshot's last entry, in which case only the commit index moves);
``compact`` drops entries the shell has captured in its own snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.raft.entries import Entry, Snapshot


class LogSafetyError(AssertionError):
    """Raft's invariants were about to be broken (a bug, or a corrupt durable state)."""


class RaftLog:
    def __init__(
        self,
        snapshot: Snapshot | None = None,
        entries: Sequence[Entry] = (),
        committed: int = 0,
    ) -> None:
        self.snapshot = snapshot  # the newest snapshot, sent to followers that fell behind
        self.snap_index = snapshot.index if snapshot else 0
        self.snap_term = snapshot.term if snapshot else 0
        kept = [e for e in entries if e.index > self.snap_index]
        for expected, entry in enumerate(kept, start=self.snap_index + 1):
            if entry.index != expected:
                raise LogSafetyError(f"log has a gap: expected index {expected}, got {entry.index}")
        self._entries: list[Entry] = kept
        if committed > self.last_index():
            raise LogSafetyError(f"commit {committed} beyond the last index {self.last_index()}")
        self.stable = self.last_index()
        self.committed = max(committed, self.snap_index)
        self.applied = self.snap_index
        self.pending_snapshot: Snapshot | None = None  # from a leader, not yet persisted
        self._offered = self.stable
        self._applying = self.applied

    # -- lookups -------------------------------------------------------------------------------

    def first_index(self) -> int:
        return self.snap_index + 1

    def last_index(self) -> int:
        return self.snap_index + len(self._entries)

    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.snap_term

    def term(self, index: int) -> int | None:
        """The term of the entry at ``index``; None if compacted away or beyond the end."""
        if index == self.snap_index:
            return self.snap_term
        offset = index - self.snap_index - 1
        if offset < 0 or offset >= len(self._entries):
            return None
        return self._entries[offset].term

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a candidate with this last entry at least as up to date as this log (§5.4.1)?"""
        mine = self.last_term()
        return last_term > mine or (last_term == mine and last_index >= self.last_index())

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries ``lo .. hi-1`` (clipped at the end); ``lo`` must not be compacted."""
        if lo <= self.snap_index:
            raise LogSafetyError(f"entry {lo} is compacted (snapshot at {self.snap_index})")
        base = self.snap_index + 1
        return self._entries[lo - base : max(hi - base, 0)]

    def entry(self, index: int) -> Entry | None:
        offset = index - self.snap_index - 1
        if 0 <= offset < len(self._entries):
            return self._entries[offset]
        return None

    def find_conflict(self, entries: Sequence[Entry]) -> int:
        """The index of the first of ``entries`` that is new or disagrees with the log, or 0."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest index <= ``index`` whose term is <= ``term`` (fast back-off).

        The log's terms never decrease, so entries above the result cannot match a log whose
        entry at ``index`` has ``term``. Below the compaction point the answer is ``index``
        itself (clipped to the log): the caller needs a snapshot there anyway.
        """
        i = min(index, self.last_index())
        while i > self.snap_index:
            t = self.term(i)
            if t is not None and t <= term:
                return i
            i -= 1
        return i

    # -- changes -------------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry]) -> None:
        """Append ``entries``; the first may overwrite an existing (uncommitted) suffix."""
        if not entries:
            return
        first = entries[0].index
        if first <= self.committed:
            raise LogSafetyError(f"overwriting committed entry {first} (commit {self.committed})")
        if first > self.last_index() + 1:
            raise LogSafetyError(f"gap: appending {first} after {self.last_index()}")
        del self._entries[first - self.snap_index - 1 :]
        self._entries.extend(entries)
        if first <= self.stable:
            self.stable = first - 1
        if first <= self._offered:
            self._offered = first - 1

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: Sequence[Entry]
    ) -> int | None:
        """A follower's AppendEntries: the last new index, or None when ``prev`` does not match."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            self.append(entries[conflict - prev_index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise LogSafetyError(f"commit {index} beyond the last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Commit ``index`` if it is new and its entry is of ``term`` (the leader's rule)."""
        if index > self.committed and self.term(index) == term:
            self.committed = index
            return True
        return False

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the log by a leader's snapshot (the shell persists it from the Ready)."""
        self.snapshot = snapshot
        self.snap_index = snapshot.index
        self.snap_term = snapshot.term
        self._entries = []
        self.committed = snapshot.index
        self.stable = self._offered = snapshot.index
        self.pending_snapshot = snapshot

    def compact(self, snapshot: Snapshot) -> None:
        """Drop entries up to ``snapshot.index``, which the shell applied and captured."""
        if snapshot.index <= self.snap_index:
            return
        if snapshot.index > self.applied:
            raise LogSafetyError(f"compacting at {snapshot.index} beyond applied {self.applied}")
        if self.term(snapshot.index) != snapshot.term:
            raise LogSafetyError(f"snapshot term {snapshot.term} disagrees with the log")
        del self._entries[: snapshot.index - self.snap_index]
        self.snapshot = snapshot
        self.snap_index = snapshot.index
        self.snap_term = snapshot.term

    # -- the Ready cycle -----------------------------------------------------------------------

    def unstable_entries(self) -> list[Entry]:
        """Entries not yet durable nor handed out for persisting."""
        lo = max(self.stable, self._offered) + 1
        return self.slice(lo, self.last_index() + 1) if lo <= self.last_index() else []

    def next_committed(self) -> list[Entry]:
        """Committed entries not yet applied nor handed out for applying."""
        lo = max(self.applied, self._applying, self.snap_index) + 1
        return self.slice(lo, self.committed + 1) if lo <= self.committed else []

    def has_next_committed(self) -> bool:
        return self.committed > max(self.applied, self._applying, self.snap_index)

    def has_unstable(self) -> bool:
        return self.last_index() > max(self.stable, self._offered)

    def offered(self, entries: Sequence[Entry], committed: Sequence[Entry]) -> None:
        """A Ready handed these out; do not hand them out again."""
        if entries:
            self._offered = entries[-1].index
        if committed:
            self._applying = committed[-1].index

    def stable_to(self, index: int, term: int) -> None:
        if index > self.stable and self.term(index) == term:
            self.stable = index
        self._offered = max(self._offered, self.stable)

    def snapshot_persisted(self, snapshot: Snapshot) -> None:
        if self.pending_snapshot is snapshot:
            self.pending_snapshot = None
        self.applied = max(self.applied, snapshot.index)
        self._applying = max(self._applying, self.applied)

    def applied_to(self, index: int) -> None:
        if index > self.applied:
            if index > self.committed:
                raise LogSafetyError(f"applied {index} beyond commit {self.committed}")
            self.applied = index
        self._applying = max(self._applying, self.applied)
