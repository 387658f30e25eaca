"""SystemdManager: the node's emulated systemd, a thread-safe facade over :class:`UnitTable`.

One loop thread owns the table: requests from any thread, process exits (from waiter threads) and
timers all go through its queue, and it carries out the effects — spawning guarded children
(:mod:`.children`), signalling their process groups, writing journals. Callers get answers at once
(``start`` is a job, as ``systemctl --no-block start``); ``status`` reads a snapshot the loop keeps
current, and subscribers hear of every change from the loop thread.

Layout under the node's data dir: ``units/<name>`` (unit files as loaded, drop-ins under
``units/<name>.d/``), ``sandbox/<name>/`` (the working directory of its commands),
``journal/<name>.log``.
"""

from __future__ import annotations

import heapq
import os
import queue
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.systemd import children
from actors.systemd.cmdline import CommandLineError, read_environment_file, split_exec
from actors.systemd.core import ArmTimer, Kill, Log, Phase, Spawn
from actors.systemd.journal import Journal
from actors.systemd.spec import ServiceSpec, service_spec
from actors.systemd.table import Effects, UnitTable
from actors.unitfile import UnitFileError
from emulator.nodeclock import NodeClock

__all__ = ["SystemdManager", "UnitFileError", "UnitStatus"]

DOCKER_PATHS = ("docker", "/usr/bin/docker", "/bin/docker", "/usr/local/bin/docker")


@dataclass(frozen=True)
class UnitStatus:
    load_state: str  # loaded | not-found | error | masked
    active_state: str  # active | inactive | activating | deactivating | failed
    sub_state: str  # running | dead | start-pre | exited | failed | auto-restart | …
    description: str = ""
    result: str = "success"  # systemd's Result=: why it failed (exit-code, timeout, …)
    main_pid: int = 0
    error: str = ""  # why load_state is "error"


_NOT_FOUND = UnitStatus("not-found", "inactive", "dead")
Callback = Callable[[str, UnitStatus], None]


