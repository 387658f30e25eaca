"""The locksmith actor: the shell that carries out :class:`LocksmithCore`'s decisions.

It reaches etcd only over the node's own v2 HTTP API with the project's client, as locksmithd
does, so a partition, a lost quorum or a stopped etcd shows here as it would on a machine: reads
and CAS writes time out or fail, and the core backs off. It learns update_engine's state from
``node.update_engine`` (``subscribe(callback)`` on each change, ``status()`` to read it), and
reboots with ``node.request_stop(REBOOT_EXIT_CODE)``: the process exits, the supervisor starts it
again, and the new boot's locksmith releases the lock once healthy.

Blocking HTTP calls run in this actor's own thread; ticks that queued up meanwhile are dropped.
"""

from __future__ import annotations

import time
from typing import Any

from actors.locksmith.core import Action, LocksmithCore, Outcome
from actors.locksmith.etcdlock import EtcdLock
from actors.locksmith.semaphore import AlreadyHeld, BadSemaphore, LockError, NotHeld
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError
from emulator.nodectx import NodeActor, NodeContext
from emulator.ticker import Tick

TICK_S = 0.5
IDLE_PROBE_S = 5.0
PROBE_RETRY_S = 2.0
ETCD_ERRORS = (ClusterError, ClientError, EtcdError, BadSemaphore, OSError)


class UpdateStatusChanged:
    """Told by update_engine's subscription callback (from its own thread)."""

    def __init__(self, op: str, boot_good: bool):
        self.op, self.boot_good = op, boot_good


def read_update_status(status: Any) -> tuple[str, bool]:
    """(current operation, boot marked good) from update_engine's ``UpdateStatus``."""
    op = getattr(status, "current_operation", None) or "UPDATE_STATUS_IDLE"
    return str(getattr(op, "value", op)), bool(getattr(status, "boot_marked_good", False))


class Locksmith(NodeActor):
    actor_name = "locksmith"

    def __init__(
        self,
        ctx: NodeContext,
        core: LocksmithCore,
        lock: EtcdLock | None,
        update_engine: Any,
        reboot: Any,
        group: str | None,
    ):
        super().__init__(ctx)
        self.core = core
        self.lock = lock
        self.update_engine = update_engine
        self.reboot = reboot  # () -> None: exit the node process with the reboot code
        self.group = group
        self._published: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._next_probe = 0.0

    def on_start(self) -> None:
        self.ctx.ticker.subscribe(self.actor_ref, TICK_S)
        if self.update_engine is not None:
            ref = self.actor_ref

            def changed(*_: Any) -> None:
                op, good = read_update_status(self.update_engine.status())
                ref.tell(UpdateStatusChanged(op, good))

            self.update_engine.subscribe(changed)
            changed()
        self.log(
            "locksmith.start",
            strategy=self.core.strategy.value,
            window=self.core.window.describe() if self.core.window else None,
            group=self.group,
            machine_id=self.ctx.machine_id,
        )
        self._step()  # read the semaphore now: the first status should say who holds the lock

    def on_local(self, message: Any) -> None:
        if isinstance(message, UpdateStatusChanged):
            if message.op != self.core.update_op:
                self.log("locksmith.update_status", op=message.op)
            self.core.observe_update(message.op)
            self._next_probe = 0.0  # a decision may be due now
            if message.boot_good:
                self.core.observe_boot_good()
            self._step()
        else:
            super().on_local(message)

    def on_tick(self, tick: Tick) -> None:
        if time.monotonic() - tick.mono > TICK_S:
            return  # a backlog from a slow etcd call: the next tick does the work
        self._step()

    # --- one round: observe etcd, ask the core, act --------------------------------------------
    def _step(self) -> None:
        mono = time.monotonic()
        if self.lock is not None and self.core.wants_etcd_probe() and mono >= self._next_probe:
            # while something is to be decided, every tick; otherwise now and then, to keep the
            # lock_holder column honest (someone may lock or unlock by hand); after a failure,
            # not before PROBE_RETRY_S (a partitioned etcd answers only by timing out)
            ok = self._probe()
            busy = self.core.busy(self.ctx.clock.time())
            self._next_probe = (
                mono + (0.0 if busy else IDLE_PROBE_S) if ok else mono + PROBE_RETRY_S
            )
        action = self.core.next_action(time.monotonic(), self.ctx.clock.time())
        if action is not None:
            self._carry_out(action)
        self._publish()

    def _probe(self) -> bool:
        assert self.lock is not None
        try:
            sem = self.lock.get()
        except ETCD_ERRORS as exc:
            if self.core.etcd_ok:
                self.log.warning("locksmith.etcd_unreachable", error=str(exc))
            self.core.observe_etcd(False, error=str(exc))
            return False
        self.core.observe_etcd(True, holding=sem.holds(self.ctx.machine_id))
        return True

    def _carry_out(self, action: Action) -> None:
        mid = self.ctx.machine_id
        if action is Action.REBOOT:
            self.log(
                "locksmith.reboot", strategy=self.core.strategy.value, holding=self.core.holding
            )
            self.core.done(action, Outcome.DONE, time.monotonic())
            self._publish()
            self.reboot()
            return
        assert self.lock is not None
        try:
            if action is Action.RELEASE_HELD:
                sem = self.lock.unlock(mid)
                self.log("locksmith.unlocked", holders=list(sem.holders or ()), reason="startup")
            else:
                sem = self.lock.lock(mid)
                self.log("locksmith.locked", holders=list(sem.holders or ()))
            outcome = Outcome.DONE
            error = ""
        except (NotHeld, AlreadyHeld) as exc:
            outcome, error = Outcome.NOT_NEEDED, str(exc)
        except LockError as exc:
            outcome, error = Outcome.REFUSED, str(exc)
            if self.core.last_error != error:
                self.log("locksmith.lock_busy", error=error)
        except ETCD_ERRORS as exc:
            outcome, error = Outcome.FAILED, str(exc)
            self.log.warning("locksmith.etcd_error", action=action.value, error=error)
        self.core.done(action, outcome, time.monotonic(), error)

    def _publish(self) -> None:
        values = {
            # None until the semaphore was read (a rebooted holder must not look free meanwhile)
            "lock_holder": self.core.holding if self.core.uses_etcd else False,
            "reboot_strategy": self.core.strategy.value,
        }
        detail = {
            "phase": self.core.phase(self.ctx.clock.time()).value,
            "group": self.group,
            "window": self.core.window.describe() if self.core.window else None,
            "last_error": self.core.last_error or None,
        }
        if (values, detail) != self._published:
            self.ctx.board.publish("top.locksmith", values)
            self.ctx.board.publish("locksmith", detail)
            self._published = (values, detail)
