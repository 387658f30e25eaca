"""SystemdManager with real child processes in a tmp dir: what `systemctl` users would see."""

from __future__ import annotations

import pytest
from proc_waits import procs_under, wait_until
from unit_journal import unit_output

from actors.systemd import SystemdManager, UnitFileError, UnitStatus


@pytest.fixture
def systemd(tmp_path):
    m = SystemdManager(tmp_path / "node", "core-01")
    yield m
    m.close()
    wait_until(lambda: not procs_under(tmp_path), what="no unit process left")


def state(m: SystemdManager, name: str) -> tuple[str, str]:
    st = m.status(name)
    return st.active_state, st.sub_state


def wait_state(m: SystemdManager, name: str, want: tuple[str, str], timeout: float = 60.0):
    wait_until(lambda: state(m, name) == want, timeout, f"{name} to be {want}, is {state(m, name)}")


LOOP = "/bin/sh -c 'echo started; while true; do sleep 0.1; done'"


def test_start_stop_and_nothing_left(systemd, tmp_path):
    systemd.load("loop.service", f"[Unit]\nDescription=Loop\n[Service]\nExecStart={LOOP}\n")
    assert systemd.status("loop.service") == UnitStatus("loaded", "inactive", "dead", "Loop")
    systemd.start("loop.service")
    wait_state(systemd, "loop.service", ("active", "running"))
    wait_until(lambda: any("started" in line for line in systemd.journal("loop.service")))
    assert systemd.status("loop.service").main_pid > 0
    assert procs_under(tmp_path)  # the shell and its sleeps, in the sandbox
    systemd.stop("loop.service")
    wait_state(systemd, "loop.service", ("inactive", "dead"))
    wait_until(lambda: not procs_under(tmp_path), what="the unit's processes to be gone")
    assert systemd.journal("loop.service", lines=1)[0].endswith("systemd[1]: Stopped Loop.")


def test_unit_file_is_written_and_sandbox_is_the_cwd(systemd, tmp_path):
    text = "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'pwd > where'\n"
    systemd.load("pwd.service", text)
    assert (tmp_path / "node/units/pwd.service").read_text() == text
    systemd.start("pwd.service")
    wait_state(systemd, "pwd.service", ("active", "exited"))
    sandbox = tmp_path / "node/sandbox/pwd.service"
    assert (sandbox / "where").read_text().strip() == str(sandbox)


def test_failing_main_fails_the_unit_and_journal_says_why(systemd):
    systemd.load("bad.service", "[Service]\nExecStart=/bin/sh -c 'echo oops >&2; exit 3'\n")
    systemd.start("bad.service")
    wait_state(systemd, "bad.service", ("failed", "failed"))
    assert systemd.status("bad.service").result == "exit-code"
    assert wait_until(lambda: unit_output(systemd, "bad.service"), what="its output") == ["oops"]
    journal = "\n".join(systemd.journal("bad.service"))
    assert "sh[" in journal
    assert "status=3/FAILURE" in journal


def test_dash_prefix_lets_the_start_go_on(systemd):
    systemd.load(
        "dash.service",
        "[Service]\nExecStartPre=-/bin/false\nExecStartPre=/bin/true\nExecStart=" + LOOP + "\n",
    )
    systemd.start("dash.service")
    wait_state(systemd, "dash.service", ("active", "running"))


def test_missing_program_fails_with_systemds_exec_status(systemd):
    systemd.load("nope.service", "[Service]\nExecStart=/no/such/program\n")
    systemd.start("nope.service")
    wait_state(systemd, "nope.service", ("failed", "failed"))
    assert any("status=203" in line for line in systemd.journal("nope.service"))


def test_restart_on_failure_runs_it_again(systemd, tmp_path):
    counter = tmp_path / "count"
    systemd.load(
        "flaky.service",
        "[Service]\nRestart=on-failure\nRestartSec=50ms\n"
        f"ExecStart=/bin/sh -c 'echo x >> {counter}; "
        f"[ $(wc -l < {counter}) -ge 3 ] && exec sleep 60; exit 1'\n",
    )
    systemd.start("flaky.service")
    wait_until(lambda: counter.exists() and len(counter.read_text().split()) >= 3)
    wait_state(systemd, "flaky.service", ("active", "running"))


def test_timeout_start_sec_kills_a_slow_start(systemd):
    systemd.load(
        "slow.service",
        "[Service]\nTimeoutStartSec=300ms\nExecStartPre=/bin/sleep 30\nExecStart=" + LOOP + "\n",
    )
    systemd.start("slow.service")
    wait_state(systemd, "slow.service", ("failed", "failed"))
    assert systemd.status("slow.service").result == "timeout"


