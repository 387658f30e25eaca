"""The transport on an event loop: edge-triggered ZeroMQ FDs drained under a burst, sends from the
loop's own thread routed directly through the same fault rules, and sends from other threads
through the inproc outbox."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from proc_waits import wait_until

from emulator.netrules import LinkRule
from emulator.nodelog import NodeLog
from emulator.nodeloop import NodeLoop
from emulator.peerecho import Pong
from emulator.transport import DRAIN_CAP, Transport


class _Inbox:
    """Stands in for an actor: records what the transport tells it, and on which thread."""

    def __init__(self) -> None:
        self.got: list = []
        self.probes = 0
        self.arrived: list[float] = []
        self.threads: set[int] = set()

    def tell(self, env) -> None:
        if env.message.seq < 0:  # a connection probe (see _connected)
            self.probes += 1
            return
        self.got.append(env.message.seq)
        self.arrived.append(time.monotonic())
        self.threads.add(threading.get_ident())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pair():
    """Two transports, a and b, each on a loop of its own, b's "sink" actor recording frames."""
    ports = {"a": _free_port(), "b": _free_port()}
    endpoints = {n: f"tcp://127.0.0.1:{p}" for n, p in ports.items()}
    loops = {n: NodeLoop(n) for n in ports}
    transports = {}
    for name, loop in loops.items():
        loop.start()
        transports[name] = Transport(
            name=name,
            token="t",
            bind=endpoints[name],
            peers={n: e for n, e in endpoints.items() if n != name},
            log=NodeLog(name, None).for_actor("transport"),
            status=dict,
            loop=loop,
        )
        transports[name].start_and_wait()
    sink = _Inbox()
    transports["b"].register("sink", sink)
    try:
        yield transports["a"], transports["b"], sink, loops
    finally:
        for name in ports:
            transports[name].stop()
            loops[name].stop()
            assert not loops[name].is_alive()


def _connected(a: Transport, sink: _Inbox) -> None:
    """Wait until a's DEALER to b is connected (IMMEDIATE drops frames before that)."""
    seq = iter(range(-1_000_000, 0))

    def probe():
        a.send("b", "sink", Pong(next(seq), 0.0))
        return sink.probes

    wait_until(probe, timeout=20, what="a connected to b")


def test_a_burst_of_20k_frames_from_another_thread_is_drained_to_the_last_frame(pair):
    a, b, sink, loops = pair
    _connected(a, sink)
    n = 20_000
    assert n > 4 * DRAIN_CAP  # the drains hit their cap and must reschedule themselves

    def sender():
        for i in range(n):
            a.send("b", "sink", Pong(i, 0.0))

    t = threading.Thread(target=sender)
    t.start()
    t.join(30)
    # the safety drain alone would take n / DRAIN_CAP * 0.2 s = 2 s: well within the wait, so
    # check the rate too: a stalled edge would show as far slower delivery
    started = time.monotonic()
    wait_until(lambda: len(sink.got) >= n, timeout=30, what=f"{n} frames at b")
    assert sorted(sink.got) == list(range(n)) and sink.got == list(range(n))  # no loss, in order
    assert a.send_dropped == 0 and a.counters["sent"] >= n
    assert sink.threads == {loops["b"].thread_id}  # delivered on b's loop thread
    assert time.monotonic() - started < 15


def test_sends_on_the_loop_thread_go_straight_to_the_peer(pair):
    a, b, sink, loops = pair
    _connected(a, sink)

    pushes = len(a._push_sockets)  # one: _connected's, from this thread

    def burst():
        for i in range(5000):
            a.send("b", "sink", Pong(i, 0.0))

    a.loop.run(burst)
    assert len(a._push_sockets) == pushes  # the loop's sends needed no inproc socket
    wait_until(lambda: len(sink.got) >= 5000, timeout=20, what="5000 frames at b")
    assert sink.got == list(range(5000))


def test_fault_rules_apply_to_direct_sends_from_the_loop_thread(pair):
    a, b, sink, loops = pair
    _connected(a, sink)
    a.loop.run(a.shaper.install, 1, [LinkRule("a", "b", blocked=True)])
    before = a.counters["fault_dropped"]
    a.loop.run(lambda: [a.send("b", "sink", Pong(i, 0.0)) for i in range(100)])
    assert a.counters["fault_dropped"] - before == 100
    # a delayed link: frames arrive no sooner than the delay, in order, and none are lost
    a.loop.run(a.shaper.install, 2, [LinkRule("a", "b", delay_ms=150)])
    sent_at = time.monotonic()
    a.loop.run(lambda: [a.send("b", "sink", Pong(i, 0.0)) for i in range(100, 110)])
    wait_until(lambda: len(sink.got) >= 10, timeout=10, what="delayed frames")
    assert sink.got == list(range(100, 110))
    assert min(sink.arrived) - sent_at >= 0.149
    # duplicates: every frame twice
    sink.got.clear()
    a.loop.run(a.shaper.install, 3, [LinkRule("a", "b", duplicate=1.0)])
    a.loop.run(lambda: [a.send("b", "sink", Pong(i, 0.0)) for i in range(5)])
    wait_until(lambda: len(sink.got) >= 10, timeout=10, what="duplicated frames")
    assert sorted(sink.got) == sorted([*range(5), *range(5)])


def test_fault_rules_apply_to_sends_from_other_threads_too(pair):
    a, b, sink, loops = pair
    _connected(a, sink)
    a.loop.run(a.shaper.install, 1, [LinkRule("a", "b", blocked=True)])
    before = a.counters["fault_dropped"]
    for i in range(50):
        a.send("b", "sink", Pong(i, 0.0))
    wait_until(lambda: a.counters["fault_dropped"] - before == 50, what="50 frames dropped")
    a.loop.run(a.shaper.install, 2, [])
    a.send("b", "sink", Pong(999, 0.0))
    wait_until(lambda: sink.got, what="a frame after the partition healed")
    assert sink.got == [999]


def test_a_transport_without_a_loop_runs_its_own_and_stops_it():
    t = Transport(
        name="solo",
        token="t",
        bind=f"tcp://127.0.0.1:{_free_port()}",
        peers={},
        log=NodeLog("solo", None).for_actor("transport"),
        status=dict,
    )
    t.start_and_wait()
    sink = _Inbox()
    t.register("sink", sink)
    t.send("solo", "sink", Pong(7, 0.0))  # loopback, through the outbox from this thread
    wait_until(lambda: sink.got, what="loopback frame")
    assert sink.got == [7]
    t.stop()
    assert not t.loop.is_alive()


def test_a_port_in_use_fails_start_with_the_address():
    taken = f"tcp://127.0.0.1:{_free_port()}"
    kwargs = dict(token="t", bind=taken, peers={}, status=dict)
    first = Transport(name="x", log=NodeLog("x", None).for_actor("transport"), **kwargs)
    first.start_and_wait()
    try:
        second = Transport(name="y", log=NodeLog("y", None).for_actor("transport"), **kwargs)
        with pytest.raises(RuntimeError, match=taken):
            second.start_and_wait()
        assert not second.loop.is_alive()
    finally:
        first.stop()
