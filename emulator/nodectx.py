"""What every actor of a node can reach: its name, peers, transport, log, ticker and status board."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from traceback import format_tb
from typing import Any

import pykka

from emulator.codec import Envelope
from emulator.disk import Disk, RealDisk
from emulator.nodeclock import NodeClock
from emulator.nodelog import ActorLog, NodeLog
from emulator.ticker import Tick


class StatusBoard:
    """Sections of the node's status, each published by the actor that owns it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sections: dict[str, dict[str, Any]] = {}

    def publish(self, section: str, values: dict[str, Any]) -> None:
        with self._lock:
            self._sections[section] = dict(values)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._sections.items()}


@dataclass
class NodeContext:
    name: str
    peers: tuple[str, ...]  # every other node of the cluster
    data_dir: Path
    log: NodeLog
    transport: Any  # emulator.transport.Transport (or the simulator's stand-in)
    ticker: Any
    board: StatusBoard = field(default_factory=StatusBoard)
    # Status providers callable from any thread (the transport answers status requests with
    # them): name -> f(now_monotonic) -> value. Each reads plain data its actor keeps current.
    views: dict[str, Callable[[float], Any]] = field(default_factory=dict)
    seed: int = 0
    machine_id: str = ""  # 32 hex, stable across reboots (emulator.machineid)
    boot_id: str = ""  # 32 hex, new on every boot
    clock: NodeClock = field(default_factory=NodeClock)  # wall clock: read it, not time.time()
    disk: Disk = field(default_factory=RealDisk)  # files go through it: where disk faults act

    def actor_log(self, actor: str) -> ActorLog:
        return self.log.for_actor(actor)


class NodeActor(pykka.ThreadingActor):
    """Base shell: routes network envelopes and ticks to ``on_message``/``on_tick``."""

    use_daemon_thread = True
    actor_name = "actor"

    def __init__(self, ctx: NodeContext):
        super().__init__()
        self.ctx = ctx
        self.log = ctx.actor_log(self.actor_name)

    def send(self, node: str, actor: str, msg: Any) -> None:
        self.ctx.transport.send(node, actor, msg)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Envelope):
            return self.on_message(message.source, message.message)
        if isinstance(message, Tick):
            return self.on_tick(message)
        return self.on_local(message)

    def on_message(self, source: str, msg: Any) -> Any:
        self.log.warning("actor.unexpected_message", source=source, type=type(msg).__name__)

    def on_tick(self, tick: Tick) -> None:
        pass

    def on_local(self, message: Any) -> Any:
        self.log.warning("actor.unexpected_local", type=type(message).__name__)

    def on_failure(self, exception_type, exception_value, traceback) -> None:
        self.log.error(
            "actor.crashed",
            error=f"{exception_type.__name__}: {exception_value}",
            traceback="".join(format_tb(traceback)),
        )
