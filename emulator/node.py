"""A node: one OS process playing one CoreOS machine.

``python -m emulator.node --config FILE --node NAME [--data-dir DIR]`` — started by the supervisor
for every node of a run, or by hand (``run.py node``) to place a node on another host. It binds the
node's peer port, starts its actors and ticks them until SIGTERM (exit 0) or until a part asks for
a reboot (exit :data:`REBOOT_EXIT_CODE`, and the supervisor starts the process again).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from actors.heartbeat import Heartbeat
from actors.raft import messages as _raft_wire  # noqa: F401  (types known before a peer's vote)
from emulator.config import ClusterConfig, ConfigErrors, load_cluster_config
from emulator.disk import RealDisk
from emulator.machineid import machine_id, new_boot_id
from emulator.nodectx import NodeContext
from emulator.nodefaults import install_fault_port
from emulator.nodelog import NodeLog
from emulator.nodeloop import NodeLoop
from emulator.ticker import Ticker
from emulator.transport import Transport

REBOOT_EXIT_CODE = 100

# The CoreOS parts that run beside etcd, started in this order after it (and stopped in the
# reverse order): each entry is "module:function", the function called as ``f(node)`` and
# returning an object with ``stop()`` (or None when the part is off for this node). A part
# reaches etcd over the node's own v2 HTTP API (``node.spec.client_url``), as the real daemons do.
PARTS: tuple[str, ...] = (
    "actors.systemd.part:start_systemd",
    "actors.fleet.part:start_fleet",
    "actors.update.part:start_update_engine",
    "actors.locksmith.part:start_locksmith",
)


class Node:
    def __init__(self, cfg: ClusterConfig, name: str, data_dir: Path, log: NodeLog):
        self.cfg = cfg
        self.spec = cfg.node(name)
        self.data_dir = data_dir
        self.log = log
        self.started = time.monotonic()
        self.ready = False
        self.exit_code = 0
        self._done = threading.Event()
        peers = {n.name: n.peer_endpoint for n in cfg.nodes if n.name != name}
        self.ticker = Ticker(f"ticker-{name}")
        self.loop = NodeLoop(name)  # the transport, etcd member and client port run on it
        self.transport = Transport(
            name=name,
            token=cfg.token,
            bind=f"tcp://{self.spec.address}:{self.spec.peer_port}",
            peers=peers,
            log=log.for_actor("transport"),
            status=self.status,
            on_clock=self.ticker.set_rate,
            seed=cfg.seed * 1000 + self.spec.index,
            loop=self.loop,
        )
        self.ctx = NodeContext(
            name=name,
            peers=tuple(peers),
            data_dir=data_dir,
            log=log,
            transport=self.transport,
            ticker=self.ticker,
            seed=cfg.seed,
            machine_id=machine_id(data_dir),
            boot_id=new_boot_id(),
            clock=log.clock,  # one wall clock for the node's parts and its log (clock faults)
            disk=RealDisk(data_dir, rng=random.Random(f"{cfg.seed}-{name}-disk")),
        )
        install_fault_port(self.ctx, self.transport)  # disk and clock faults reach it here
        self.actors: dict[str, Any] = {}
        self.etcd: Any = None
        self.parts: list[Any] = []  # started PARTS, in start order

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        from emulator.sshkeys import install_ssh_keys

        install_ssh_keys(
            self.data_dir, self.spec.cloud_config.ssh_authorized_keys, self.log.for_actor("node")
        )
        self.loop.start()
        self.transport.start_and_wait()
        for actor_cls in (Heartbeat,):
            ref = actor_cls.start(self.ctx)
            self.actors[actor_cls.actor_name] = ref
            self.transport.register(actor_cls.actor_name, ref)
        from actors.update.boot import boot_node

        if boot_node(self) is None:  # GRUB picked a broken /usr image: reboot, it falls back
            self.request_stop(REBOOT_EXIT_CODE)
            return
        from actors.etcd.service import start_etcd
        from emulator.discovery import resolve_bootstrap

        # with coreos.etcd2.discovery, learn from the discovery service whether this node is a
        # member or a proxy, before etcd starts (None: the config's initial cluster decides)
        bootstrap = resolve_bootstrap(
            self.cfg, self.spec, self.data_dir, self.log.for_actor("discovery"), self._done
        )
        self.etcd = start_etcd(self.ctx, self.cfg, self.spec, self.transport, bootstrap)
        self.ticker.start()
        for entry in PARTS:
            module, func = entry.split(":")
            part = getattr(importlib.import_module(module), func)(self)
            if part is not None:
                self.parts.append(part)
        self.ready = True
        self.log.event("node", "node.ready", address=self.spec.address, pid=os.getpid())

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        out: dict[str, Any] = {
            "name": self.spec.name,
            "pid": os.getpid(),
            "address": self.spec.address,
            "client_url": self.spec.client_url,
            "ready": self.ready,
            "machine_id": self.ctx.machine_id,
            "uptime_s": round(now - self.started, 3),
        }
        for name, view in list(self.ctx.views.items()):
            out[name] = view(now)
        for section, values in self.ctx.board.snapshot().items():
            # "top" and "top.<part>" sections are fields shown as columns of their own
            if section == "top" or section.startswith("top."):
                out.update(values)
            else:
                out[section] = values
        return out

    def request_stop(self, code: int = 0) -> None:
        self.exit_code = code
        self._done.set()

    def wait(self) -> int:
        while not self._done.wait(0.5):  # signal handlers set it; the timeout is a safety net
            member = getattr(self.etcd, "member", None)
            if member is not None and not member.is_alive():
                # etcd exits when it cannot persist its log (a failed WAL write or fsync: its
                # actor.crashed record says which); so does the node, and the supervisor shows it
                self.log.event("node", "node.etcd_failed", level="error", exit_code=1)
                self.request_stop(1)
        return self.exit_code

    def stop(self) -> None:
        for part in reversed(self.parts):
            try:
                part.stop()
            except Exception as exc:  # one part failing to stop must not keep the others running
                self.log.event("node", "part.stop_failed", level="error", error=str(exc))
        if self.ticker.is_alive():  # not started when the boot failed
            self.ticker.stop()
        if self.etcd is not None:
            self.etcd.stop()
        for ref in self.actors.values():
            try:
                ref.stop(timeout=2)
            except Exception:
                pass
        self.transport.stop()
        self.loop.stop()
        self.log.event("node", "node.stopped", exit_code=self.exit_code)


# Young collections every 20,000 allocations instead of 700: a write allocates a few hundred
# short-lived objects, and each collection also walks whatever survived since the last. Measured
# at 64 writers: ~10 % less CPU per write and a p99 about a third lower (fewer long pauses).
GC_THRESHOLDS = (20_000, 20, 50)


def tune_gc() -> None:
    """Once the node is up: what start-up built (modules, actors, the recovered keyspace) goes
    to the permanent generation, so full collections stop walking it again and again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emulator.node", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="cluster config file")
    parser.add_argument("--node", required=True, help="this node's name, e.g. core-01")
    parser.add_argument("--data-dir", help="default: runs/nodes/<name> next to the config")
    parser.add_argument("--seed", type=int, help="override the config's seed")
    args = parser.parse_args(argv)
    try:
        cfg = load_cluster_config(args.config, seed=args.seed)
        cfg.node(args.node)
    except ConfigErrors as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    data_dir = (
        Path(args.data_dir) if args.data_dir else Path(args.config).parent / "nodes" / args.node
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    log = NodeLog(args.node, data_dir / "node.log")
    node = Node(cfg, args.node, data_dir, log)
    signal.signal(signal.SIGTERM, lambda *_: node.request_stop(0))
    signal.signal(signal.SIGINT, lambda *_: node.request_stop(0))
    try:
        node.start()
    except Exception as exc:
        log.event("node", "node.start_failed", level="error", error=str(exc))
        print(f"error: node {args.node} failed to start: {exc}", file=sys.stderr)
        return 1
    tune_gc()
    code = node.wait()
    node.stop()
    log.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
