"""Building hand-made register histories for checker tests: ``H().w(1, 0, 1).r(1, 2, 3)``."""

from __future__ import annotations

from emulator.checkers.ops import Op, Outcome


class H:
    """Ops on one key (unless given), each with its client, value, outcome and interval."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def _add(self, f, value, start, end, outcome, p, key) -> H:
        oc = Outcome(outcome)
        done = None if oc is Outcome.INFO else end
        self.ops.append(Op(len(self.ops) + 1, p, f, key, value, oc, start, done))
        return self

    def w(self, v, start, end, outcome="ok", p=0, key="k") -> H:
        return self._add("write", v, start, end, outcome, p, key)

    def r(self, v, start, end, outcome="ok", p=0, key="k") -> H:
        return self._add("read", v, start, end, outcome, p, key)

    def cas(self, old, new, start, end, outcome="ok", p=0, key="k") -> H:
        return self._add("cas", (old, new), start, end, outcome, p, key)