def test_environment_and_environment_file(systemd, tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("FROM_FILE=filed\n")
    systemd.load(
        "env.service",
        f'[Service]\nType=oneshot\nEnvironment="GREETING=hello world"\nEnvironmentFile={envfile}\n'
        "ExecStart=/bin/echo ${GREETING} $FROM_FILE\n",
    )
    systemd.start("env.service")
    wait_until(
        lambda: any(line.endswith(": hello world filed") for line in systemd.journal("env.service"))
    )


def test_restart_gives_a_new_main_process(systemd):
    systemd.load("loop.service", f"[Service]\nExecStart={LOOP}\n")
    systemd.start("loop.service")
    wait_state(systemd, "loop.service", ("active", "running"))
    first = wait_until(lambda: systemd.status("loop.service").main_pid)
    systemd.restart("loop.service")
    wait_until(lambda: systemd.status("loop.service").main_pid not in (0, first))
    assert state(systemd, "loop.service") == ("active", "running")


def test_unload_stops_and_forgets(systemd, tmp_path):
    systemd.load("loop.service", f"[Service]\nExecStart={LOOP}\n")
    systemd.start("loop.service")
    wait_state(systemd, "loop.service", ("active", "running"))
    systemd.unload("loop.service")
    wait_until(lambda: systemd.status("loop.service").load_state == "not-found")
    assert "loop.service" not in systemd.units()
    assert not (tmp_path / "node/units/loop.service").exists()
    wait_until(lambda: not procs_under(tmp_path))


def test_bad_unit_file_raises_with_line_and_changes_nothing(systemd, tmp_path):
    with pytest.raises(UnitFileError) as err:
        systemd.load("bad.service", "[Service]\nExecStart=/bin/true\nRestart=sometimes\n")
    assert err.value.line == 3
    assert systemd.status("bad.service").load_state == "not-found"
    assert not (tmp_path / "node/units/bad.service").exists()


def test_subscribers_hear_each_state(systemd):
    seen: list[tuple[str, str, str]] = []
    systemd.subscribe(lambda name, st: seen.append((name, st.active_state, st.sub_state)))
    systemd.load("one.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
    systemd.start("one.service")
    wait_until(lambda: ("one.service", "inactive", "dead") in seen[1:])
    assert ("one.service", "activating", "start") in seen


def test_after_and_requires_order_units(systemd, tmp_path):
    log = tmp_path / "order"
    systemd.load(
        "db.service",
        f"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep 0.3; echo db >> {log}'\n",
    )
    systemd.load(
        "web.service",
        "[Unit]\nAfter=db.service\nRequires=db.service\n"
        f"[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo web >> {log}'\n",
    )
    systemd.start("web.service")
    wait_until(lambda: log.exists() and "web" in log.read_text())
    assert log.read_text().split() == ["db", "web"]


def test_close_kills_even_a_process_that_ignores_sigterm(tmp_path):
    m = SystemdManager(tmp_path / "node", "core-01")
    m.load(
        "stubborn.service",
        "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'\n",
    )
    m.start("stubborn.service")
    wait_state(m, "stubborn.service", ("active", "running"))
    m.close(timeout=0.5)
    wait_until(lambda: not procs_under(tmp_path), what="the stubborn unit to be killed")


def test_docker_lines_run_the_emulated_cli_and_keep_the_real_argv(systemd):
    systemd.load("d.service", "[Service]\nType=oneshot\nExecStart=/usr/bin/docker ps\n")
    systemd.start("d.service")
    wait_state(systemd, "d.service", ("failed", "failed"))  # no daemon in this test: docker's error
    said = wait_until(lambda: unit_output(systemd, "d.service"), what="docker's output")
    assert "Cannot connect to the Docker daemon" in "\n".join(said)
    assert "docker[" in "\n".join(systemd.journal("d.service"))


NODE_SCRIPT = """
import sys, time
from pathlib import Path
from actors.docker.daemon import DockerDaemon
from actors.systemd import SystemdManager
root = Path(sys.argv[1])
docker = DockerDaemon(root / "docker", "core-01", "127.0.62.20")
m = SystemdManager(root, "core-01", extra_env=docker.client_env())
m.load("shell.service", "[Service]\\nExecStart=/bin/sh -c 'sleep 300 & sleep 300 & wait'\\n")
m.load("box.service", "[Service]\\nExecStart=/usr/bin/docker run --rm busybox sh -c 'sleep 300 & wait'\\n")
m.start("shell.service")
m.start("box.service")
while not all(m.status(u).active_state == "active" for u in ("shell.service", "box.service")):
    time.sleep(0.02)
print("ready", flush=True)
time.sleep(600)
"""


def test_everything_dies_with_a_sigkilled_node(tmp_path):
    """Unit processes, their children and containers go even when the node gets no say."""
    import signal
    import subprocess
    import sys

    node = subprocess.Popen(
        [sys.executable, "-c", NODE_SCRIPT, str(tmp_path / "node")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert node.stdout.readline() == "ready\n"
        # shell + 2 sleeps + their guard; docker CLI + guard; container sh + sleep + guard
        wait_until(lambda: len(procs_under(tmp_path)) >= 8, what="the unit and container processes")
    finally:
        node.send_signal(signal.SIGKILL)
        node.wait()
    wait_until(lambda: not procs_under(tmp_path), timeout=10, what="every child of the node to die")
