"""The units of one node and the jobs between them: After= ordering and Requires= dependencies.

Theory of operation. :class:`UnitTable` owns one :class:`ServiceCore` per loaded unit plus the
*external* units whose state belongs to another part of the node (``etcd2.service``,
``fleet.service``, ``docker.service``). Starting a unit makes a start job for it and for what it
Requires=/Wants= (transitively); a job runs only when no unit it is ordered After= (or that is
ordered Before= it) still has a job pending or is activating — so ``After=docker.service`` waits
for docker. When a job may run and a unit it Requires= is not active, the job fails with systemd's
"Dependency failed for …" and the unit stays as it was. Stopping a unit also stops the loaded units
that Requires= it. Pure: every call returns ``[(unit name, effect), …]`` for the shell.
"""

from __future__ import annotations

from actors.systemd.core import Effect, Log, Phase, ServiceCore
from actors.systemd.spec import ServiceSpec

Effects = list[tuple[str, Effect]]
_STARTING = (Phase.START_PRE, Phase.START, Phase.START_POST, Phase.AUTO_RESTART)


class UnitTable:
    def __init__(self) -> None:
        self.cores: dict[str, ServiceCore] = {}
        self.external: dict[str, bool] = {}  # name -> active
        self._pending: dict[str, None] = {}  # start jobs waiting on ordering, in request order

    # loading
    def load(self, spec: ServiceSpec) -> None:
        """Load or replace a unit's definition; a running unit keeps its processes (as
        ``systemctl daemon-reload``): the new definition applies from its next start."""
        old = self.cores.get(spec.name)
        if old is None:
            self.cores[spec.name] = ServiceCore(spec)
        else:
            old.spec = spec

    def unload(self, name: str) -> None:
        self.cores.pop(name, None)
        self._pending.pop(name, None)

    def set_external(self, name: str, active: bool) -> None:
        self.external[name] = active

    def known(self, name: str) -> bool:
        return name in self.cores or name in self.external

    def state(self, name: str) -> tuple[str, str]:
        core = self.cores.get(name)
        if core is not None:
            return core.active, core.sub
        if name in self.external:
            return ("active", "running") if self.external[name] else ("inactive", "dead")
        return "inactive", "dead"

    def _active(self, name: str) -> bool:
        core = self.cores.get(name)
        if core is not None:
            return core.phase in (Phase.RUNNING, Phase.EXITED)
        return self.external.get(name, False)

    # requests
    def start(self, name: str, now: float) -> Effects:
        if not self.known(name):
            return [(name, Log(f"Failed to start {name}: Unit {name} not found."))]
        fx: Effects = []
        self._want(name, set(), fx)
        fx += self._advance(now)
        return fx

    def _want(self, name: str, seen: set[str], fx: Effects) -> None:
        if name in seen:
            return
        seen.add(name)
        core = self.cores.get(name)
        if core is None:
            return  # external units are started by their own parts
        for dep in (*core.spec.requires, *core.spec.wants):
            if not self.known(dep) and dep in core.spec.requires:
                fx.append((name, Log(f"{name}: Unit {dep} not found.")))
                fx.append((name, Log(f"Dependency failed for {core.spec.label}.")))
                return
            self._want(dep, seen, fx)
        if core.phase not in (
            Phase.RUNNING,
            Phase.EXITED,
            Phase.START_PRE,
            Phase.START,
            Phase.START_POST,
        ):
            self._pending[name] = None

    def stop(self, name: str, now: float) -> Effects:
        fx: Effects = []
        self._stop(name, now, set(), fx)
        fx += self._advance(now)
        return fx

    def _stop(self, name: str, now: float, seen: set[str], fx: Effects) -> None:
        if name in seen:
            return
        seen.add(name)
        self._pending.pop(name, None)
        for other, core in self.cores.items():
            if name in core.spec.requires:
                self._stop(other, now, seen, fx)
        core = self.cores.get(name)
        if core is not None:
            fx.extend((name, e) for e in core.stop(now))

    # events
    def exited(
        self, name: str, token: int, code: int | None, sig: int | None, now: float
    ) -> Effects:
        core = self.cores.get(name)
        fx: Effects = (
            [] if core is None else [(name, e) for e in core.exited(token, code, sig, now)]
        )
        return fx + self._advance(now)

    def timer(self, name: str, token: int, now: float) -> Effects:
        core = self.cores.get(name)
        fx: Effects = [] if core is None else [(name, e) for e in core.timer(token, now)]
        return fx + self._advance(now)

    def changed_external(self, now: float) -> Effects:
        return self._advance(now)

    # jobs
    def _ordered_before(self, name: str) -> set[str]:
        spec = self.cores[name].spec
        return set(spec.after) | {
            n for n, c in self.cores.items() if name in c.spec.before and n != name
        }

    def _blocked(self, name: str) -> bool:
        """A start job waits while a unit ordered before it still has a job or is starting."""
        for dep in self._ordered_before(name):
            if dep in self._pending:
                return True
            core = self.cores.get(dep)
            if core is not None and core.phase in _STARTING:
                return True
        return False

    def _advance(self, now: float) -> Effects:
        fx: Effects = []
        progress = True
        while progress:
            progress = False
            for name in list(self._pending):
                core = self.cores.get(name)
                if core is None:
                    self._pending.pop(name, None)
                    continue
                if self._blocked(name):
                    continue
                self._pending.pop(name, None)
                progress = True
                # Requires= without After= starts both at once: only an ordered one is checked
                before = self._ordered_before(name)
                missing = [d for d in core.spec.requires if d in before and not self._active(d)]
                if missing:
                    fx.append((name, Log(f"Dependency failed for {core.spec.label}.")))
                    continue
                fx.extend((name, e) for e in core.start(now))
        return fx
