"""The owner of a node's ZeroMQ sockets, on the node's event loop.

Inbound: a ROUTER bound on the node's peer address receives frames from peers (through their
DEALERs) and from the supervisor. Each frame is decoded and checked once (:mod:`emulator.codec`);
a bad one is dropped, counted and logged, never raised. Good frames go to the addressed actor with
``tell``; control frames are answered here. A connection that is not a ZeroMQ peer at all counts
once when libzmq reports its failed handshake (an HTTP request does); a stream libzmq takes for
an unfinished ZMTP/1.0 greeting (zeros, a TLS ClientHello) ends without an event, uncounted.

Outbound: :meth:`Transport.send` called on the loop's own thread (the etcd member, the client
port) routes the frame at once: fault rules (drop, delay, duplicate, reorder), then the peer's
DEALER. ZeroMQ sockets are not thread-safe, so any other thread gets its own inproc PUSH socket
into the loop, which routes what it reads the same way. DEALERs use ``IMMEDIATE`` so frames for an
unreachable peer are dropped like lost packets rather than queued for a late, stale delivery.

Theory of operation. The ROUTER, the outbox PULL and the monitor socket are watched with
``loop.add_reader`` on their ZeroMQ FDs, which are edge-triggered: they signal a change, not a
level. So a reader drains its socket until ``ZMQ_EVENTS`` says nothing is left; a drain that stops
at its cap reschedules itself; and after sending on the ROUTER (control replies), which can consume
the edge, the ROUTER is checked again. A slow periodic drain of all three is the safety net: a
missed edge costs at most :data:`SAFETY_DRAIN_S`, never a stalled node. Delayed frames (fault
rules) wait in a heap with one loop timer armed for the earliest.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka
import zmq
from zmq.utils.monitor import parse_monitor_message

from emulator import codec
from emulator.control import (
    CONTROL_ACTOR,
    SUPERVISOR,
    NodeStatusReply,
    NodeStatusRequest,
    SetClock,
    SetLinkRules,
)
from emulator.netrules import LinkShaper
from emulator.nodelog import ActorLog
from emulator.nodeloop import NodeLoop
from emulator.peerecho import Ping, Pong

OUTBOX_HWM = 50_000  # frames queued per sending thread before send drops
DRAIN_CAP = 2000  # frames per socket drain before letting the loop's other work run
SAFETY_DRAIN_S = 0.2  # a missed edge-triggered wake-up stalls a socket at most this long
_HANDSHAKE_FAILURES = {
    getattr(zmq, name)
    for name in (
        "EVENT_HANDSHAKE_FAILED_PROTOCOL",
        "EVENT_HANDSHAKE_FAILED_NO_DETAIL",
        "EVENT_HANDSHAKE_FAILED_AUTH",
    )
    if hasattr(zmq, name)
}


# The hot path calls pyzmq's Cython socket methods with plain ints: its Python layer turns each
# option and flag into an enum first, which cost as much as the call itself (measured: a frame's
# receive 5.4 -> 2.6 µs, a send 2.3 -> 1.1 µs).
_zmq_get, _zmq_recv, _zmq_send = (
    zmq.backend.Socket.get,
    zmq.backend.Socket.recv,
    zmq.backend.Socket.send,
)
_EVENTS, _POLLIN, _RCVMORE, _NOBLOCK = (
    int(c) for c in (zmq.EVENTS, zmq.POLLIN, zmq.RCVMORE, zmq.NOBLOCK)
)


def _readable(sock: zmq.Socket) -> bool:
    # Asking ZMQ_EVENTS is far cheaper than a NOBLOCK recv that ends in a zmq.Again exception,
    # which on an idle node was most of the transport's CPU.
    return bool(_zmq_get(sock, _EVENTS) & _POLLIN)


class Transport:
    def __init__(
        self,
        *,
        name: str,
        token: str,
        bind: str,
        peers: dict[str, str],
        log: ActorLog,
        status: Callable[[], dict[str, Any]],
        on_clock: Callable[[float], None] = lambda rate: None,
        seed: int = 0,
        loop: NodeLoop | None = None,
    ):
        self.node = name
        self.token = token
        self.peers = dict(peers)
        self.log = log
        self._status = status
        self._on_clock = on_clock
        self._bind = bind
        # the node's loop; without one (tests, tools) the transport runs a private loop thread
        self._own_loop = loop is None
        self.loop: NodeLoop | None = loop  # made by start_and_wait when None
        self._ctx = zmq.Context()
        self._outbox_addr = f"inproc://outbox-{id(self)}"
        self._local = threading.local()
        self._push_sockets: list[zmq.Socket] = []
        self._push_lock = threading.Lock()
        self.send_dropped = 0  # frames dropped because the outbox was full (see send)
        self._actors: dict[str, Any] = {}
        self._running = False  # sockets open on the loop: send routes directly from its thread
        self.shaper = LinkShaper(name, random.Random(seed))
        self._delayed: list[tuple[float, int, str, bytes]] = []
        self._delay_timer: asyncio.TimerHandle | None = None
        self._safety_timer: asyncio.TimerHandle | None = None
        self._seq = itertools.count()
        self.counters = {
            "rejected_frames": 0,
            "received": 0,
            "sent": 0,
            "fault_dropped": 0,
            "unroutable": 0,
        }
        self._last_reject_log = 0.0

    # --- API for any thread ----------------------------------------------------------------
    def register(self, actor: str, ref: Any) -> None:
        self._actors[actor] = ref

    def send(self, dst_node: str, actor: str, msg: Any) -> None:
        """Send ``msg`` to ``actor`` on ``dst_node``; thread-safe, never blocks.

        On the loop's thread the frame is routed at once. From another thread it is queued on
        that thread's inproc PUSH; when the loop has fallen ``OUTBOX_HWM`` frames behind, the frame
        is dropped and counted in :attr:`send_dropped`, as a full network queue drops packets:
        every sender (Raft, heartbeats) already copes with loss, and an actor must never stall on
        its peers.
        """
        frame = codec.encode(codec.Envelope(self.node, actor, msg), self.token)
        if self._running and self.loop.in_loop():
            self._route(dst_node, frame)
            return
        sock = getattr(self._local, "push", None)
        if sock is None:
            sock = self._ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, OUTBOX_HWM)
            sock.connect(self._outbox_addr)
            self._local.push = sock
            with self._push_lock:
                self._push_sockets.append(sock)
        try:
            sock.send_multipart([dst_node.encode(), frame], zmq.NOBLOCK)
        except zmq.Again:
            self.send_dropped += 1  # racy across threads, but only ever a count for status

    def start_and_wait(self, timeout: float = 10.0) -> None:
        if self.loop is None:
            self.loop = NodeLoop(f"transport-{self.node}")
            self.loop.start()
        try:
            self.loop.run(self._setup, timeout=timeout)
        except BaseException as exc:
            if self._own_loop:
                self.loop.stop()
            raise RuntimeError(f"transport failed to start on {self._bind}: {exc}") from exc

    def stop(self) -> None:
        if self.loop is None:
            return
        if self.loop.is_alive() and self._running:
            self.loop.run(self._teardown)
        if self._own_loop:
            self.loop.stop()

    # --- on the loop ---------------------------------------------------------------------------
    def _setup(self) -> None:
        ctx = self._ctx
        self._outbox = ctx.socket(zmq.PULL)
        self._outbox.bind(self._outbox_addr)
        self._router = ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._router.setsockopt(zmq.MAXMSGSIZE, codec.MAX_FRAME_BYTES + 1024)
        self._monitor = self._router.get_monitor_socket(sum(_HANDSHAKE_FAILURES) or zmq.EVENT_ALL)
        try:
            self._router.bind(self._bind)
        except zmq.ZMQError:
            self._router.disable_monitor()
            for s in (self._router, self._outbox, self._monitor):
                s.close(linger=0)
            raise
        self._dealers: dict[str, zmq.Socket] = {}
        for peer, endpoint in self.peers.items():
            if peer == self.node:
                continue
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.setsockopt(zmq.IMMEDIATE, 1)
            d.setsockopt(zmq.SNDHWM, 10000)
            d.setsockopt(zmq.RECONNECT_IVL, 100)
            d.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            d.connect(endpoint)
            self._dealers[peer] = d
        loop = self.loop.loop
        loop.add_reader(self._router.FD, self._drain_inbound)
        loop.add_reader(self._outbox.FD, self._drain_outbox)
        loop.add_reader(self._monitor.FD, self._drain_monitor)
        self._running = True
        self._safety_drain()  # also catches frames that arrived before the readers were added

    def _teardown(self) -> None:
        self._running = False
        loop = self.loop.loop
        for timer in (self._safety_timer, self._delay_timer):
            if timer is not None:
                timer.cancel()
        for s in (self._router, self._outbox, self._monitor):
            loop.remove_reader(s.FD)
        self._router.disable_monitor()
        with self._push_lock:
            for s in self._push_sockets:
                s.close(linger=0)
        for s in [self._router, self._outbox, self._monitor, *self._dealers.values()]:
            s.close(linger=0)
        self._ctx.term()

    def _safety_drain(self) -> None:
        if not self._running:
            return
        self._drain_outbox()
        self._drain_inbound()
        self._drain_monitor()
        self._safety_timer = self.loop.loop.call_later(SAFETY_DRAIN_S, self._safety_drain)

    def _drain_outbox(self) -> None:
        if not self._running:
            return
        outbox = self._outbox
        for _ in range(DRAIN_CAP):
            if not _readable(outbox):
                return
            dst, frame = outbox.recv_multipart(copy=True)
            self._route(dst.decode(), frame)
        self.loop.loop.call_soon(self._drain_outbox)  # at the cap, still readable: next turn

    def _route(self, dst_name: str, frame: bytes) -> None:
        """Send one frame to a peer through the fault rules (drop, delay, duplicate)."""
        if dst_name == self.node:  # loopback: deliver to ourselves without the network
            self._deliver(frame, None)
            return
        delays = self.shaper.outbound(dst_name)
        if not delays:
            self.counters["fault_dropped"] += 1
            return
        now = time.monotonic()
        for delay in delays:
            if delay <= 0:
                self._write(dst_name, frame)
            else:
                item = (now + delay, next(self._seq), dst_name, frame)
                heapq.heappush(self._delayed, item)
                if self._delayed[0] is item:  # the new earliest: the timer must fire sooner
                    self._arm_delayed(now)

    def _arm_delayed(self, now: float) -> None:
        """(Re)arm the one timer for the earliest delayed frame."""
        if self._delay_timer is not None:
            self._delay_timer.cancel()
        self._delay_timer = None
        if self._delayed and self._running:
            wait = max(0.0, self._delayed[0][0] - now)
            self._delay_timer = self.loop.loop.call_later(wait, self._flush_delayed)

    def _flush_delayed(self) -> None:
        self._delay_timer = None
        now = time.monotonic()
        due = now + 0.0005  # the loop's timers are millisecond-grained: don't re-arm for less
        while self._delayed and self._delayed[0][0] <= due:
            _, _, dst, frame = heapq.heappop(self._delayed)
            self._write(dst, frame)
        self._arm_delayed(now)

    def _write(self, dst: str, frame: bytes) -> None:
        sock = self._dealers.get(dst)
        if sock is None:
            self.counters["unroutable"] += 1
            return
        try:
            # copied, not zero-copy: pyzmq advises copying below ~64 kB, and a zero-copy frame
            # costs a hand-off to pyzmq's garbage thread when libzmq is done with it
            _zmq_send(sock, frame, _NOBLOCK, True, False)
            self.counters["sent"] += 1
        except zmq.Again:  # peer not connected: the frame is lost, as on a real network
            self.counters["fault_dropped"] += 1

    def _drain_inbound(self) -> None:
        if not self._running:
            return
        router = self._router
        for _ in range(DRAIN_CAP):
            if not _readable(router):
                return
            parts = [_zmq_recv(router, 0, True)]  # the sender's identity, then its parts
            while _zmq_get(router, _RCVMORE):
                parts.append(_zmq_recv(router, 0, True))
            if len(parts) != 2:
                self._reject(f"{len(parts) - 1} message parts, expected 1")
                continue
            self._deliver(parts[1], parts[0])
        self.loop.loop.call_soon(self._drain_inbound)  # at the cap, still readable: next turn

    def _deliver(self, frame: bytes, identity: bytes | None) -> None:
        try:
            env = codec.decode(frame, self.token)
        except codec.FrameRejected as exc:
            self._reject(str(exc))
            return
        self.counters["received"] += 1
        if env.source == SUPERVISOR:
            self._control(env, identity)
            return
        if not self.shaper.accepts_from(env.source):
            self.counters["fault_dropped"] += 1
            return
        if type(env.message) is Ping:
            # Echoed here, as a kernel answers ICMP: no actor hop for the commonest idle message.
            pong = Pong(env.message.seq, env.message.sent)
            self._route(
                env.source, codec.encode(codec.Envelope(self.node, env.actor, pong), self.token)
            )
            return
        ref = self._actors.get(env.actor)
        if ref is None:
            self.counters["unroutable"] += 1
            return
        try:
            ref.tell(env)
        except pykka.ActorDeadError:  # the actor stopped (its node is failing): not our crash
            self.counters["unroutable"] += 1

    def _control(self, env: codec.Envelope, identity: bytes | None) -> None:
        msg = env.message
        if isinstance(msg, NodeStatusRequest):
            status = self._status()
            status["rejected_frames"] = self.counters["rejected_frames"]
            status["transport"] = dict(self.counters)
            status["fault_rules_version"] = self.shaper.version
            reply = NodeStatusReply(msg.seq, status)
            if identity is not None:
                frame = codec.encode(codec.Envelope(self.node, SUPERVISOR, reply), self.token)
                self._router.send_multipart([identity, frame], zmq.NOBLOCK)
                # a send can consume the ROUTER's read edge: look again on the next turn
                self.loop.loop.call_soon(self._drain_inbound)
        elif isinstance(msg, SetLinkRules):
            if self.shaper.install(msg.version, msg.rules):
                self.log("faults.rules_installed", version=msg.version, links=len(msg.rules))
        elif isinstance(msg, SetClock):
            self._on_clock(msg.rate)
        elif env.actor != CONTROL_ACTOR and env.actor in self._actors:
            try:
                self._actors[env.actor].tell(env)
            except pykka.ActorDeadError:
                self.counters["unroutable"] += 1
        else:
            self._reject(f"unexpected control message {type(msg).__name__}")

    def _reject(self, reason: str) -> None:
        self.counters["rejected_frames"] += 1
        now = time.monotonic()
        if now - self._last_reject_log >= 1.0:  # a flood of garbage must not flood the log
            self._last_reject_log = now
            self.log.warning(
                "transport.frame_rejected", reason=reason, total=self.counters["rejected_frames"]
            )

    def _drain_monitor(self) -> None:
        while self._running:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] in _HANDSHAKE_FAILURES:
                self._reject("connection failed the ZMTP handshake (not a ZeroMQ peer)")
