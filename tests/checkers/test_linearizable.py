"""The register linearizability search on hand-made histories, and against brute force."""

from __future__ import annotations

import itertools
import time

import pytest
from histories import H
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.checkers import linearizable
from emulator.checkers.ops import Op, Outcome
from emulator.checkers.synthetic import register_history, stale_read


def valid(h: H):
    return linearizable.check(h.ops, time_limit=10).valid


# --- valid histories ----------------------------------------------------------------------
def test_sequential_write_then_read():
    assert valid(H().w(1, 0, 1).r(1, 2, 3)) is True


def test_read_of_a_missing_key_before_any_write():
    assert valid(H().r(None, 0, 1).w(1, 2, 3).r(1, 4, 5)) is True


def test_concurrent_read_may_see_either_value():
    assert valid(H().w(1, 0, 1).w(2, 2, 5, p=1).r(1, 3, 4, p=2)) is True
    assert valid(H().w(1, 0, 1).w(2, 2, 5, p=1).r(2, 3, 4, p=2)) is True


def test_ops_touching_at_one_instant_count_as_concurrent():
    assert valid(H().w(1, 0, 1).w(2, 2, 3, p=1).r(1, 3, 4, p=2)) is True


def test_cas_succeeds_on_its_expected_value():
    assert valid(H().w(1, 0, 1).cas(1, 2, 2, 3).r(2, 4, 5)) is True


def test_failed_ops_are_ignored():
    assert valid(H().w(1, 0, 1).w(9, 2, 3, "fail").cas(5, 6, 4, 5, "fail").r(1, 6, 7)) is True


def test_info_write_may_take_effect_late():
    assert valid(H().w(1, 0, 1).w(2, 2, 3, "info", p=1).r(1, 4, 5).r(2, 6, 7)) is True


def test_info_write_may_never_take_effect():
    assert valid(H().w(1, 0, 1).w(2, 2, 3, "info", p=1).r(1, 4, 5).r(1, 6, 7)) is True


def test_chain_of_info_cas_ops_observed_only_at_the_end():
    """An info write needed only by an info cas that an ok cas needs must not be pruned."""
    h = H().w(1, 0, 1).w(5, 2, 3, "info", p=1).cas(5, 6, 4, 5, "info", p=2).cas(6, 7, 6, 7)
    assert valid(h) is True


# --- invalid histories --------------------------------------------------------------------
def test_stale_read_after_a_newer_write_completed():
    assert valid(H().w(1, 0, 1).w(2, 2, 3).r(1, 4, 5)) is False


def test_read_of_a_value_never_written():
    assert valid(H().w(1, 0, 1).r(3, 2, 3)) is False


def test_values_going_back_in_time():
    assert valid(H().w(1, 0, 10).w(2, 0, 10, p=1).r(2, 11, 12).r(1, 13, 14)) is False


def test_cas_on_a_value_that_was_not_there():
    assert valid(H().w(1, 0, 1).cas(2, 3, 2, 3)) is False


def test_info_write_cannot_explain_a_read_before_its_invoke():
    assert valid(H().w(1, 0, 1).r(2, 2, 3).w(2, 4, 5, "info")) is False


def test_read_of_an_info_write_then_the_older_value_again():
    assert valid(H().w(1, 0, 1).w(2, 2, 3, "info").r(2, 4, 5).r(1, 6, 7)) is False


def test_keys_are_checked_independently():
    h = H().w(1, 0, 1, key="a").w(1, 0, 1, key="b").w(2, 2, 3, key="b").r(1, 4, 5, key="b")
    result = linearizable.check(h.ops)
    assert result.valid is False
    assert result.failed_keys == ["b"]
    assert result.keys["a"].valid is True


def test_a_search_past_its_deadline_is_unknown():
    ops = register_history(ops=3000, keys=1, clients=10, seed=3)
    result = linearizable.check_key(linearizable.prune(ops), deadline=time.monotonic() - 1)
    assert result.valid == "unknown"


# --- generated histories ------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_leader_kill_histories_are_linearizable(seed):
    ops = register_history(ops=3000, keys=5, clients=10, seed=seed)
    assert any(o.outcome is Outcome.INFO for o in ops)
    assert linearizable.check(ops, time_limit=30).valid is True


@pytest.mark.parametrize("seed", [1, 2])
def test_a_planted_stale_read_is_found(seed):
    ops = stale_read(register_history(ops=3000, keys=5, clients=10, seed=seed), seed)
    assert linearizable.check(ops, time_limit=30).valid is False


def test_many_concurrent_info_writes_do_not_blow_up():
    """60 clients whose writes all time out at once; every other value is read back later, in
    turn — linearizable, and decided without trying every subset of the 60."""
    h = H().w(0, 0, 1)
    for p in range(60):
        h.w(100 + p, 2, 3, "info", p=p)
    for p in range(0, 60, 2):
        h.r(100 + p, 4 + p, 4.5 + p, p=70)
    assert linearizable.check(h.ops, time_limit=20).valid is True


def test_many_info_writes_with_a_value_read_twice_out_of_order():
    """Reading 100, then 102, then 100 again cannot be ordered: each value is written once."""
    h = H().w(0, 0, 1)
    for p in range(40):
        h.w(100 + p, 2, 3, "info", p=p)
    h.r(100, 4, 5, p=70).r(102, 6, 7, p=70).r(100, 8, 9, p=70)
    assert linearizable.check(h.ops, time_limit=20).valid is False


# --- against brute force ------------------------------------------------------------------
def brute_force(ops: list[Op]) -> bool:
    ops = [o for o in ops if o.outcome is not Outcome.FAIL]
    must = [o for o in ops if o.outcome is Outcome.OK]
    maybe = [o for o in ops if o.outcome is Outcome.INFO]
    for k in range(len(maybe) + 1):
        for extra in itertools.combinations(maybe, k):
            chosen = must + list(extra)
            for order in itertools.permutations(chosen):
                if _legal(order):
                    return True
    return False


def _legal(order) -> bool:
    for i, a in enumerate(order):  # real time: nothing later may have completed before a began
        for b in order[i + 1 :]:
            if b.complete is not None and b.complete < a.invoke:
                return False
    state = None
    for o in order:
        ok, state = linearizable.step(state, o)
        if not ok:
            return False
    return True


@st.composite
def small_histories(draw):
    n = draw(st.integers(1, 6))
    ops = []
    for i in range(n):
        f = draw(st.sampled_from(["read", "write", "cas"]))
        start = draw(st.integers(0, 8))
        length = draw(st.integers(0, 4))
        outcome = draw(st.sampled_from([Outcome.OK, Outcome.OK, Outcome.INFO, Outcome.FAIL]))
        v = draw(st.sampled_from([None, 1, 2, 3])) if f == "read" else i + 1
        if f == "cas":
            v = (draw(st.sampled_from([1, 2, 3, 4])), i + 10)
        if f == "read" and outcome is Outcome.INFO:
            outcome = Outcome.OK
        done = None if outcome is Outcome.INFO else float(start + length)
        ops.append(Op(i + 1, i, f, "k", v, outcome, float(start), done))
    return ops


@settings(max_examples=300, deadline=None)
@given(small_histories())
def test_search_agrees_with_brute_force(ops):
    assert linearizable.check(ops, time_limit=10).valid is brute_force(ops)
