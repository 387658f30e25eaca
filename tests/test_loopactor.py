"""LoopActor: a Pykka actor on a node's event loop keeps Pykka's tell/ask/stop/failure semantics,
and a tell from another thread wakes the loop once per burst."""

from __future__ import annotations

import threading

import pykka
import pytest
from proc_waits import wait_until

from emulator.loopactor import DRAIN_CAP, LoopActor
from emulator.nodectx import NodeContext
from emulator.nodelog import NodeLog
from emulator.nodeloop import NodeLoop


class _Recorder(LoopActor):
    actor_name = "recorder"

    def __init__(self, ctx, loop=None):
        super().__init__(ctx, loop)
        self.seen: list = []
        self.threads: set[int] = set()
        self.stopped_on: int | None = None
        _started.append(self)  # the test reads what the actor saw (its ref holds it weakly)

    def on_start(self) -> None:
        self.threads.add(threading.get_ident())

    def on_local(self, message):
        self.threads.add(threading.get_ident())
        if message == "boom":
            raise ValueError("boom")
        if isinstance(message, tuple) and message[0] == "forward":  # tell another actor, on-loop
            message[1].tell(message[2])
            return None
        self.seen.append(message)
        return ("echo", message)

    def on_stop(self) -> None:
        self.stopped_on = threading.get_ident()


_started: list[_Recorder] = []


def _actor(ref) -> _Recorder:
    return next(a for a in _started if a.actor_ref == ref)


@pytest.fixture
def loop():
    node_loop = NodeLoop("test")
    node_loop.start()
    yield node_loop
    node_loop.stop()
    assert not node_loop.is_alive()


def _ctx(tmp_path) -> NodeContext:
    return NodeContext("n1", (), tmp_path, NodeLog("n1", None), None, None)


def test_tell_and_ask_run_on_the_loop_thread(tmp_path, loop):
    ref = _Recorder.start(_ctx(tmp_path), loop)
    try:
        ref.tell(1)
        assert ref.ask(2, timeout=5) == ("echo", 2)  # asks come after earlier tells
        actor = _actor(ref)
        assert actor.seen == [1, 2]
        assert actor.threads == {loop.thread_id}
    finally:
        ref.stop(timeout=5)
    assert actor.stopped_on == loop.thread_id
    assert not ref.is_alive()
    assert loop.is_alive()  # a shared loop outlives its actors


def test_an_exception_in_an_ask_goes_back_to_the_caller_and_the_actor_lives_on(tmp_path, loop):
    ref = _Recorder.start(_ctx(tmp_path), loop)
    try:
        with pytest.raises(ValueError, match="boom"):
            ref.ask("boom", timeout=5)
        assert ref.ask(3, timeout=5) == ("echo", 3)
    finally:
        ref.stop(timeout=5)


def test_an_exception_in_a_tell_fails_the_actor_and_later_asks_see_it_dead(tmp_path, loop):
    failures = []

    class Failing(_Recorder):
        def on_failure(self, exc_type, exc, tb):
            failures.append(exc_type)

    ref = Failing.start(_ctx(tmp_path), loop)
    ref.tell("boom")
    wait_until(lambda: not ref.is_alive(), timeout=10, what="the actor to fail")
    assert failures == [ValueError]
    with pytest.raises(pykka.ActorDeadError):
        ref.ask(1, timeout=5)
    assert loop.is_alive()  # the loop (the node's transport, its port) carries on


def test_asks_queued_behind_a_stop_are_failed_not_left_hanging(tmp_path, loop):
    ref = _Recorder.start(_ctx(tmp_path), loop)
    held = threading.Event()
    loop.call_soon(held.wait, 5)  # hold the loop so the stop and the ask queue up together
    stop = ref.stop(block=False)
    pending = ref.ask(4, block=False)
    held.set()
    stop.get(timeout=5)
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=5)


def _count_wakeups(loop: NodeLoop) -> list[bool]:
    """Record, for each callback scheduled through ``loop``, whether it came from another
    thread (a cross-thread wake-up) or from the loop itself."""
    crossings: list[bool] = []

    def recording(fn, *args):
        crossings.append(not loop.in_loop())
        NodeLoop.call_soon(loop, fn, *args)

    loop.call_soon = recording  # type: ignore[method-assign]
    return crossings


def test_a_burst_of_tells_from_another_thread_wakes_the_loop_once_and_all_arrive(tmp_path, loop):
    ref = _Recorder.start(_ctx(tmp_path), loop)
    actor = _actor(ref)
    n = 3 * DRAIN_CAP + 7  # more than one drain's cap: the drain must reschedule itself
    # on_start and its first drain done first: that drain clears the flag a burst relies on
    loop.run(lambda: None)
    held = threading.Event()
    loop.call_soon(held.wait, 5)  # the loop is busy while the burst is told
    crossings = _count_wakeups(loop)
    for i in range(n):
        ref.tell(i)
    assert crossings == [True]  # one wake-up for the whole burst
    held.set()
    wait_until(lambda: len(actor.seen) == n, timeout=10, what="the burst")
    assert actor.seen == list(range(n))
    ref.tell("late")  # after the drain, the next tell wakes the loop again
    wait_until(lambda: actor.seen[-1:] == ["late"], timeout=5, what="the late tell")
    assert crossings == [True, True]
    ref.stop(timeout=5)


def test_a_tell_between_actors_on_one_loop_needs_no_cross_thread_wake_up(tmp_path, loop):
    first = _Recorder.start(_ctx(tmp_path), loop)
    second = _Recorder.start(_ctx(tmp_path), loop)
    try:
        crossings = _count_wakeups(loop)
        first.tell(("forward", second, "hello"))
        wait_until(lambda: _actor(second).seen == ["hello"], timeout=5, what="the forward")
        assert crossings == [True, False]  # this thread woke the loop; first → second did not
    finally:
        first.stop(timeout=5)
        second.stop(timeout=5)


def test_an_actor_without_a_loop_runs_on_a_private_one_stopped_with_it(tmp_path):
    ref = _Recorder.start(_ctx(tmp_path))
    actor = _actor(ref)
    assert ref.ask(5, timeout=5) == ("echo", 5)
    private = actor.loop
    assert private.is_alive() and actor.threads == {private.thread_id}
    ref.stop(timeout=5)
    wait_until(lambda: not private.is_alive(), timeout=5, what="the private loop to end")
