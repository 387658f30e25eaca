"""Which steps of a Ready may run ahead of its fsync (sans-IO).

Theory of operation. The Raft core hands its shell a Ready to handle in order: persist entries and
hard state (one fsync), send messages, apply committed entries. Two of those waits protect only
part of the work, and skipping them where that is safe takes an fsync off a client write's path:

* **Send first.** A leader may send its messages (AppendEntries, heartbeats) while its own copy
  of the new entries is still being written, as the Raft thesis (§10.2.1) and etcd do: an entry
  commits only once a quorum acknowledged it, and nothing the member learns from later inputs
  leaves it (no answer, no commit index) before this Ready's fsync has returned: its single
  thread takes them only after it, or takes them into the Raft core while the fsync runs aside
  but hands out no Ready until it is done (:mod:`actors.etcd.membercore`). Never when
  this Ready changes the term or the vote: those must be durable before anyone hears of them, or
  a node restarted after a crash could vote twice in one term.
* **Apply first.** Committed entries that were durable before this Ready (all of them below the
  Ready's first new entry, and within what the WAL already holds) may be applied, and their
  clients answered, before this Ready's fsync: that fsync adds nothing to their safety. Only
  when a client here waits for an answer, though: otherwise (a follower that only replicates)
  the apply would just delay the acknowledgement the leader waits for.

Neither applies to a Ready that carries a snapshot, which replaces the log and the keyspace.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.raft.entries import HardState
from actors.raft.ready import Ready

_NOTHING = HardState(0, None, 0)


@dataclass(frozen=True, slots=True)
class ReadyOrder:
    send_first: bool  # send the messages before persisting
    apply_first: bool  # apply the committed entries before persisting


def ready_order(
    rd: Ready,
    *,
    leader: bool,
    durable: HardState | None,
    durable_last_index: int,
    answers_waiting: bool = True,
) -> ReadyOrder:
    """How to run ``rd``: ``leader`` is the member's role now, ``durable`` the hard state its WAL
    holds, ``durable_last_index`` the last entry index its WAL holds (before this Ready),
    ``answers_waiting`` whether any client here waits for a write or read to be answered."""
    if rd.snapshot is not None:
        return ReadyOrder(False, False)
    send_first = False
    if leader and rd.messages:
        hs, was = rd.hard_state, durable or _NOTHING
        send_first = hs is None or (hs.term == was.term and hs.vote == was.vote)
    apply_first = False
    committed = rd.committed_entries
    if committed and answers_waiting:
        last = committed[-1].index
        apply_first = last <= durable_last_index and (not rd.entries or last < rd.entries[0].index)
    return ReadyOrder(send_first, apply_first)
