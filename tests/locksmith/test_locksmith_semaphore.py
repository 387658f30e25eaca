import json

import pytest

from actors.locksmith.semaphore import (
    AlreadyHeld,
    BadSemaphore,
    LockError,
    NotHeld,
    RebootSemaphore,
    SemaphoreFull,
    semaphore_key,
)


def test_new_semaphore_is_locksmiths_initial_document():
    assert RebootSemaphore().to_json() == '{"semaphore":1,"max":1,"holders":null}'


def test_keys_default_and_per_group():
    assert semaphore_key() == "coreos.com/updateengine/rebootlock/semaphore"
    assert semaphore_key("") == "coreos.com/updateengine/rebootlock/semaphore"
    assert semaphore_key("web") == "coreos.com/updateengine/rebootlock/groups/web/semaphore"


@pytest.mark.parametrize(
    "group, escaped",
    [("a b", "a+b"), ("a/b", "a%2Fb"), ("x-y_z.~", "x-y_z.~"), ("ü", "%C3%BC"), ("a+b", "a%2Bb")],
)
def test_group_is_query_escaped_like_go(group, escaped):
    assert semaphore_key(group) == f"coreos.com/updateengine/rebootlock/groups/{escaped}/semaphore"


def test_lock_takes_a_slot_and_records_the_holder():
    sem = RebootSemaphore().lock("m1")
    assert (sem.semaphore, sem.max, sem.holders) == (0, 1, ("m1",))
    assert sem.to_json() == '{"semaphore":0,"max":1,"holders":["m1"]}'


def test_lock_when_full_is_refused_with_locksmiths_words():
    sem = RebootSemaphore().lock("m1")
    with pytest.raises(SemaphoreFull, match="semaphore is at 0"):
        sem.lock("m2")


def test_lock_twice_by_the_same_holder():
    sem = RebootSemaphore(semaphore=2, max=2).lock("m1")
    with pytest.raises(AlreadyHeld, match="holder exists"):
        sem.lock("m1")


def test_holders_stay_sorted():
    sem = RebootSemaphore(semaphore=3, max=3)
    for h in ("m2", "m3", "m1"):
        sem = sem.lock(h)
    assert sem.holders == ("m1", "m2", "m3")
    assert sem.semaphore == 0


def test_unlock_frees_the_slot_and_leaves_an_empty_list_not_null():
    sem = RebootSemaphore().lock("m1").unlock("m1")
    assert sem.to_json() == '{"semaphore":1,"max":1,"holders":[]}'


def test_unlock_by_another_id_is_refused():
    sem = RebootSemaphore().lock("m1")
    with pytest.raises(NotHeld, match="holder does not exist"):
        sem.unlock("m2")
    with pytest.raises(NotHeld):
        RebootSemaphore().unlock("m1")


def test_unlock_a_middle_holder():
    sem = RebootSemaphore(semaphore=3, max=3).lock("a").lock("b").lock("c").unlock("b")
    assert sem.holders == ("a", "c") and sem.semaphore == 1


def test_set_max_up_and_down_keeps_holders():
    sem = RebootSemaphore().lock("m1").set_max(2)
    assert (sem.semaphore, sem.max) == (1, 2)
    sem = sem.lock("m2").set_max(1)
    assert (sem.semaphore, sem.max, sem.holders) == (-1, 1, ("m1", "m2"))
    with pytest.raises(SemaphoreFull, match="semaphore is at -1"):
        sem.lock("m3")
    sem = sem.unlock("m1")
    with pytest.raises(SemaphoreFull, match="semaphore is at 0"):
        sem.lock("m3")
    assert sem.unlock("m2").lock("m3").holders == ("m3",)


def test_set_max_zero_blocks_every_lock_and_negative_is_refused():
    sem = RebootSemaphore().set_max(0)
    with pytest.raises(SemaphoreFull):
        sem.lock("m1")
    with pytest.raises(LockError, match="0 or more"):
        sem.set_max(-1)


def test_operations_never_change_the_original():
    sem = RebootSemaphore(index=7)
    sem.lock("m1")
    assert sem == RebootSemaphore(index=7)


def test_round_trip_keeps_index():
    text = '{"semaphore":0,"max":1,"holders":["m1"]}'
    sem = RebootSemaphore.from_json(text, index=42)
    assert sem.index == 42 and sem.to_json() == text


def test_from_json_ignores_unknown_fields_and_defaults_missing_to_zero():
    sem = RebootSemaphore.from_json('{"max":2,"extra":true}')
    assert (sem.semaphore, sem.max, sem.holders) == (0, 2, None)


@pytest.mark.parametrize(
    "text",
    ["", "nope", "[]", '{"semaphore":"1"}', '{"max":true}', '{"holders":"m1"}', '{"holders":[1]}'],
)
def test_bad_documents_are_clear_errors(text):
    with pytest.raises(BadSemaphore):
        RebootSemaphore.from_json(text)


def test_invariant_available_plus_holders_is_max_over_many_operations():
    import random

    rng = random.Random(3)
    sem = RebootSemaphore()
    for _ in range(500):
        op = rng.choice(["lock", "unlock", "max"])
        who = rng.choice(["a", "b", "c", "d"])
        try:
            if op == "lock":
                sem = sem.lock(who)
            elif op == "unlock":
                sem = sem.unlock(who)
            else:
                sem = sem.set_max(rng.randint(0, 3))
        except LockError:
            pass
        assert sem.semaphore + len(sem.holders or ()) == sem.max
        assert list(sem.holders or ()) == sorted(set(sem.holders or ()))
        assert json.loads(sem.to_json())["holders"] == (
            None if sem.holders is None else list(sem.holders)
        )
