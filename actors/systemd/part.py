"""The node part that boots systemd and docker: ``PARTS`` entry ``actors.systemd.part:start_systemd``.

At boot, as a CoreOS machine does: start the container runtime (``docker.service``), create the
node's systemd (``node.systemd``), show ``etcd2.service`` and ``fleet.service`` as the node's etcd
and fleet parts are running, then apply ``coreos.units`` from the cloud-config in coreos-cloudinit's
order — write (or mask) every unit first, then run each unit's ``command``. ``enable: true`` without
a command starts a unit that has an ``[Install]`` section, as an enabled unit starts at boot.
On stop every unit is stopped, then every container; nothing started here outlives the node.
"""

from __future__ import annotations

import threading
from typing import Any

from actors.docker.daemon import DockerDaemon
from actors.docker.images import ImageSet
from actors.systemd.manager import SystemdManager, UnitStatus
from actors.unitfile import UnitFileError
from emulator.config.cloudmodel import Unit, UnitCommand

# units whose state another part of the node owns
BUILTIN = {
    "docker.service": "Docker Application Container Engine",
    "etcd2.service": "etcd2",
    "fleet.service": "fleet daemon",
}
_START = (UnitCommand.START, UnitCommand.RELOAD, UnitCommand.RELOAD_OR_RESTART)
_RESTART = (UnitCommand.RESTART, UnitCommand.TRY_RESTART, UnitCommand.RELOAD_OR_TRY_RESTART)


class SystemdPart:
    def __init__(self, node: Any):
        self.node = node
        ctx = node.ctx
        self.log = ctx.actor_log("systemd")
        self.docker = DockerDaemon(
            node.data_dir / "docker",
            node.spec.name,
            node.spec.address,
            ImageSet(getattr(node.cfg, "images", None) or {}),
            clock=ctx.clock,
            log=ctx.actor_log("docker"),
        )
        host = node.spec.cloud_config.hostname or node.spec.name
        self.manager = SystemdManager(
            node.data_dir,
            host,
            ctx.clock,
            extra_env=self.docker.client_env(),
            log=self.log,
            clock_rate=lambda: getattr(ctx.ticker, "rate", 1.0),
        )
        self.manager.subscribe(self._publish)
        self._done = threading.Event()
        self._builtin_state: dict[str, bool] = {}
        self._watch_parts()
        self._watcher = threading.Thread(target=self._watch, name="systemd-parts", daemon=True)
        self._watcher.start()

    # which built-in units are up: docker always, etcd and fleet as their parts run
    def _watch_parts(self) -> None:
        running = {
            "docker.service": True,
            "etcd2.service": self.node.etcd is not None,
            "fleet.service": any(
                type(p).__module__.startswith("actors.fleet") for p in self.node.parts
            ),
        }
        for name, up in running.items():
            if self._builtin_state.get(name) != up:
                self._builtin_state[name] = up
                self.manager.set_external(name, up, BUILTIN[name])

    def _watch(self) -> None:
        while not self._done.wait(1.0):
            self._watch_parts()

    def apply_cloud_config(self, units: tuple[Unit, ...]) -> None:
        for unit in units:
            if unit.mask:
                self.manager.mask(unit.name)
            elif unit.name in BUILTIN:
                if unit.content:
                    self.log.warning("unit.builtin_content_ignored", unit=unit.name)
            elif unit.content is not None:
                drop_ins = {d.name: d.content for d in unit.drop_ins}
                try:
                    self.manager.load(unit.name, unit.content, drop_ins)
                except UnitFileError as exc:
                    self.log.error("unit.load_failed", unit=unit.name, error=str(exc))
                    self.manager.record_error(unit.name, str(exc))
        for unit in units:
            if unit.mask or unit.name in BUILTIN:
                if unit.name in BUILTIN and unit.command is UnitCommand.STOP:
                    self.log.warning("unit.builtin_stop_not_emulated", unit=unit.name)
                continue
            command = unit.command
            if command is None and unit.enable and self._installable(unit):
                command = UnitCommand.START
            if command in _START:
                self.manager.start(unit.name)
            elif command in _RESTART:
                self.manager.restart(unit.name)
            elif command is UnitCommand.STOP:
                self.manager.stop(unit.name)

    @staticmethod
    def _installable(unit: Unit) -> bool:
        return unit.content is not None and "[Install]" in unit.content

    def _publish(self, name: str, status: UnitStatus) -> None:
        units = self.manager.units()
        counts: dict[str, int] = {}
        for st in units.values():
            counts[st.active_state] = counts.get(st.active_state, 0) + 1
        self.node.ctx.board.publish("systemd", {"units": len(units), **counts})

    def stop(self) -> None:
        self._done.set()
        # within the supervisor's 5 s between SIGTERM and SIGKILL (and the guards cover a SIGKILL)
        self.manager.close(timeout=2.5)
        self.docker.close(timeout=1.5)


def start_systemd(node: Any) -> SystemdPart:
    part = SystemdPart(node)
    node.systemd = part.manager
    part.apply_cloud_config(node.spec.cloud_config.units)
    return part
