"""locksmithd's decisions, pure: when to release a held lock, take the lock, reboot.

Theory of operation. The shell feeds observations in (update_engine's current operation, whether
etcd answered, whether this machine is among the semaphore's holders, the results of the lock
operations it carried out) and asks :meth:`LocksmithCore.next_action` what to do now, given the
monotonic time (for retries) and the node's wall time (for the reboot window). The core never does
I/O; at most one action is outstanding at a time.

* After every boot, with a strategy that uses etcd, the machine first releases a lock it still
  holds (locksmithd's "unlock held locks on startup") — but only once the boot is healthy: etcd
  answers and update_engine has marked the boot good (or, with no update_engine on the node, a
  short healthy period has passed). Until
  then a rebooted machine keeps the lock, so a broken boot that falls back still blocks the next
  machine until this one is back on its feet.
* On UPDATE_STATUS_UPDATED_NEED_REBOOT: ``off`` waits forever; ``reboot`` reboots at once;
  ``etcd-lock`` takes the lock (retrying while the semaphore is full or etcd fails), then reboots;
  ``best-effort`` is etcd-lock while etcd answers, else reboot. A configured window gates both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from actors.locksmith.window import RebootWindow
from emulator.config.cloudmodel import RebootStrategy

NEED_REBOOT = "UPDATE_STATUS_UPDATED_NEED_REBOOT"


class Action(str, Enum):
    RELEASE_HELD = "release-held"  # unlock this machine's id if it is a holder
    TAKE_LOCK = "take-lock"
    REBOOT = "reboot"


class Phase(str, Enum):
    STARTING = "starting"  # waiting for a healthy boot to release a held lock
    IDLE = "idle"
    WAITING_WINDOW = "waiting-window"
    WAITING_LOCK = "waiting-lock"
    STRATEGY_OFF = "need-reboot (strategy off)"
    REBOOTING = "rebooting"


class Outcome(str, Enum):
    DONE = "done"  # released / taken
    NOT_NEEDED = "not-needed"  # release: not a holder; lock: already a holder
    REFUSED = "refused"  # lock: the semaphore is full
    FAILED = "failed"  # etcd unreachable or any other error


@dataclass
class LocksmithCore:
    strategy: RebootStrategy
    window: RebootWindow | None
    started: float  # monotonic time of this boot
    healthy_period_s: float = 3.0  # with no update_engine to say the boot is good
    needs_boot_good: bool = False  # an update_engine runs: wait for it to mark the boot good
    lock_retry_s: float = 1.0  # semaphore full: try again this often
    backoff_max_s: float = 8.0  # etcd errors: 1, 2, 4 … up to this

    update_op: str = "UPDATE_STATUS_IDLE"
    etcd_ok: bool = False
    boot_good: bool = False
    holding: bool | None = None  # None: not known yet
    released: bool = False
    rebooting: bool = False
    pending: Action | None = None
    retry_at: float = 0.0
    failures: int = 0
    last_error: str = ""

    # --- observations ----------------------------------------------------------------------
    def observe_update(self, op: str) -> None:
        self.update_op = op

    def observe_etcd(self, ok: bool, holding: bool | None = None, error: str = "") -> None:
        self.etcd_ok = ok
        if ok and self.failures == 0:
            self.last_error = ""
        if holding is not None:
            self.holding = holding
        if error:
            self.last_error = error

    def observe_boot_good(self) -> None:
        self.boot_good = True

    # --- what the strategy implies ---------------------------------------------------------
    @property
    def uses_etcd(self) -> bool:
        return self.strategy in (RebootStrategy.ETCD_LOCK, RebootStrategy.BEST_EFFORT)

    def healthy(self, mono: float) -> bool:
        if self.needs_boot_good:
            return self.etcd_ok and self.boot_good
        return self.etcd_ok and (self.boot_good or mono - self.started >= self.healthy_period_s)

    def _must_release_first(self) -> bool:
        # best-effort with etcd gone reboots without the lock, so nothing to release either
        if not self.uses_etcd or self.released:
            return False
        return self.strategy is RebootStrategy.ETCD_LOCK or self.etcd_ok

    def wants_etcd_probe(self) -> bool:
        """Whether the shell should read the semaphore now (health and holder status)."""
        return self.uses_etcd and not self.rebooting

    def busy(self, wall: float) -> bool:
        """Something is to be decided soon (worth reading etcd every round)."""
        return self.phase(wall) in (Phase.STARTING, Phase.WAITING_LOCK)

    # --- decisions -------------------------------------------------------------------------
    def next_action(self, mono: float, wall: float) -> Action | None:
        if self.rebooting or self.pending is not None or mono < self.retry_at:
            return None
        action = self._decide(wall, mono)
        if action is not None:
            self.pending = action
            if action is Action.REBOOT:
                self.rebooting = True
        return action

    def _decide(self, wall: float, mono: float) -> Action | None:
        if self._must_release_first():
            return Action.RELEASE_HELD if self.healthy(mono) else None
        if self.update_op != NEED_REBOOT or self.strategy is RebootStrategy.OFF:
            return None
        if self.window is not None and not self.window.contains(wall):
            return None
        use_lock = self.strategy is RebootStrategy.ETCD_LOCK or (
            self.strategy is RebootStrategy.BEST_EFFORT and self.etcd_ok
        )
        if use_lock and not self.holding:
            return Action.TAKE_LOCK
        return Action.REBOOT

    def done(self, action: Action, outcome: Outcome, mono: float, error: str = "") -> None:
        """The shell carried out ``action``: record what came of it."""
        if self.pending is action:
            self.pending = None
        if outcome is Outcome.FAILED:
            self.failures += 1
            self.last_error = error
            self.retry_at = mono + min(self.backoff_max_s, 2.0 ** (self.failures - 1))
            if action is not Action.REBOOT:
                self.etcd_ok = False
            return
        self.failures = 0
        if action is Action.RELEASE_HELD:
            self.released = True
            self.holding = False
        elif action is Action.TAKE_LOCK:
            if outcome is Outcome.REFUSED:
                self.last_error = error
                self.retry_at = mono + self.lock_retry_s
            else:
                self.holding = True

    def phase(self, wall: float) -> Phase:
        if self.rebooting:
            return Phase.REBOOTING
        if self._must_release_first():
            return Phase.STARTING
        if self.update_op != NEED_REBOOT:
            return Phase.IDLE
        if self.strategy is RebootStrategy.OFF:
            return Phase.STRATEGY_OFF
        if self.window is not None and not self.window.contains(wall):
            return Phase.WAITING_WINDOW
        return Phase.WAITING_LOCK
