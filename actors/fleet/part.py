"""fleet on a node: started when the node's cloud-config starts ``fleet.service``.

``start_fleet(node)`` runs after the node's systemd (``node.systemd``): it starts the agent, the
engine (unless ``coreos.fleet.disable-engine``), the registry watch and the API v1 server, all
reaching etcd over ``coreos.fleet.etcd-servers`` (by default the node's own client URL) as fleetd
does. Settings come from ``coreos.fleet``: public-ip, metadata, agent-ttl,
engine-reconcile-interval. The node's status gains ``machine_id``, ``engine_leader`` and
``units`` (units this agent has loaded).
"""

from __future__ import annotations

import threading
from typing import Any

from actors.fleet.agent import FleetAgent, agent_wants
from actors.fleet.api import FleetApi, api_port
from actors.fleet.client import FleetClient
from actors.fleet.engine import FleetEngine, engine_wants
from actors.fleet.heartbeat import MachineHeartbeat
from actors.fleet.records import MachineState
from actors.fleet.registry import Registry
from actors.fleet.watcher import RegistryWatcher
from emulator.config.cloudmodel import UnitCommand
from emulator.etcdctl_client import V2Client

AGENT_ROUND_S = 5.0  # the agent's own reconcile period, fleet's (the watch wakes it sooner)


class FleetStatus:
    """What ``run.py status`` shows of fleet, kept current by the actors (any thread)."""

    def __init__(self, board: Any, machine_id: str):
        self._lock = threading.Lock()
        self._board = board
        self._values: dict[str, Any] = {
            "machine_id": machine_id,
            "engine_leader": None,
            "units": 0,
        }
        self._publish()

    def set_leader(self, leader: str | None) -> None:
        self._update("engine_leader", leader)

    def set_units(self, count: int) -> None:
        self._update("units", count)

    def _update(self, key: str, value: Any) -> None:
        with self._lock:
            if self._values.get(key) == value:
                return
            self._values[key] = value
        self._publish()

    def _publish(self) -> None:
        with self._lock:
            values = dict(self._values)
        self._board.publish("top.fleet", values)


class FleetPart:
    def __init__(self, node: Any, systemd: Any):
        spec, ctx = node.spec, node.ctx
        opts = spec.cloud_config.fleet
        self.log = ctx.actor_log("fleet")
        endpoints = list(opts.etcd_servers) or [spec.client_url]
        client = V2Client(endpoints)
        self.registry = Registry(client)
        self.status = FleetStatus(ctx.board, ctx.machine_id)
        machine = MachineState(
            id=ctx.machine_id,
            public_ip=opts.public_ip or spec.address,
            metadata=dict(opts.metadata),
        )
        self.heartbeat = MachineHeartbeat.start(ctx, self.registry, machine, opts.agent_ttl)
        self.watcher = RegistryWatcher(V2Client(endpoints), self.log)
        self.engine = None
        if not opts.disable_engine:
            self.engine = FleetEngine.start(
                ctx, self.registry, opts.engine_reconcile_interval, self.status
            )
            self.watcher.listen(self.engine, engine_wants)
        interval = AGENT_ROUND_S
        self.agent = FleetAgent.start(
            ctx,
            self.registry,
            systemd,
            machine,
            opts.agent_ttl,
            interval,
            self.status,
            report_leader=self.engine is None,
        )
        self.watcher.listen(self.agent, agent_wants)
        self.watcher.start()
        self.api = FleetApi(FleetClient(self.registry), systemd, self.log)
        host, port = spec.address, api_port(spec)
        try:
            self.api.serve(host, port)
        except OSError as exc:  # fleet goes on without its API, as fleetd would log and go on
            self.log.error("fleet.api_bind_failed", address=f"{host}:{port}", error=str(exc))
            self.api = None
        self.log(
            "fleet.started",
            machine_id=ctx.machine_id,
            api=f"http://{host}:{port}",
            engine=not opts.disable_engine,
            metadata=dict(opts.metadata),
        )

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        self.watcher.stop()
        for ref in (self.agent, self.engine, self.heartbeat):
            if ref is not None:
                try:
                    ref.stop(timeout=10)
                except Exception as exc:  # one actor failing to stop must not block the other
                    self.log.warning("fleet.stop_failed", error=str(exc))


def start_fleet(node: Any) -> FleetPart | None:
    """Start fleet when the cloud-config starts ``fleet.service``; None otherwise."""
    unit = node.spec.cloud_config.unit("fleet.service")
    if unit is None or unit.command not in (UnitCommand.START, UnitCommand.RESTART):
        return None
    systemd = getattr(node, "systemd", None)
    if systemd is None:
        node.log.event("fleet", "fleet.no_systemd", level="error",
                       error="fleet.service needs the node's systemd; fleet not started")  # fmt: skip
        return None
    return FleetPart(node, systemd)
