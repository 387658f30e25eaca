"""update_engine as a part of a node: ``start_update_engine(node)`` sets ``node.update_engine``.

The handle (:class:`UpdateEngine`) is what other parts and tools use:

* ``status() -> UpdateStatus`` — a snapshot, callable from any thread;
* ``subscribe(callback)`` — ``callback(status)`` on every change, from the actor's thread
  (locksmith reboots on UPDATED_NEED_REBOOT; keep callbacks short: tell, do not wait);
* ``check_for_update()`` / ``reset_status()`` — what ``update_engine_client`` asks for.

It also serves the node's update_engine control endpoint, the emulator's stand-in for the D-Bus
interface ``update_engine_client`` talks to: HTTP on the node's own address, port
:func:`control_port` (the etcd client port + 5: 2384 in subnet mode), loopback only.
``GET /v1/update_engine/status`` answers JSON; ``POST .../check_for_update`` and ``POST
.../reset_status`` act and answer the status.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from actors.update.disk import GptDisk
from actors.update.engine import EngineConfig, EngineCore, UpdateStatus
from actors.update.payload import release_public_key
from actors.update.shell import CheckNow, ResetStatus, UpdateEngineActor

CONTROL_PORT_SHIFT = 5
PUBLIC_SERVERS = ("update.core-os.net", "public.update.flatcar-linux.net")
CONTROL_PATH = "/v1/update_engine/"


def control_port(spec: Any) -> int:
    """The node's update_engine control port: its etcd client port + 5."""
    return int(spec.client_port) + CONTROL_PORT_SHIFT


def server_url(cfg: Any, spec: Any) -> str:
    """``coreos.update.server``, or the run's own update service when unset or CoreOS's public one."""
    configured = spec.cloud_config.update.server
    if configured and not any(host in configured for host in PUBLIC_SERVERS):
        return configured
    from actors.updateservice.address import update_service_url

    return update_service_url(cfg)


def status_dict(status: UpdateStatus) -> dict[str, Any]:
    out = asdict(status)
    out["current_operation"] = status.current_operation.value
    return out


class UpdateEngine:
    """The node's update_engine: a status snapshot, subscriptions, and the actor behind them."""

    def __init__(self, log: Any):
        self._lock = threading.Lock()
        self._status: UpdateStatus | None = None
        self._subscribers: list[Callable[[UpdateStatus], Any]] = []
        self._log = log
        self.ref: Any = None
        self.control: ThreadingHTTPServer | None = None
        self.publish: Callable[[UpdateStatus], None] = lambda s: None

    def status(self) -> UpdateStatus:
        with self._lock:
            assert self._status is not None, "update_engine not started"
            return self._status

    def subscribe(self, callback: Callable[[UpdateStatus], Any]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def _changed(self, status: UpdateStatus) -> None:  # from the actor's thread
        with self._lock:
            self._status = status
            subscribers = list(self._subscribers)
        self.publish(status)
        for cb in subscribers:
            try:
                cb(status)
            except Exception as exc:  # a subscriber's bug must not stop update_engine
                self._log.error("update.subscriber_failed", error=f"{type(exc).__name__}: {exc}")

    def check_for_update(self, timeout: float = 5.0) -> UpdateStatus:
        return self.ref.ask(CheckNow(interactive=True), timeout=timeout)

    def reset_status(self, timeout: float = 5.0) -> UpdateStatus:
        return self.ref.ask(ResetStatus(), timeout=timeout)

    def stop(self) -> None:
        if self.control is not None:
            self.control.shutdown()
            self.control.server_close()
        if self.ref is not None:
            self.ref.stop(timeout=2)


def _control_server(engine: UpdateEngine, address: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == CONTROL_PATH + "status":
                self._answer(200, status_dict(engine.status()))
            else:
                self._answer(404, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            actions = {
                "check_for_update": engine.check_for_update,
                "reset_status": engine.reset_status,
            }
            action = actions.get(self.path.removeprefix(CONTROL_PATH))
            if action is None:
                self._answer(404, {"error": f"no such path {self.path}"})
                return
            try:
                self._answer(200, status_dict(action()))
            except Exception as exc:
                self._answer(503, {"error": f"update_engine did not answer: {exc}"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # how long shutdown() waits: a node stops quickly
        name="update-control",
        daemon=True,
    ).start()
    return server


def start_update_engine(node: Any) -> UpdateEngine | None:
    booted = getattr(node, "booted", None)
    if booted is None:
        return None
    spec, ctx = node.spec, node.ctx
    up = spec.cloud_config.update
    disk = GptDisk(booted.disk, disk=ctx.disk)  # the node's disk faults act on its fsyncs
    slots = dict(disk.usr_slots())
    from actors.update.gptprio import failed_above

    cfg = EngineConfig(
        version=booted.version,
        partition=booted.partition,
        track=up.group,
        machine_id=ctx.machine_id,
        boot_id=ctx.boot_id,
        public_key=release_public_key(node.cfg.token),
        check_interval=up.check_interval,
        healthy_after=up.healthy_after,
        needs_mark_good=not slots[booted.partition].successful
        or bool(failed_above(list(slots.items()), booted.partition)),
        previous_version=booted.previous_version,
        rolled_back_from=booted.rolled_back_from,
    )
    rng = random.Random(f"{node.cfg.seed}-{spec.name}-update-{ctx.boot_id}")
    core = EngineCore(cfg, rng, time.monotonic())
    engine = UpdateEngine(ctx.actor_log("update_engine"))

    def publish(status: UpdateStatus) -> None:
        ctx.board.publish(
            "top.update",
            {
                "partition": booted.partition,
                "version": booted.version,
                "update_status": status.current_operation.value,
                "new_version": status.new_version,
                "progress": round(status.progress, 3),
                "disk": booted.disk,
            },
        )

    engine.publish = publish
    engine._changed(core.status())  # a status before anyone can ask
    url = server_url(node.cfg, spec)
    engine.ref = UpdateEngineActor.start(ctx, core, disk, url, engine._changed)
    try:
        engine.control = _control_server(engine, spec.address, control_port(spec))
    except OSError as exc:  # the node still updates; only update-engine commands cannot reach it
        ctx.actor_log("update_engine").error(
            "update.control_unavailable", port=control_port(spec), error=str(exc)
        )
    node.update_engine = engine
    return engine
