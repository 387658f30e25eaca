from datetime import datetime, timezone

from actors.locksmith.core import NEED_REBOOT, Action, LocksmithCore, Outcome, Phase
from actors.locksmith.window import RebootWindow
from emulator.config.cloudmodel import RebootStrategy as S

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc).timestamp()


def core(strategy=S.ETCD_LOCK, window=None, **kw) -> LocksmithCore:
    return LocksmithCore(strategy, window, started=0.0, healthy_period_s=3.0, **kw)


def booted(c: LocksmithCore, mono: float = 5.0) -> LocksmithCore:
    """Past the startup release."""
    c.observe_etcd(True, holding=False)
    assert c.next_action(mono, NOON) is Action.RELEASE_HELD
    c.done(Action.RELEASE_HELD, Outcome.NOT_NEEDED, mono)
    return c


def test_startup_release_waits_for_a_healthy_boot():
    c = core()
    assert c.next_action(10.0, NOON) is None  # etcd not seen yet
    assert c.phase(NOON) is Phase.STARTING
    c.observe_etcd(True, holding=True)
    assert c.next_action(1.0, NOON) is None  # healthy period not over
    assert c.next_action(3.0, NOON) is Action.RELEASE_HELD
    assert c.next_action(3.1, NOON) is None  # one action at a time
    c.done(Action.RELEASE_HELD, Outcome.DONE, 3.2)
    assert c.holding is False and c.phase(NOON) is Phase.IDLE


def test_boot_marked_good_ends_the_healthy_wait_early():
    c = core()
    c.observe_etcd(True)
    c.observe_boot_good()
    assert c.next_action(0.5, NOON) is Action.RELEASE_HELD


def test_need_reboot_is_ignored_until_the_held_lock_is_released():
    c = core()
    c.observe_update(NEED_REBOOT)
    c.observe_etcd(True, holding=True)
    assert c.next_action(5.0, NOON) is Action.RELEASE_HELD


def test_failed_release_backs_off_and_retries():
    c = core()
    c.observe_etcd(True)
    assert c.next_action(5.0, NOON) is Action.RELEASE_HELD
    c.done(Action.RELEASE_HELD, Outcome.FAILED, 5.0, "dial tcp: connection refused")
    assert c.etcd_ok is False and c.last_error
    c.observe_etcd(True)
    assert c.next_action(5.5, NOON) is None  # backing off 1 s
    assert c.next_action(6.0, NOON) is Action.RELEASE_HELD
    c.done(Action.RELEASE_HELD, Outcome.FAILED, 6.0)
    assert c.retry_at == 8.0  # 2 s
    for _ in range(10):
        c.done(Action.RELEASE_HELD, Outcome.FAILED, 6.0)
    assert c.retry_at == 6.0 + c.backoff_max_s


def test_etcd_lock_takes_the_lock_then_reboots():
    c = booted(core())
    assert c.next_action(6.0, NOON) is None  # idle
    c.observe_update(NEED_REBOOT)
    assert c.phase(NOON) is Phase.WAITING_LOCK
    assert c.next_action(6.0, NOON) is Action.TAKE_LOCK
    c.done(Action.TAKE_LOCK, Outcome.DONE, 6.1)
    assert c.holding
    assert c.next_action(6.1, NOON) is Action.REBOOT
    assert c.phase(NOON) is Phase.REBOOTING
    assert c.next_action(7.0, NOON) is None  # never twice


def test_full_semaphore_retries_at_the_lock_interval():
    c = booted(core(lock_retry_s=1.0))
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.TAKE_LOCK
    c.done(Action.TAKE_LOCK, Outcome.REFUSED, 6.0, "semaphore is at 0")
    assert c.next_action(6.5, NOON) is None
    assert c.next_action(7.0, NOON) is Action.TAKE_LOCK
    assert not c.holding


def test_already_holding_counts_as_taken():
    c = booted(core())
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.TAKE_LOCK
    c.done(Action.TAKE_LOCK, Outcome.NOT_NEEDED, 6.0, "holder exists")
    assert c.next_action(6.0, NOON) is Action.REBOOT


def test_held_by_hand_reboots_without_taking_again():
    c = booted(core())
    c.observe_etcd(True, holding=True)
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.REBOOT


def test_reboot_strategy_needs_no_etcd():
    c = core(S.REBOOT)
    assert c.next_action(0.0, NOON) is None
    assert not c.wants_etcd_probe()
    c.observe_update(NEED_REBOOT)
    assert c.next_action(0.0, NOON) is Action.REBOOT


def test_off_waits_in_need_reboot():
    c = core(S.OFF)
    c.observe_update(NEED_REBOOT)
    assert c.next_action(100.0, NOON) is None
    assert c.phase(NOON) is Phase.STRATEGY_OFF


def test_best_effort_uses_the_lock_while_etcd_answers():
    c = booted(core(S.BEST_EFFORT))
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.TAKE_LOCK


def test_best_effort_reboots_without_the_lock_when_etcd_is_down():
    c = core(S.BEST_EFFORT)
    c.observe_etcd(False)
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.REBOOT


def test_etcd_lock_with_etcd_down_keeps_waiting():
    c = booted(core())
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.TAKE_LOCK
    c.done(Action.TAKE_LOCK, Outcome.FAILED, 6.0, "client: etcd cluster is unavailable")
    for t in (6.5, 100.0, 1000.0):
        action = c.next_action(t, NOON)
        assert action in (None, Action.TAKE_LOCK)
        if action:
            c.done(action, Outcome.FAILED, t)
    assert not c.rebooting


def test_window_gates_the_lock_and_the_reboot():
    window = RebootWindow.parse("14:00", "1h")
    c = booted(core(window=window))
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is None
    assert c.phase(NOON) is Phase.WAITING_WINDOW
    assert c.next_action(6.0, NOON + 2 * 3600 + 60) is Action.TAKE_LOCK


def test_reboot_strategy_honours_the_window_too():
    c = core(S.REBOOT, window=RebootWindow.parse("Fri 04:00", "30m"))
    c.observe_update(NEED_REBOOT)
    assert c.next_action(0.0, NOON) is None  # a Thursday noon
    friday = NOON + 16 * 3600 + 600
    assert c.next_action(0.0, friday) is Action.REBOOT


def test_update_status_going_back_to_idle_cancels_the_wish():
    c = booted(core())
    c.observe_update(NEED_REBOOT)
    assert c.next_action(6.0, NOON) is Action.TAKE_LOCK
    c.done(Action.TAKE_LOCK, Outcome.REFUSED, 6.0, "semaphore is at 0")
    c.observe_update("UPDATE_STATUS_IDLE")
    assert c.next_action(10.0, NOON) is None


def test_with_an_update_engine_the_release_waits_for_the_boot_marked_good():
    c = LocksmithCore(S.ETCD_LOCK, None, started=0.0, healthy_period_s=3.0, needs_boot_good=True)
    c.observe_etcd(True, holding=True)
    assert c.next_action(100.0, NOON) is None  # a new image not yet proven: keep the lock
    c.observe_boot_good()
    assert c.next_action(100.0, NOON) is Action.RELEASE_HELD


def test_update_engine_status_is_read_from_its_fields():
    from actors.locksmith.daemon import read_update_status
    from actors.update.engine import Op, UpdateStatus

    status = UpdateStatus(Op.UPDATED_NEED_REBOOT, 0.0, 1.0, "1.1.0", 10, "1.0.0", "USR-A",
                          boot_marked_good=True)  # fmt: skip
    assert read_update_status(status) == (NEED_REBOOT, True)
