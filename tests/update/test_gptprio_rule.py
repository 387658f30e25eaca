"""GRUB's gptprio.next and the attribute changes of an update, case by case."""

from __future__ import annotations

import pytest

from actors.update.gpt import UsrAttrs as U
from actors.update.gptprio import failed_above, mark_good, next_slot, postinstall


def S(a: U, b: U) -> list[tuple[str, U]]:
    return [("USR-A", a), ("USR-B", b)]


@pytest.mark.parametrize(
    "a, b, expect",
    [
        (U(1, 0, True), U(0, 0, False), ("USR-A", U(1, 0, True))),  # new node
        (U(1, 0, True), U(2, 1, False), ("USR-B", U(2, 0, False))),  # first try of the update
        (U(1, 0, True), U(2, 0, False), ("USR-A", U(1, 0, True))),  # tries spent: fall back
        (U(1, 0, True), U(2, 0, True), ("USR-B", U(2, 0, True))),  # updated and good
        (U(1, 0, True), U(2, 3, False), ("USR-B", U(2, 2, False))),  # several tries
        (U(2, 0, True), U(2, 0, True), ("USR-A", U(2, 0, True))),  # tie: table order
        (U(0, 5, True), U(1, 0, True), ("USR-B", U(1, 0, True))),  # priority 0 never boots
        (U(1, 1, True), U(0, 0, False), ("USR-A", U(1, 0, True))),  # successful with a try
        (U(3, 0, False), U(1, 0, True), ("USR-B", U(1, 0, True))),  # unbootable high one
        (U(15, 1, False), U(14, 0, True), ("USR-A", U(15, 0, False))),
    ],
)
def test_next_slot(a, b, expect):
    assert next_slot(S(a, b)) == expect


@pytest.mark.parametrize(
    "a, b",
    [
        (U(0, 0, False), U(0, 0, False)),
        (U(1, 0, False), U(2, 0, False)),
        (U(0, 1, True), U(0, 0, True)),
    ],
)
def test_nothing_bootable(a, b):
    assert next_slot(S(a, b)) is None


def test_tries_exhaust_then_fallback():
    slots = S(U(1, 0, True), U(2, 2, False))
    seen = []
    for _ in range(4):
        name, attrs = next_slot(slots)
        seen.append(name)
        slots = [(n, attrs if n == name else a) for n, a in slots]
    assert seen == ["USR-B", "USR-B", "USR-A", "USR-A"]


def test_postinstall_puts_the_new_slot_above_with_one_try():
    assert postinstall(S(U(1, 0, True), U(0, 0, False)), "USR-A", "USR-B") == {
        "USR-B": U(2, 1, False)
    }
    assert postinstall(S(U(1, 0, True), U(2, 0, True)), "USR-B", "USR-A") == {
        "USR-A": U(3, 1, False)
    }


def test_postinstall_at_the_top_priority_renumbers():
    assert postinstall(S(U(15, 0, True), U(0, 0, False)), "USR-A", "USR-B") == {
        "USR-A": U(14, 0, True),
        "USR-B": U(15, 1, False),
    }


def test_postinstall_into_the_booted_slot_is_refused():
    with pytest.raises(ValueError):
        postinstall(S(U(1, 0, True), U(0, 0, False)), "USR-A", "USR-A")


def test_update_cycle_end_to_end():
    slots = S(U(1, 0, True), U(0, 0, False))
    changes = postinstall(slots, "USR-A", "USR-B")
    slots = [(n, changes.get(n, a)) for n, a in slots]
    name, attrs = next_slot(slots)
    assert name == "USR-B"
    slots = [(n, attrs if n == name else a) for n, a in slots]
    slots = [(n, mark_good(slots, "USR-B").get(n, a)) for n, a in slots]
    assert slots == S(U(1, 0, True), U(2, 0, True))
    assert next_slot(slots) == ("USR-B", U(2, 0, True))


def test_rollback_detected_then_cleared_by_mark_good():
    slots = S(U(1, 0, True), U(2, 0, False))  # USR-B took its one try and never got marked
    assert next_slot(slots)[0] == "USR-A"
    assert failed_above(slots, "USR-A") == ["USR-B"]
    changes = mark_good(slots, "USR-A")
    assert changes == {"USR-B": U(0, 0, False)}
    slots = [(n, changes.get(n, a)) for n, a in slots]
    assert failed_above(slots, "USR-A") == []


def test_mark_good_on_a_good_slot_changes_nothing():
    assert mark_good(S(U(1, 0, True), U(0, 0, False)), "USR-A") == {}


def test_pending_update_is_not_a_failure():
    # USR-B installed but not yet booted: tries 1, so it is bootable, not failed
    assert failed_above(S(U(1, 0, True), U(2, 1, False)), "USR-A") == []