class SystemdManager:
    def __init__(
        self,
        data_dir: Path,
        host: str,
        clock: NodeClock | None = None,
        extra_env: Mapping[str, str] | None = None,
        log: Any = None,
        clock_rate: Callable[[], float] | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.units_dir = self.data_dir / "units"
        self.sandbox_dir = self.data_dir / "sandbox"
        self.units_dir.mkdir(parents=True, exist_ok=True)
        self.journal_store = Journal(self.data_dir / "journal", host, clock or NodeClock())
        self._extra_env = dict(extra_env or {})
        self._log = log
        # the node's clock rate (clock faults): its timers run that much faster, as its ticks do
        self._rate = clock_rate or (lambda: 1.0)
        self._table = UnitTable()
        self._lock = threading.Lock()
        self._snapshot: dict[str, UnitStatus] = {}
        self._errors: dict[str, str] = {}  # units whose file could not be loaded (at boot)
        self._masked: set[str] = set()
        self._subs: list[Callback] = []
        self._inbox: queue.Queue = queue.Queue()
        self._timers: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._procs: dict[tuple[str, int], Any] = {}  # (unit, token) -> Popen
        self._groups: dict[str, set[int]] = {}  # unit -> process groups that may still live
        self._unloading: set[str] = set()
        self._descriptions: dict[str, str] = {}  # external units
        self._closed = False
        self._busy = False  # some unit still has a process (read by close())
        self._thread = threading.Thread(target=self._loop, name="systemd", daemon=True)
        self._thread.start()

    # -- the contract ------------------------------------------------------------------------
    def load(self, name: str, unit_text: str, drop_ins: Mapping[str, str] | None = None) -> None:
        """Load (or replace) a unit. Raises UnitFileError (with its line) and changes nothing."""
        text = unit_text + "".join("\n" + d for d in (drop_ins or {}).values())
        spec = service_spec(name, text)
        self._write_files(name, unit_text, drop_ins or {})
        with self._lock:
            self._errors.pop(name, None)
        self._call_sync(lambda: self._load(spec))  # status() says "loaded" once load returns

    def start(self, name: str) -> None:
        if self._refuse(name):
            return
        self._call(lambda: self._apply(self._table.start(name, time.monotonic())))

    def stop(self, name: str) -> None:
        self._call(lambda: self._apply(self._table.stop(name, time.monotonic())))

    def restart(self, name: str) -> None:
        if self._refuse(name):
            return

        def run() -> None:
            now = time.monotonic()
            self._apply(self._table.stop(name, now) + self._table.start(name, now))

        self._call(run)

    def unload(self, name: str) -> None:
        """Stop the unit, then forget it and remove its file once its processes are gone."""

        def run() -> None:
            self._unloading.add(name)
            self._apply(self._table.stop(name, time.monotonic()))

        self._call(run)

    def status(self, name: str) -> UnitStatus:
        with self._lock:
            if name in self._masked:
                return UnitStatus("masked", "inactive", "dead")
            if name in self._errors:
                return UnitStatus("error", "inactive", "dead", error=self._errors[name])
            return self._snapshot.get(name, _NOT_FOUND)

    def units(self) -> dict[str, UnitStatus]:
        with self._lock:
            out = dict(self._snapshot)
            for name, err in self._errors.items():
                out[name] = UnitStatus("error", "inactive", "dead", error=err)
            for name in self._masked:
                out[name] = UnitStatus("masked", "inactive", "dead")
            return out

    def journal(self, name: str, lines: int | None = None) -> list[str]:
        return self.journal_store.lines(name, lines)

    def journal_path(self, name: str) -> Path:
        return self.journal_store.path(name)

    def subscribe(self, callback: Callback) -> None:
        with self._lock:
            self._subs.append(callback)

    # -- for the node part ---------------------------------------------------------------------
    def set_external(self, name: str, active: bool, description: str = "") -> None:
        """A unit whose state another part owns (etcd2, fleet, docker): active or not."""

        def run() -> None:
            self._table.set_external(name, active)
            self._descriptions[name] = description
            self._apply(self._table.changed_external(time.monotonic()))

        self._call(run)

    def mask(self, name: str) -> None:
        """``systemctl mask``: the unit can no longer be started (load state "masked")."""
        with self._lock:
            self._masked.add(name)
        self._call(lambda: self._apply(self._table.stop(name, time.monotonic())))

    def _refuse(self, name: str) -> bool:
        with self._lock:
            why = "is masked" if name in self._masked else None
            if name in self._errors:
                why = "has a bad unit file"
        if why:
            self.journal_store.system(name, f"Failed to start {name}: Unit {name} {why}.")
        return why is not None

    def record_error(self, name: str, error: str) -> None:
        """A unit whose file could not be loaded at boot: shown with load state "error"."""
        with self._lock:
            self._errors[name] = error
        self.journal_store.system(name, error)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Return once the loop has handled everything asked before this call (for tests)."""
        done = threading.Event()
        self._inbox.put(done.set)
        done.wait(timeout)

    def close(self, timeout: float = 3.0) -> None:
        """Stop every unit, wait up to ``timeout`` for them, then SIGKILL what is left."""
        if self._closed:
            return

        def stop_all() -> None:
            now = time.monotonic()
            for name in list(self._table.cores):
                self._apply(self._table.stop(name, now))

        deadline = time.monotonic() + timeout
        self._call(stop_all)
        self.wait_idle(timeout)
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.05)
        self._closed = True
        self._inbox.put(None)
        self._thread.join(timeout=2)
        for groups in self._groups.values():
            for pgid in groups:
                children.kill_group(pgid, signal.SIGKILL)

    # -- the loop ------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("systemd is shut down")
        self._inbox.put(fn)

    def _call_sync(self, fn: Callable[[], None], timeout: float = 10.0) -> None:
        if threading.current_thread() is self._thread:  # a subscriber calling back: run in place
            fn()
            self._refresh()
            return
        done = threading.Event()

        def run() -> None:
            try:
                fn()
                self._refresh()
            finally:
                done.set()

        self._call(run)
        done.wait(timeout)

    def _loop(self) -> None:
        while True:
            delay = None
            if self._timers:
                delay = max(0.0, self._timers[0][0] - time.monotonic())
            try:
                item = self._inbox.get(timeout=delay)
            except queue.Empty:
                item = self._fire_timers
            if item is None:
                return
            try:
                item()
            except Exception as exc:  # one bad event must not kill the node's systemd
                self._event("systemd.loop_error", level="error", error=repr(exc))
            self._fire_timers()
            self._refresh()

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, name, token = heapq.heappop(self._timers)
            self._apply(self._table.timer(name, token, now))

    def _load(self, spec: ServiceSpec) -> None:
        self._unloading.discard(spec.name)
        self._table.load(spec)

    def _apply(self, fx: Effects) -> None:
        for name, effect in fx:
            if isinstance(effect, Spawn):
                self._spawn(name, effect)
            elif isinstance(effect, Kill):
                alive = set()
                for pgid in self._groups.get(name, set()):
                    if children.kill_group(pgid, effect.signal):
                        alive.add(pgid)
                self._groups[name] = alive if effect.signal != signal.SIGKILL else set()
            elif isinstance(effect, ArmTimer):
                self._seq += 1
                deadline = time.monotonic() + effect.delay / max(self._rate(), 0.01)
                heapq.heappush(self._timers, (deadline, self._seq, name, effect.token))
            elif isinstance(effect, Log):
                self.journal_store.system(name, effect.message)

    def _spawn(self, name: str, fx: Spawn) -> None:
        core = self._table.cores[name]
        env = self._environment(name, core.spec)
        try:
            argv = split_exec(fx.command.text, env)
        except CommandLineError as exc:
            self.journal_store.system(name, f"{name}: {exc}")
            self._inbox.put(lambda: self._exited(name, fx.token, 203, None))
            return
        shown = argv
        if argv[0] in DOCKER_PATHS:  # the node's own container runtime, argv kept for the journal
            argv = [sys.executable, "-m", "actors.docker", *argv[1:]]
        sandbox = self.sandbox_dir / name
        sandbox.mkdir(parents=True, exist_ok=True)
        cwd = Path(core.spec.working_directory or sandbox)
        if not cwd.is_dir():
            cwd = sandbox
        try:
            popen = children.spawn(argv, cwd, env)
        except OSError as exc:
            self.journal_store.system(name, f"{name}: Failed to execute {shown[0]}: {exc}")
            self._inbox.put(lambda: self._exited(name, fx.token, 203, None))
            return
        ident = os.path.basename(shown[0])
        self._event("unit.exec", unit=name, role=fx.role, pid=popen.pid, argv=shown)
        self._procs[(name, fx.token)] = popen
        self._groups.setdefault(name, set()).add(popen.pid)
        children.pump_lines(
            popen.stdout, lambda line: self.journal_store.write(name, ident, popen.pid, line)
        )
        children.wait_then(
            popen,
            lambda code, sig: self._inbox.put(lambda: self._exited(name, fx.token, code, sig)),
        )

    def _exited(self, name: str, token: int, code: int | None, sig: int | None) -> None:
        self._procs.pop((name, token), None)
        self._apply(self._table.exited(name, token, code, sig, time.monotonic()))

    def _environment(self, name: str, spec: ServiceSpec) -> dict[str, str]:
        env = children.child_env(os.environ, self._extra_env)
        for path, optional in spec.environment_files:
            try:
                env.update(read_environment_file(Path(path).read_text(encoding="utf-8")))
            except OSError as exc:
                if not optional:
                    self.journal_store.system(
                        name, f"{name}: Failed to load environment files: {exc}"
                    )
        env.update(spec.environment)
        return env

    def _write_files(self, name: str, text: str, drop_ins: Mapping[str, str]) -> None:
        (self.units_dir / name).write_text(text, encoding="utf-8")
        drop_dir = self.units_dir / f"{name}.d"
        if drop_dir.exists():
            shutil.rmtree(drop_dir)
        if drop_ins:
            drop_dir.mkdir()
            for file_name, content in drop_ins.items():
                (drop_dir / file_name).write_text(content, encoding="utf-8")

    def _refresh(self) -> None:
        """Finish unloads, update the snapshot, tell subscribers what changed."""
        for name in list(self._unloading):
            core = self._table.cores.get(name)
            if core is None or (not core.alive and core.phase in (Phase.DEAD, Phase.FAILED)):
                self._unloading.discard(name)
                self._table.unload(name)
                (self.units_dir / name).unlink(missing_ok=True)
                shutil.rmtree(self.units_dir / f"{name}.d", ignore_errors=True)
        new: dict[str, UnitStatus] = {}
        for name, core in self._table.cores.items():
            main = next(
                (p.pid for (u, t), p in self._procs.items() if u == name and t == core.main_token),
                0,
            )
            new[name] = UnitStatus(
                "loaded", core.active, core.sub, core.spec.description, core.result, main
            )
        for name in self._table.external:
            active, sub = self._table.state(name)
            new[name] = UnitStatus("loaded", active, sub, self._descriptions.get(name, ""))
        self._busy = any(c.alive for c in self._table.cores.values())
        with self._lock:
            old = self._snapshot
            self._snapshot = new
            subs = list(self._subs)
        changed = [(n, s) for n, s in new.items() if old.get(n) != s]
        changed += [(n, _NOT_FOUND) for n in old if n not in new]
        for name, st in changed:
            for cb in subs:
                try:
                    cb(name, st)
                except Exception as exc:  # a subscriber's bug must not stop systemd
                    self._event("systemd.subscriber_error", level="error", error=repr(exc))

    def _event(self, event: str, level: str = "info", **fields: Any) -> None:
        if self._log is not None:  # an ActorLog: log(event, level=…, **fields)
            self._log(event, level=level, **fields)
