"""What every simulated node is to the driver (:mod:`emulator.sim.driver`), whichever it runs: a
bare :class:`~actors.raft.core.RaftCore` (:class:`~emulator.sim.node.SimNode`) or a whole member
(:class:`~emulator.sim.member.SimMember`).

A node is up while it has a core; ``crash`` drops the core and ``start`` rebuilds it from what
survived. Whenever a node is seen leading a term it did not lead before, the
:class:`SafetyChecker` hears of it (election safety, leader completeness).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.raft.core import RaftCore, Role
from emulator.sim.checker import SafetyChecker


class SimPeer:
    core: RaftCore | None  # None while the node is down

    def __init__(self, node_id: str, checker: SafetyChecker) -> None:
        self.id = node_id
        self.checker = checker
        self.restarts = 0
        self.removed = False
        self._led_term = -1

    @property
    def up(self) -> bool:
        return self.core is not None

    def is_leader(self) -> bool:
        core = self.core
        return core is not None and core.role is Role.LEADER

    def _started(self, snap_index: int) -> None:
        """The core was rebuilt, its state machine holding what is applied up to ``snap_index``."""
        self.checker.restarted(self.id, snap_index)
        self._led_term = -1

    def check_leader(self, on_new_term: Callable[[Any], None] | None = None) -> None:
        """Report a new term of leadership to the checker, then ``on_new_term(log)``."""
        core = self.core
        if core is not None and core.role is Role.LEADER and core.term != self._led_term:
            self._led_term = core.term
            self.checker.leader(self.id, core.term, core.log)
            if on_new_term is not None:
                on_new_term(core.log)
