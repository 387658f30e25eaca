"""The reboot semaphore exactly as locksmith stores it in etcd, as a pure value.

Theory of operation. locksmith keeps one JSON document per group at
``coreos.com/updateengine/rebootlock/semaphore`` (or ``.../groups/<QueryEscape(group)>/semaphore``):
``{"semaphore":<available>,"max":<max>,"holders":[<machine ids, sorted>]}``. It is created once
with ``prevExist=false`` as ``{"semaphore":1,"max":1,"holders":null}`` and from then on changed only
by read-modify-CAS on the key's modifiedIndex, so two machines racing for the last slot cannot both
win: the loser's compare-and-swap fails and it reads again. The invariant ``semaphore + len(holders)
== max`` holds for every document locksmith writes; ``set-max`` shifts ``semaphore`` by the change
in ``max`` and never evicts a holder, so available may go negative until holders unlock.

Everything here is plain data: the etcd shell is :mod:`actors.locksmith.etcdlock`.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus

KEY_PREFIX = "coreos.com/updateengine/rebootlock"
SEMAPHORE_KEY = KEY_PREFIX + "/semaphore"


class LockError(Exception):
    """A lock operation the semaphore refuses; the text is locksmith's."""


class AlreadyHeld(LockError):
    def __init__(self) -> None:
        super().__init__("holder exists")


class NotHeld(LockError):
    def __init__(self) -> None:
        super().__init__("holder does not exist")


class SemaphoreFull(LockError):
    def __init__(self, available: int) -> None:
        super().__init__(f"semaphore is at {available}")
        self.available = available


class BadSemaphore(ValueError):
    """The key's value is not a semaphore document."""


def semaphore_key(group: str | None = None) -> str:
    """The etcd key of ``group``'s semaphore (None or "": the default one), as locksmith names it."""
    if not group:
        return SEMAPHORE_KEY
    # Go's url.QueryEscape: letters, digits and -_.~ kept, space as "+", the rest %XX
    return f"{KEY_PREFIX}/groups/{quote_plus(group, safe='')}/semaphore"


@dataclass(frozen=True)
class RebootSemaphore:
    semaphore: int = 1  # available slots
    max: int = 1
    holders: tuple[str, ...] | None = None  # None is Go's nil slice: "holders":null
    index: int = 0  # the etcd modifiedIndex this value was read at (not part of the JSON)

    # --- encoding ------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The document as Go's json.Marshal writes it (compact, fields in this order)."""
        holders = None if self.holders is None else list(self.holders)
        doc = {"semaphore": self.semaphore, "max": self.max, "holders": holders}
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, index: int = 0) -> RebootSemaphore:
        """Parse a stored document; unknown fields are ignored and missing ones are zero (Go)."""
        try:
            doc: Any = json.loads(text)
        except ValueError as exc:
            raise BadSemaphore(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise BadSemaphore(f"expected a JSON object, got {type(doc).__name__}")
        values = {}
        for name in ("semaphore", "max"):
            value = doc.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadSemaphore(f"{name!r} must be an integer, got {value!r}")
            values[name] = value
        raw = doc.get("holders")
        if raw is not None and (
            not isinstance(raw, list) or not all(isinstance(h, str) for h in raw)
        ):
            raise BadSemaphore(f"'holders' must be a list of machine ids, got {raw!r}")
        holders = None if raw is None else tuple(raw)
        return cls(values["semaphore"], values["max"], holders, index)

    # --- operations (each returns a new value; the caller CASes it on ``index``) ----------------
    def lock(self, holder: str) -> RebootSemaphore:
        if self.semaphore <= 0:
            raise SemaphoreFull(self.semaphore)
        current = list(self.holders or ())
        pos = bisect.bisect_left(current, holder)
        if pos < len(current) and current[pos] == holder:
            raise AlreadyHeld
        current.insert(pos, holder)
        return replace(self, semaphore=self.semaphore - 1, holders=tuple(current))

    def unlock(self, holder: str) -> RebootSemaphore:
        current = list(self.holders or ())
        pos = bisect.bisect_left(current, holder)
        if pos >= len(current) or current[pos] != holder:
            raise NotHeld
        del current[pos]
        return replace(self, semaphore=self.semaphore + 1, holders=tuple(current))

    def set_max(self, new_max: int) -> RebootSemaphore:
        if new_max < 0:
            raise LockError(f"the maximum must be 0 or more, got {new_max}")
        diff = self.max - new_max
        return replace(self, semaphore=self.semaphore - diff, max=new_max)

    def holds(self, holder: str) -> bool:
        return holder in (self.holders or ())
