"""One service unit's lifecycle as systemd runs it: a pure state machine, events in, effects out.

Theory of operation. A :class:`ServiceCore` is fed ``start``/``stop`` requests, ``exited(token,
code, signal)`` for the processes it asked to spawn, and ``timer(token)`` for the timers it armed,
each with ``now`` (monotonic seconds, only for the start rate limit). It answers with effects the
shell carries out: :class:`Spawn` a command, :class:`Kill` every process of the unit,
:class:`ArmTimer`, :class:`Log` a systemd journal line. Its ``active``/``sub`` are what
``systemctl show -p ActiveState,SubState`` reports.

The phases follow systemd's service.c: start-pre → start → start-post → running (exited for a
oneshot with RemainAfterExit); a simple service is running as soon as its main process exists. When
the main process ends on its own, or a stop is asked in running, ExecStop= runs, then whatever is
left gets SIGTERM (stop-sigterm) and SIGKILL after TimeoutStopSec (stop-sigkill), then ExecStopPost=.
A failure while starting skips ExecStop=. The end is dead (success) or failed; Restart= may then
arm RestartSec= (auto-restart) — never after a requested stop. Timers and processes carry tokens;
a stale token (an old timer, a process already forgotten) is ignored, so the shell never cancels.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass
from enum import Enum

from actors.systemd.spec import Command, ServiceSpec

_CLEAN_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)


class Phase(Enum):
    DEAD = ("inactive", "dead")
    START_PRE = ("activating", "start-pre")
    START = ("activating", "start")
    START_POST = ("activating", "start-post")
    RUNNING = ("active", "running")
    EXITED = ("active", "exited")
    STOP = ("deactivating", "stop")
    STOP_SIGTERM = ("deactivating", "stop-sigterm")
    STOP_SIGKILL = ("deactivating", "stop-sigkill")
    STOP_POST = ("deactivating", "stop-post")
    FAILED = ("failed", "failed")
    AUTO_RESTART = ("activating", "auto-restart")


# effects
@dataclass(frozen=True)
class Spawn:
    token: int
    command: Command
    role: str  # "ExecStartPre" … as systemd names the control process, "ExecStart" for main


@dataclass(frozen=True)
class Kill:
    signal: int  # to every process of the unit (its process groups: KillMode=control-group)


@dataclass(frozen=True)
class ArmTimer:
    token: int
    delay: float


@dataclass(frozen=True)
class Log:
    message: str  # a line systemd itself writes to the unit's journal


Effect = Spawn | Kill | ArmTimer | Log


class ServiceCore:
    def __init__(self, spec: ServiceSpec):
        self.spec = spec
        self.phase = Phase.DEAD
        self.result = "success"  # systemd's Result=: success, exit-code, signal, timeout, …
        self._tokens = 0
        self._timer: int | None = None
        self._main: int | None = None  # token of the main process while it runs
        self._control: int | None = None  # token of the running ExecStartPre/Post/Stop command
        self._queue: list[tuple[str, Command]] = []  # commands left in this phase
        self._stop_requested = False
        self._start_queued = False  # a start asked while stopping
        self._starts: deque[float] = deque()
        self._fx: list[Effect] = []
        self._main_cmd = self._control_cmd = Command("")
        self._starting = False  # between a start and running: a failure is "Failed to start"
        self._now = 0.0

    # what systemctl shows
    @property
    def active(self) -> str:
        return self.phase.value[0]

    @property
    def sub(self) -> str:
        return self.phase.value[1]

    @property
    def main_token(self) -> int | None:
        return self._main

    @property
    def alive(self) -> bool:
        return self._main is not None or self._control is not None

    # requests
    def start(self, now: float) -> list[Effect]:
        self._now = now
        if self.phase in (Phase.DEAD, Phase.FAILED, Phase.AUTO_RESTART):
            self._begin_start(now)
        elif self.phase in (Phase.STOP, Phase.STOP_SIGTERM, Phase.STOP_SIGKILL, Phase.STOP_POST):
            self._start_queued = True  # systemd queues the start job behind the stop job
        return self._flush()

    def stop(self, now: float) -> list[Effect]:
        self._now = now
        self._start_queued = False
        if self.phase is Phase.AUTO_RESTART:
            self._set(Phase.DEAD)
        elif self.phase in (Phase.START_PRE, Phase.START, Phase.START_POST):
            self._stop_requested = True
            self._log(f"Stopping {self.spec.label}...")
            self._enter_sigterm()
        elif self.phase in (Phase.RUNNING, Phase.EXITED):
            self._stop_requested = True
            self._log(f"Stopping {self.spec.label}...")
            self._enter_stop()
        return self._flush()

    # events
    def exited(self, token: int, code: int | None, sig: int | None, now: float) -> list[Effect]:
        """Process ``token`` ended: exit ``code``, or killed by signal ``sig``."""
        self._now = now
        if token == self._main:
            self._main = None
            self._main_exited(code, sig, now)
        elif token == self._control:
            self._control = None
            self._control_exited(code, sig)
        return self._flush()

    def timer(self, token: int, now: float) -> list[Effect]:
        self._now = now
        if token != self._timer:
            return []
        self._timer = None
        if self.phase in (Phase.START_PRE, Phase.START, Phase.START_POST):
            self._log(f"{self.spec.name}: Start operation timed out. Terminating.")
            self._fail("timeout")
            self._enter_sigterm()
        elif self.phase is Phase.STOP:
            self._log(f"{self.spec.name}: Stopping timed out. Terminating.")
            self._fail("timeout")
            self._enter_sigterm()
        elif self.phase is Phase.STOP_SIGTERM:
            self._log(f"{self.spec.name}: State 'stop-sigterm' timed out. Killing.")
            self._fail("timeout")
            self._set(Phase.STOP_SIGKILL)
            self._fx.append(Kill(signal.SIGKILL))
            self._arm(self.spec.timeout_stop)
        elif self.phase is Phase.STOP_SIGKILL:
            self._main = self._control = None  # unkillable: give up on them, as systemd does
            self._after_kill()
        elif self.phase is Phase.AUTO_RESTART:
            self._begin_start(now)
        return self._flush()

    # phases
    def _begin_start(self, now: float) -> None:
        starts = self._starts
        while starts and now - starts[0] > self.spec.start_limit_interval:
            starts.popleft()
        if len(starts) >= self.spec.start_limit_burst:
            self.result = "start-limit-hit"
            self._log(f"{self.spec.name}: Start request repeated too quickly.")
            self._log(f"Failed to start {self.spec.label}.")
            self._set(Phase.FAILED)
            return
        starts.append(now)
        self._starting = True
        self.result = "success"
        self._stop_requested = False
        self._log(f"Starting {self.spec.label}...")
        self._arm(self.spec.timeout_start)
        self._queue = [("ExecStartPre", c) for c in self.spec.start_pre]
        self._set(Phase.START_PRE)
        self._next_start_pre()

    def _next_start_pre(self) -> None:
        if self._queue:
            role, cmd = self._queue.pop(0)
            self._control = self._spawn(cmd, role)
            return
        if not self.spec.start:
            self._log(f"{self.spec.name}: Service has no ExecStart= setting. Refusing.")
            self._fail("resources")
            self._enter_sigterm()
            return
        if self.spec.type == "oneshot":
            self._queue = [("ExecStart", c) for c in self.spec.start]
            self._set(Phase.START)
            self._next_oneshot_main()
        else:
            self._main = self._spawn(self.spec.start[0], "ExecStart")
            self._enter_start_post()

    def _next_oneshot_main(self) -> None:
        role, cmd = self._queue.pop(0)
        self._main = self._spawn(cmd, role)

    def _enter_start_post(self) -> None:
        self._queue = [("ExecStartPost", c) for c in self.spec.start_post]
        self._set(Phase.START_POST)
        self._next_start_post()

    def _next_start_post(self) -> None:
        if self._queue:
            role, cmd = self._queue.pop(0)
            self._control = self._spawn(cmd, role)
            return
        self._timer = None  # started: the start timeout no longer applies
        self._starting = False
        if self._main is not None or self.spec.remain_after_exit:
            self._set(Phase.RUNNING if self._main is not None else Phase.EXITED)
            self._log(f"Started {self.spec.label}.")
        else:
            if self.result == "success":
                self._log(f"Started {self.spec.label}.")
            self._enter_stop()

    def _enter_stop(self) -> None:
        self._queue = [("ExecStop", c) for c in self.spec.stop]
        self._set(Phase.STOP)
        self._arm(self.spec.timeout_stop)
        self._next_stop()

    def _next_stop(self) -> None:
        if self._queue:
            role, cmd = self._queue.pop(0)
            self._control = self._spawn(cmd, role)
            return
        self._enter_sigterm()

    def _enter_sigterm(self) -> None:
        self._queue = []
        if self._control is not None or self._main is not None:
            self._set(Phase.STOP_SIGTERM)
            self._fx.append(Kill(signal.SIGTERM))
            self._arm(self.spec.timeout_stop)
        else:
            self._fx.append(Kill(signal.SIGTERM))  # leftovers (a main's own children)
            self._after_kill()

    def _after_kill(self) -> None:
        self._queue = [("ExecStopPost", c) for c in self.spec.stop_post]
        self._set(Phase.STOP_POST)
        self._next_stop_post()

    def _next_stop_post(self) -> None:
        if self._queue:
            role, cmd = self._queue.pop(0)
            self._control = self._spawn(cmd, role)
            return
        self._fx.append(Kill(signal.SIGKILL))  # nothing of the unit outlives it
        self._enter_dead()

    def _enter_dead(self) -> None:
        self._timer = None
        ok = self.result == "success"
        if ok:
            if self._stop_requested:
                self._log(f"Stopped {self.spec.label}.")
            else:
                self._log(f"{self.spec.name}: Succeeded.")
            self._set(Phase.DEAD)
        else:
            self._log(f"{self.spec.name}: Failed with result '{self.result}'.")
            if self._starting:
                self._log(f"Failed to start {self.spec.label}.")
            self._set(Phase.FAILED)
        self._starting = False
        if self._start_queued:
            self._start_queued = False
            self._begin_start(self._now)
        elif not self._stop_requested and self._restart_wanted():
            self._log(
                f"{self.spec.name}: Scheduled restart job, restart in {self.spec.restart_sec:g}s."
            )
            self._set(Phase.AUTO_RESTART)
            self._arm(self.spec.restart_sec)

    def _restart_wanted(self) -> bool:
        policy, result = self.spec.restart, self.result
        if policy == "always":
            return result != "start-limit-hit"
        if policy == "on-success":
            return result == "success"
        if policy == "on-failure":
            return result in ("exit-code", "signal", "core-dump", "timeout")
        if policy == "on-abnormal":
            return result in ("signal", "core-dump", "timeout")
        if policy == "on-abort":
            return result in ("signal", "core-dump")
        return False

    # process exits
    def _clean(self, code: int | None, sig: int | None, cmd_ignores: bool) -> str | None:
        """None when the exit counts as success, else systemd's result word for it."""
        if cmd_ignores:
            return None
        if sig is not None:
            return None if sig in _CLEAN_SIGNALS else "signal"
        return None if code in self.spec.success_exit_status else "exit-code"

    def _describe(self, role: str, code: int | None, sig: int | None) -> str:
        who = "Main process" if role == "ExecStart" else "Control process"
        if sig is not None:
            return f"{self.spec.name}: {who} exited, code=killed, status={sig}/{signal.Signals(sig).name}"
        word = "SUCCESS" if code == 0 else "FAILURE"
        return f"{self.spec.name}: {who} exited, code=exited, status={code}/{word}"

    def _main_exited(self, code: int | None, sig: int | None, now: float) -> None:
        oneshot = self.spec.type == "oneshot"
        cmd = self._main_cmd if oneshot else self.spec.start[0]
        bad = self._clean(code, sig, cmd.ignore_failure)
        if bad or (sig is None and code != 0):
            self._log(self._describe("ExecStart", code, sig))
        if bad:
            self._fail(bad)
        if self.phase is Phase.START and oneshot:
            if bad:
                self._enter_sigterm()
            elif self._queue:
                self._next_oneshot_main()
            else:
                self._enter_start_post()
        elif self.phase is Phase.RUNNING:
            self._enter_stop()
        elif self.phase is Phase.STOP_SIGTERM or self.phase is Phase.STOP_SIGKILL:
            if self._control is None:
                self._after_kill()
        # START_POST / STOP: noticed when the control command ends

    def _control_exited(self, code: int | None, sig: int | None) -> None:
        role = {
            Phase.START_PRE: "ExecStartPre",
            Phase.START_POST: "ExecStartPost",
            Phase.STOP: "ExecStop",
            Phase.STOP_POST: "ExecStopPost",
        }.get(self.phase, "")
        cmd = self._control_cmd
        bad = self._clean(code, sig, cmd.ignore_failure)
        if bad or (sig is None and code != 0):
            self._log(self._describe(role or "control", code, sig))
        if self.phase is Phase.START_PRE:
            if bad:
                self._fail(bad)
                self._enter_sigterm()
            else:
                self._next_start_pre()
        elif self.phase is Phase.START_POST:
            if bad:
                self._fail(bad)
                self._enter_sigterm()
            else:
                self._next_start_post()
        elif self.phase is Phase.STOP:
            if bad:
                self._fail(bad)
            self._next_stop()
        elif self.phase in (Phase.STOP_SIGTERM, Phase.STOP_SIGKILL):
            if self._main is None:
                self._after_kill()
        elif self.phase is Phase.STOP_POST:
            self._next_stop_post()

    # plumbing
    def _fail(self, result: str) -> None:
        if self.result == "success":  # the first failure is the one systemd reports
            self.result = result

    def _spawn(self, cmd: Command, role: str) -> int:
        self._tokens += 1
        self._fx.append(Spawn(self._tokens, cmd, role))
        if role != "ExecStart":
            self._control_cmd = cmd
        else:
            self._main_cmd = cmd
        return self._tokens

    def _arm(self, delay: float | None) -> None:
        if delay is None:
            self._timer = None
            return
        self._tokens += 1
        self._timer = self._tokens
        self._fx.append(ArmTimer(self._tokens, delay))

    def _set(self, phase: Phase) -> None:
        self.phase = phase

    def _log(self, message: str) -> None:
        self._fx.append(Log(message))

    def _flush(self) -> list[Effect]:
        fx, self._fx = self._fx, []
        return fx
