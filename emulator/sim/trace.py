"""The event trace of a simulation run: one short line per event, kept only when asked for."""

from __future__ import annotations

import sysconfig
import traceback
from collections.abc import Iterable
from typing import Any

from actors.raft.core import RaftCore
from emulator.sim.node import SimNode, SimStorage

_MESSAGE_FIELDS = ("prev_index", "index", "commit", "granted", "reject", "pre", "hint_index")


class Trace:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.lines: list[str] = []
        self._views: dict[str, tuple[Any, ...]] = {}

    def log(self, tick: int, text: str) -> None:
        if self.enabled:
            self.lines.append(f"{tick:5d} {text}")

    def node_view(self, tick: int, node_id: str, core: RaftCore) -> None:
        """Log the node's role, term, leader, voters and commit when one of them changed."""
        if not self.enabled:
            return
        view = (core.role.value, core.term, core.leader, core.voters, core.log.committed)
        if self._views.get(node_id) != view:
            self._views[node_id] = view
            self.log(tick, f"{node_id}: {describe_core(core)}")


def describe_message(m: Any) -> str:
    extra = ""
    entries = getattr(m, "entries", None)
    if entries:
        extra = f" entries={entries[0].index}..{entries[-1].index}"
    for field in _MESSAGE_FIELDS:
        if hasattr(m, field):
            extra += f" {field}={getattr(m, field)}"
    return f"{m.frm}->{m.to} {type(m).__name__} t{m.term}{extra}"


def describe_storage(st: SimStorage) -> str:
    last = st.entries[-1].index if st.entries else st.snap_index
    return f"hard={st.hard_state} snap={st.snap_index} last={last}"


def describe_core(core: RaftCore) -> str:
    s = core.status()
    return (
        f"{s.role.value} t{s.term} lead={s.leader} commit={s.commit} applied={s.applied} "
        f"last={s.last_index} voters={','.join(s.voters)}"
    )


def describe_cluster(nodes: Iterable[SimNode]) -> str:
    return "; ".join(
        f"{n.id}: {describe_core(n.core) if n.core is not None else 'down'}" for n in nodes
    )


def describe_crash(exc: BaseException) -> str:
    """The exception and its innermost frame outside the standard library and packages."""
    frames = traceback.extract_tb(exc.__traceback__)
    paths = sysconfig.get_paths()
    outside = (paths["stdlib"], paths["purelib"], paths["platlib"])
    at = ([f for f in frames if not f.filename.startswith(outside)] or frames)[-1]
    return f"{exc!r} at {at.filename}:{at.lineno}"
