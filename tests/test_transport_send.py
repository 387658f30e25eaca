"""Transport.send never blocks its caller: with the transport thread stalled, frames beyond the
outbox's high-water mark are dropped and counted, as a full network queue drops packets."""

from __future__ import annotations

import threading

import zmq

from emulator import transport as transport_module
from emulator.nodelog import NodeLog
from emulator.peerecho import Ping
from emulator.transport import Transport


def test_send_drops_and_counts_at_the_high_water_mark_instead_of_blocking(monkeypatch):
    monkeypatch.setattr(transport_module, "OUTBOX_HWM", 5)
    t = Transport(
        name="n1",
        token="t",
        bind="tcp://127.0.0.1:0",
        peers={},
        log=NodeLog("n1", None).for_actor("transport"),
        status=dict,
    )
    stalled = t._ctx.socket(zmq.PULL)  # the outbox, bound but never read: a stalled thread
    stalled.setsockopt(zmq.RCVHWM, 5)  # inproc queues hold both ends' marks
    stalled.bind(t._outbox_addr)
    try:
        done = threading.Event()

        def sender():
            for i in range(2000):
                t.send("n2", "hb", Ping(i, 0.0))
            done.set()

        threading.Thread(target=sender, daemon=True).start()
        assert done.wait(10), "send blocked at the high-water mark"
        assert 0 < t.send_dropped < 2000
    finally:
        for sock in t._push_sockets:
            sock.close(0)
        stalled.close(0)
        t._ctx.term()
