"""Heartbeat: ping every peer, remember who answered and how fast.

The peer's transport answers a Ping with a Pong straight away (like a kernel answering ICMP echo),
so the round trip measures the network and the peer's transport thread, not its actors.

This is what ``run.py status`` shows as reachability and round-trip time. Pings go through the
transport like any other traffic, so network faults show up here first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from emulator.nodectx import NodeActor, NodeContext
from emulator.peerecho import Ping, Pong  # noqa: F401  (Pong: re-exported)
from emulator.ticker import Tick


def ping_interval(cluster_size: int) -> float:
    """Seconds between pings: 0.5 s, slower for big clusters so idle cost stays flat."""
    return 0.5 * max(1.0, cluster_size / 10)


@dataclass
class PeerTable:
    """Sans-IO record of answers: reachable means an answer within ``window`` seconds."""

    peers: tuple[str, ...]
    window: float
    last_seen: dict[str, float] = field(default_factory=dict)
    rtt: dict[str, float] = field(default_factory=dict)

    def answered(self, peer: str, sent: float, now: float) -> None:
        if peer not in self.peers:
            return
        self.last_seen[peer] = now
        sample = max(0.0, now - sent)
        old = self.rtt.get(peer)
        self.rtt[peer] = sample if old is None else 0.7 * old + 0.3 * sample

    def view(self, now: float) -> dict[str, dict[str, Any]]:
        last_seen, rtt = dict(self.last_seen), dict(self.rtt)
        out = {}
        for p in self.peers:
            seen = last_seen.get(p)
            reachable = seen is not None and now - seen <= self.window
            out[p] = {
                "reachable": reachable,
                "rtt_ms": round(rtt[p] * 1000, 3) if reachable and p in rtt else None,
            }
        return out


class Heartbeat(NodeActor):
    actor_name = "heartbeat"

    def __init__(self, ctx: NodeContext):
        super().__init__(ctx)
        interval = ping_interval(len(ctx.peers) + 1)
        self.interval = interval
        self.table = PeerTable(ctx.peers, window=3 * interval)
        self._seq = 0
        ctx.views["peers"] = self.table.view

    def on_start(self) -> None:
        self.ctx.ticker.subscribe(self.actor_ref, self.interval)

    def on_tick(self, tick: Tick) -> None:
        self._seq += 1
        for peer in self.ctx.peers:
            self.send(peer, self.actor_name, Ping(self._seq, tick.mono))

    def on_message(self, source: str, msg: Any) -> None:
        if isinstance(msg, Pong):  # (pings are answered by the transport itself)
            self.table.answered(source, msg.sent, time.monotonic())
        else:
            super().on_message(source, msg)
