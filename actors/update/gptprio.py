"""The A/B boot rule on USR partition attributes: GRUB's ``gptprio.next`` and what updates change.

Pure functions of (name, :class:`UsrAttrs`) pairs in partition-table order; the caller writes
what they return to the disk (:mod:`.disk`) before acting on it.

* **boot** (:func:`next_slot`): among the USR partitions with priority > 0 that are successful or
  have tries left, the highest priority wins (ties: the first in the table, as GRUB walks it).
  If it has tries left, one is used up — written to disk *before* the kernel starts, so a boot
  that dies takes its try with it, and after the last try GRUB falls back.
* **before writing** the passive slot (:func:`unbootable`): priority 0, tries 0, unsuccessful, so
  a half-written image is never booted.
* **postinstall** (:func:`postinstall`, ``cgpt prioritize``): the new slot gets a priority above
  the booted one, tries 1, successful 0.
* **healthy boot** (:func:`mark_good`, update_engine's ``setgoodroot``): the booted slot becomes
  successful with tries 0; a higher-priority slot that failed to boot (no tries, never
  successful: the one a rollback left behind) drops to priority 0, so it is reported once.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.update.gpt import UsrAttrs

Slots = Sequence[tuple[str, UsrAttrs]]

MAX_PRIORITY = 15


def bootable(a: UsrAttrs) -> bool:
    return a.priority > 0 and (a.tries > 0 or a.successful)


def next_slot(slots: Slots) -> tuple[str, UsrAttrs] | None:
    """GRUB gptprio.next: (slot to boot, its attributes to write back), or None: nothing boots."""
    best: tuple[str, UsrAttrs] | None = None
    for name, attrs in slots:
        if bootable(attrs) and (best is None or attrs.priority > best[1].priority):
            best = (name, attrs)
    if best is None:
        return None
    name, attrs = best
    if attrs.tries > 0:
        attrs = UsrAttrs(attrs.priority, attrs.tries - 1, attrs.successful)
    return name, attrs


def failed_above(slots: Slots, booted: str) -> list[str]:
    """Slots ranked above the booted one that can no longer boot: a rollback happened from them."""
    current = dict(slots)[booted]
    return [
        name
        for name, a in slots
        if name != booted and a.priority > current.priority and not bootable(a)
    ]


def unbootable() -> UsrAttrs:
    return UsrAttrs(priority=0, tries=0, successful=False)


def postinstall(slots: Slots, booted: str, target: str) -> dict[str, UsrAttrs]:
    """The attributes to write after the new image is in ``target`` (only what changes)."""
    if target == booted:
        raise ValueError(f"cannot install into the booted slot {booted}")
    attrs = dict(slots)
    current = attrs[booted]
    changes: dict[str, UsrAttrs] = {}
    prio = current.priority + 1
    if prio > MAX_PRIORITY:  # make room below the top, as cgpt prioritize renumbers
        prio = MAX_PRIORITY
        changes[booted] = UsrAttrs(MAX_PRIORITY - 1, current.tries, current.successful)
    changes[target] = UsrAttrs(priority=prio, tries=1, successful=False)
    return changes


def mark_good(slots: Slots, booted: str) -> dict[str, UsrAttrs]:
    """The attributes to write once the booted slot has proved healthy (only what changes)."""
    attrs = dict(slots)
    current = attrs[booted]
    changes: dict[str, UsrAttrs] = {}
    good = UsrAttrs(current.priority, 0, True)
    if good != current:
        changes[booted] = good
    for name in failed_above(slots, booted):
        changes[name] = UsrAttrs(0, 0, False)
    return changes
