"""The unit lifecycle core: plain events in, effects out, states as systemctl reports them."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from actors.systemd.core import ArmTimer, Kill, Log, ServiceCore, Spawn
from actors.systemd.spec import service_spec


def unit(service: str, unit_section: str = "") -> ServiceCore:
    return ServiceCore(service_spec("t.service", f"[Unit]\n{unit_section}\n[Service]\n{service}\n"))


class Driver:
    """Feeds a core and remembers which token runs which command."""

    def __init__(self, core: ServiceCore):
        self.core = core
        self.now = 0.0
        self.running: dict[int, str] = {}  # token -> command text
        self.timers: dict[int, float] = {}
        self.kills: list[int] = []
        self.logs: list[str] = []

    def feed(self, fx):
        for e in fx:
            if isinstance(e, Spawn):
                self.running[e.token] = e.command.text
            elif isinstance(e, ArmTimer):
                self.timers[e.token] = e.delay
            elif isinstance(e, Kill):
                self.kills.append(e.signal)
            elif isinstance(e, Log):
                self.logs.append(e.message)
        return self

    def start(self):
        return self.feed(self.core.start(self.now))

    def stop(self):
        return self.feed(self.core.stop(self.now))

    def token(self, text: str) -> int:
        return next(t for t, c in self.running.items() if c == text)

    def exit(self, text: str, code: int | None = 0, sig: int | None = None):
        tok = self.token(text)
        del self.running[tok]
        return self.feed(self.core.exited(tok, code, sig, self.now))

    def fire(self):
        """Fire the newest timer."""
        tok = max(self.timers)
        self.now += self.timers.pop(tok)
        return self.feed(self.core.timer(tok, self.now))

    @property
    def state(self) -> tuple[str, str]:
        return self.core.active, self.core.sub


def test_a_new_unit_is_inactive_dead():
    assert Driver(unit("ExecStart=/bin/true")).state == ("inactive", "dead")


def test_simple_service_is_running_as_soon_as_its_main_process_exists():
    d = Driver(unit("ExecStart=/bin/sleep 9")).start()
    assert d.state == ("active", "running")
    assert list(d.running.values()) == ["/bin/sleep 9"]
    assert "Started t.service." in d.logs


def test_start_pre_commands_run_one_after_another_before_main():
    d = Driver(unit("ExecStartPre=/a\nExecStartPre=/b\nExecStart=/main")).start()
    assert d.state == ("activating", "start-pre")
    assert list(d.running.values()) == ["/a"]
    d.exit("/a")
    assert list(d.running.values()) == ["/b"]
    d.exit("/b")
    assert d.state == ("active", "running")
    assert list(d.running.values()) == ["/main"]


def test_failing_start_pre_fails_the_unit_and_main_never_runs():
    d = Driver(unit("ExecStartPre=/a\nExecStart=/main")).start()
    d.exit("/a", 1)
    assert d.state == ("failed", "failed")
    assert d.core.result == "exit-code"
    assert "/main" not in d.running.values()
    assert "Failed to start t.service." in d.logs


def test_dash_prefix_ignores_a_failing_command():
    d = Driver(unit("ExecStartPre=-/a\nExecStart=/main")).start()
    assert list(d.running.values()) == ["/a"]  # the prefix is not part of the command
    d.exit("/a", 3)
    assert d.state == ("active", "running")


def test_dash_prefix_also_ignores_death_by_signal():
    d = Driver(unit("ExecStartPre=-/a\nExecStart=/main")).start()
    d.exit("/a", None, signal.SIGSEGV)
    assert d.state == ("active", "running")


def test_start_post_runs_after_main_and_running_follows():
    d = Driver(unit("ExecStart=/main\nExecStartPost=/post")).start()
    assert d.state == ("activating", "start-post")
    assert set(d.running.values()) == {"/main", "/post"}
    d.exit("/post")
    assert d.state == ("active", "running")


def test_failing_start_post_kills_main_and_fails():
    d = Driver(unit("ExecStart=/main\nExecStartPost=/post")).start()
    d.exit("/post", 2)
    assert d.state == ("deactivating", "stop-sigterm")
    assert d.kills == [signal.SIGTERM]
    d.exit("/main", None, signal.SIGTERM)
    assert d.state == ("failed", "failed")


def test_stop_runs_exec_stop_then_sigterm_then_dead():
    d = Driver(unit("ExecStart=/main\nExecStop=/stopper")).start()
    d.stop()
    assert d.state == ("deactivating", "stop")
    assert "/stopper" in d.running.values()
    assert d.kills == []
    d.exit("/stopper")
    assert d.state == ("deactivating", "stop-sigterm")
    assert d.kills == [signal.SIGTERM]
    d.exit("/main", None, signal.SIGTERM)
    assert d.state == ("inactive", "dead")
    assert d.kills[-1] == signal.SIGKILL  # leftovers of the unit never outlive it
    assert "Stopped t.service." in d.logs


def test_main_ending_during_exec_stop_is_clean():
    d = Driver(unit("ExecStart=/main\nExecStop=/stopper")).start()
    d.stop()
    d.exit("/main", 0)
    d.exit("/stopper")
    assert d.state == ("inactive", "dead")


def test_stop_timeout_escalates_to_sigkill():
    d = Driver(unit("ExecStart=/main\nTimeoutStopSec=5")).start()
    d.stop()
    assert d.state == ("deactivating", "stop-sigterm")
    d.fire()
    assert d.state == ("deactivating", "stop-sigkill")
    assert d.kills[-1] == signal.SIGKILL
    d.exit("/main", None, signal.SIGKILL)
    assert d.state == ("failed", "failed")
    assert d.core.result == "timeout"


def test_main_exit_nonzero_while_running_fails():
    d = Driver(unit("ExecStart=/main")).start()
    d.exit("/main", 1)
    assert d.state == ("failed", "failed")
    assert d.core.result == "exit-code"


def test_main_exit_zero_while_running_is_dead_and_exec_stop_still_runs():
    d = Driver(unit("ExecStart=/main\nExecStop=/stopper")).start()
    d.exit("/main", 0)
    assert d.state == ("deactivating", "stop")
    d.exit("/stopper")
    assert d.state == ("inactive", "dead")


def test_main_killed_by_sigkill_is_a_signal_failure():
    d = Driver(unit("ExecStart=/main")).start()
    d.exit("/main", None, signal.SIGKILL)
    assert d.core.result == "signal"
    assert d.state == ("failed", "failed")


def test_success_exit_status_counts_as_success():
    d = Driver(unit("ExecStart=/main\nSuccessExitStatus=143 7")).start()
    d.exit("/main", 7)
    assert d.state == ("inactive", "dead")


def test_restart_on_failure_arms_restart_sec_then_starts_again():
    d = Driver(unit("ExecStart=/main\nRestart=on-failure\nRestartSec=3")).start()
    d.exit("/main", 1)
    assert d.state == ("activating", "auto-restart")
    assert 3 in d.timers.values()
    d.fire()
    assert d.state == ("active", "running")
    assert list(d.running.values()) == ["/main"]


def test_restart_on_failure_does_not_restart_a_clean_exit():
    d = Driver(unit("ExecStart=/main\nRestart=on-failure")).start()
    d.exit("/main", 0)
    assert d.state == ("inactive", "dead")


@pytest.mark.parametrize(
    "policy,code,sig,restarts",
    [
        ("no", 1, None, False),
        ("always", 0, None, True),
        ("always", 1, None, True),
        ("on-success", 0, None, True),
        ("on-success", 1, None, False),
        ("on-failure", None, signal.SIGKILL, True),
        ("on-abnormal", 1, None, False),
        ("on-abnormal", None, signal.SIGKILL, True),
        ("on-abort", None, signal.SIGABRT, True),
        ("on-abort", 1, None, False),
    ],
)
def test_restart_policies(policy, code, sig, restarts):
    d = Driver(unit(f"ExecStart=/main\nRestart={policy}")).start()
    d.exit("/main", code, sig)
    assert (d.state == ("activating", "auto-restart")) is restarts


def test_no_restart_after_a_requested_stop():
    d = Driver(unit("ExecStart=/main\nRestart=always")).start()
    d.stop()
    d.exit("/main", None, signal.SIGTERM)
    assert d.state == ("inactive", "dead")


def test_stop_during_auto_restart_cancels_it():
    d = Driver(unit("ExecStart=/main\nRestart=always\nRestartSec=5")).start()
    d.exit("/main", 1)
    d.stop()
    assert d.state == ("inactive", "dead")
    d.fire()  # the old timer is stale now
    assert d.state == ("inactive", "dead")
    assert not d.running


def test_start_limit_stops_a_crash_loop():
    d = Driver(unit("ExecStart=/main\nRestart=always\nRestartSec=0.1")).start()
    for _ in range(4):
        d.exit("/main", 1)
        d.fire()
    d.exit("/main", 1)
    d.fire()
    assert d.state == ("failed", "failed")
    assert d.core.result == "start-limit-hit"


def test_start_timeout_kills_and_fails():
    d = Driver(unit("ExecStartPre=/slow\nExecStart=/main\nTimeoutStartSec=2")).start()
    assert 2 in d.timers.values()
    d.fire()
    assert d.state == ("deactivating", "stop-sigterm")
    d.exit("/slow", None, signal.SIGTERM)
    assert d.state == ("failed", "failed")
    assert d.core.result == "timeout"


def test_timeout_start_zero_means_no_limit():
    d = Driver(unit("ExecStartPre=/slow\nExecStart=/main\nTimeoutStartSec=0")).start()
    assert not d.timers


def test_start_timeout_stops_counting_once_running():
    d = Driver(unit("ExecStartPre=/pre\nExecStart=/main\nTimeoutStartSec=2")).start()
    d.exit("/pre")
    tok = max(d.timers)
    d.feed(d.core.timer(tok, 5.0))
    assert d.state == ("active", "running")


def test_oneshot_runs_each_exec_start_in_turn_and_ends_dead():
    d = Driver(unit("Type=oneshot\nExecStart=/one\nExecStart=/two")).start()
    assert d.state == ("activating", "start")
    d.exit("/one")
    assert list(d.running.values()) == ["/two"]
    d.exit("/two")
    assert d.state == ("inactive", "dead")


def test_oneshot_with_remain_after_exit_is_active_exited():
    d = Driver(unit("Type=oneshot\nRemainAfterExit=yes\nExecStart=/one")).start()
    d.exit("/one")
    assert d.state == ("active", "exited")
    d.stop()
    assert d.state == ("inactive", "dead")


def test_oneshot_failure_fails():
    d = Driver(unit("Type=oneshot\nExecStart=/one\nExecStart=/two")).start()
    d.exit("/one", 4)
    assert d.state == ("failed", "failed")
    assert "/two" not in d.running.values()


def test_stop_while_starting_skips_exec_stop():
    d = Driver(unit("ExecStartPre=/pre\nExecStart=/main\nExecStop=/stopper")).start()
    d.stop()
    assert d.state == ("deactivating", "stop-sigterm")
    d.exit("/pre", None, signal.SIGTERM)
    assert d.state == ("inactive", "dead")
    assert "/stopper" not in d.running.values()


def test_start_while_stopping_is_queued_behind_the_stop():
    d = Driver(unit("ExecStart=/main")).start()
    d.stop()
    d.start()
    assert d.state == ("deactivating", "stop-sigterm")
    d.exit("/main", None, signal.SIGTERM)
    assert d.state == ("active", "running")


def test_start_of_a_running_unit_does_nothing():
    d = Driver(unit("ExecStart=/main")).start()
    assert d.core.start(0.0) == []


def test_failed_unit_starts_again_on_request():
    d = Driver(unit("ExecStart=/main")).start()
    d.exit("/main", 1)
    d.start()
    assert d.state == ("active", "running")
    assert d.core.result == "success"


def test_exec_stop_post_runs_after_the_kill():
    d = Driver(unit("ExecStart=/main\nExecStopPost=/cleanup")).start()
    d.stop()
    d.exit("/main", None, signal.SIGTERM)
    assert d.state == ("deactivating", "stop-post")
    d.exit("/cleanup")
    assert d.state == ("inactive", "dead")


def test_failing_exec_stop_makes_the_stop_end_failed():
    d = Driver(unit("ExecStart=/main\nExecStop=/stopper")).start()
    d.stop()
    d.exit("/stopper", 1)
    d.exit("/main", None, signal.SIGTERM)
    assert d.state == ("failed", "failed")


def test_no_exec_start_refuses_to_start():
    d = Driver(unit("ExecStartPre=/pre")).start()
    d.exit("/pre")
    assert d.state == ("failed", "failed")
    assert any("no ExecStart" in line for line in d.logs)


def test_stale_process_exit_is_ignored():
    d = Driver(unit("ExecStart=/main"))
    assert d.core.exited(99, 1, None, 0.0) == []
    assert d.state == ("inactive", "dead")


def test_the_talks_unit_runs_pre_commands_then_docker_run():
    text = (Path(__file__).resolve().parents[2] / "configs/units/apache@.service").read_text()
    d = Driver(ServiceCore(service_spec("apache@1.service", text))).start()
    d.exit("/usr/bin/docker kill apache1", 1)  # "-": no such container is fine
    d.exit("/usr/bin/docker rm apache1", 1)
    d.exit("/usr/bin/docker pull coreos/apache")
    assert d.state == ("active", "running")
    assert not d.timers  # TimeoutStartSec=0
    d.stop()
    assert "/usr/bin/docker stop apache1" in d.running.values()
