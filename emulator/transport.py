"""The one thread that owns a node's ZeroMQ sockets.

Inbound: a ROUTER bound on the node's peer address receives frames from peers (through their
DEALERs) and from the supervisor. Each frame is decoded and checked once (:mod:`emulator.codec`);
a bad one is dropped, counted and logged, never raised. Good frames go to the addressed actor with
``tell``; control frames are answered here.

Outbound: actors call :meth:`Transport.send` from their own threads. ZeroMQ sockets are not
thread-safe, so each calling thread gets its own inproc PUSH socket into this thread, which applies
the network-fault rules (drop, delay, duplicate, reorder) and writes to the peer's DEALER.
DEALERs use ``IMMEDIATE`` so frames for an unreachable peer are dropped like lost packets rather
than queued for a late, stale delivery.
"""

from __future__ import annotations

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
from emulator.peerecho import Ping, Pong

OUTBOX_HWM = 50_000  # frames queued per sending thread before send drops
_HANDSHAKE_FAILURES = {
    getattr(zmq, name)
    for name in (
        "EVENT_HANDSHAKE_FAILED_PROTOCOL",
        "EVENT_HANDSHAKE_FAILED_NO_DETAIL",
        "EVENT_HANDSHAKE_FAILED_AUTH",
    )
    if hasattr(zmq, name)
}


def _readable(sock: zmq.Socket) -> bool:
    # Asking ZMQ_EVENTS is far cheaper than a NOBLOCK recv that ends in a zmq.Again exception,
    # which on an idle node was most of the transport's CPU.
    return bool(sock.getsockopt(zmq.EVENTS) & zmq.POLLIN)


class Transport(threading.Thread):
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
    ):
        super().__init__(name=f"transport-{name}", daemon=True)
        self.node = name
        self.token = token
        self.peers = dict(peers)
        self.log = log
        self._status = status
        self._on_clock = on_clock
        self._bind = bind
        self._ctx = zmq.Context()
        self._outbox_addr = f"inproc://outbox-{id(self)}"
        self._local = threading.local()
        self._push_sockets: list[zmq.Socket] = []
        self._push_lock = threading.Lock()
        self.send_dropped = 0  # frames dropped because the outbox was full (see send)
        self._actors: dict[str, Any] = {}
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.shaper = LinkShaper(name, random.Random(seed))
        self._delayed: list[tuple[float, int, str, bytes]] = []
        self._seq = itertools.count()
        self.counters = {
            "rejected_frames": 0,
            "received": 0,
            "sent": 0,
            "fault_dropped": 0,
            "unroutable": 0,
        }
        self._last_reject_log = 0.0

    # --- API for other threads -------------------------------------------------------------
    def register(self, actor: str, ref: Any) -> None:
        self._actors[actor] = ref

    def send(self, dst_node: str, actor: str, msg: Any) -> None:
        """Queue ``msg`` for ``actor`` on ``dst_node``; thread-safe, never blocks.

        When the transport thread has fallen ``OUTBOX_HWM`` frames behind, the frame is dropped
        and counted in :attr:`send_dropped`, as a full network queue drops packets: every sender
        (Raft, heartbeats) already copes with loss, and an actor must never stall on its peers.
        """
        frame = codec.encode(codec.Envelope(self.node, actor, msg), self.token)
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
            sock.send_multipart([dst_node.encode(), frame], zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self.send_dropped += 1  # racy across threads, but only ever a count for status

    def start_and_wait(self, timeout: float = 10.0) -> None:
        self.start()
        if not self._ready.wait(timeout) or self._error:
            raise RuntimeError(f"transport failed to start on {self._bind}: {self._error}")

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)

    # --- the thread ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._setup()
        except BaseException as exc:  # surfaced by start_and_wait
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        finally:
            self._teardown()

    def _setup(self) -> None:
        ctx = self._ctx
        self._outbox = ctx.socket(zmq.PULL)
        self._outbox.bind(self._outbox_addr)
        self._router = ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._router.setsockopt(zmq.MAXMSGSIZE, codec.MAX_FRAME_BYTES + 1024)
        self._monitor = self._router.get_monitor_socket(sum(_HANDSHAKE_FAILURES) or zmq.EVENT_ALL)
        self._router.bind(self._bind)
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
        self._poller = zmq.Poller()
        self._poller.register(self._router, zmq.POLLIN)
        self._poller.register(self._outbox, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    def _teardown(self) -> None:
        self._router.disable_monitor()
        with self._push_lock:
            for s in self._push_sockets:
                s.close(linger=0)
        for s in [self._router, self._outbox, self._monitor, *self._dealers.values()]:
            s.close(linger=0)
        self._ctx.term()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            timeout = 200
            if self._delayed:
                timeout = max(
                    0, min(timeout, int((self._delayed[0][0] - time.monotonic()) * 1000) + 1)
                )
            events = dict(self._poller.poll(timeout))
            if self._outbox in events:
                self._drain_outbox()
            if self._router in events:
                self._drain_inbound()
            if self._monitor in events:
                self._drain_monitor()
            if self._delayed:
                self._flush_delayed()

    def _drain_outbox(self) -> None:
        for _ in range(10000):
            if not _readable(self._outbox):
                return
            dst, frame = self._outbox.recv_multipart(copy=True)
            self._route(dst.decode(), frame)

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
                heapq.heappush(self._delayed, (now + delay, next(self._seq), dst_name, frame))

    def _flush_delayed(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, dst, frame = heapq.heappop(self._delayed)
            self._write(dst, frame)

    def _write(self, dst: str, frame: bytes) -> None:
        sock = self._dealers.get(dst)
        if sock is None:
            self.counters["unroutable"] += 1
            return
        try:
            sock.send(frame, zmq.NOBLOCK, copy=False)
            self.counters["sent"] += 1
        except zmq.Again:  # peer not connected: the frame is lost, as on a real network
            self.counters["fault_dropped"] += 1

    def _drain_inbound(self) -> None:
        for _ in range(10000):
            if not _readable(self._router):
                return
            parts = self._router.recv_multipart(copy=True)
            if len(parts) != 2:
                self._reject(f"{len(parts) - 1} message parts, expected 1")
                continue
            self._deliver(parts[1], parts[0])

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
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event["event"] in _HANDSHAKE_FAILURES:
                self._reject("connection failed the ZMTP handshake (not a ZeroMQ peer)")
