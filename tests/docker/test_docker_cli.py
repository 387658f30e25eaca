"""The emulated docker CLI against a real daemon: containers as processes, docker's words and codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from proc_waits import procs_under, wait_until

from actors.docker.daemon import DockerDaemon
from actors.docker.images import ImageSet

ADDR = "127.0.62.10"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((ADDR, 0))
        return s.getsockname()[1]


@pytest.fixture
def daemon(tmp_path):
    d = DockerDaemon(tmp_path / "docker", "core-07", ADDR, ImageSet({"ticker": 'echo "tick $@"'}))
    yield d
    d.close()
    wait_until(lambda: not procs_under(tmp_path), what="no container left")


@pytest.fixture
def docker(daemon):
    env = dict(os.environ, **daemon.client_env())

    def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "actors.docker", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def test_run_attached_prints_output_and_exits_with_the_containers_code(docker):
    p = docker("run", "--rm", "busybox", "sh", "-c", "echo hello from $HOSTNAME; exit 3")
    assert p.returncode == 3
    assert p.stdout.startswith("hello from ")
    assert "Unable to find image 'busybox:latest' locally" in p.stderr
    assert docker("ps", "-a", "-q").stdout == ""  # --rm removed it


def test_pull_known_and_unknown_images(docker):
    p = docker("pull", "coreos/apache")
    assert p.returncode == 0
    assert "Status: Downloaded newer image for coreos/apache:latest" in p.stdout
    assert "Image is up to date" in docker("pull", "coreos/apache").stdout
    p = docker("pull", "no/such")
    assert p.returncode == 1
    assert p.stderr.strip() == (
        "Error response from daemon: pull access denied for no/such, repository does not exist "
        "or may require 'docker login': denied: requested access to the resource is denied"
    )


def test_run_of_an_unknown_image_fails_as_docker_does(docker):
    p = docker("run", "--rm", "nosuchimage")
    assert p.returncode == 125
    assert "Unable to find image 'nosuchimage:latest' locally" in p.stderr
    assert "pull access denied for nosuchimage" in p.stderr


def test_web_container_answers_on_its_published_port_and_stops_cleanly(docker, tmp_path):
    port = free_port()
    p = docker("run", "-d", "--name", "apache1", "-p", f"{ADDR}:{port}:80", "coreos/apache",
               "/usr/sbin/apache2ctl", "-D", "FOREGROUND")  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.strip()) == 64
    page = wait_until(lambda: _get(f"http://{ADDR}:{port}/"), what="the web container")
    assert "core-07" in page and ADDR in page and "apache1" in page
    ps = docker("ps").stdout
    assert "apache1" in ps and f"{ADDR}:{port}->80/tcp" in ps
    assert "GET / HTTP/1.1" in docker("logs", "apache1").stdout
    assert docker("stop", "apache1").stdout == "apache1\n"
    assert "Exited (0)" in docker("ps", "-a").stdout  # apache ends cleanly on SIGTERM
    assert docker("rm", "apache1").returncode == 0
    assert not procs_under(tmp_path / "docker")


def test_port_in_use_is_dockers_error(docker):
    port = free_port()
    with socket.socket() as s:
        s.bind((ADDR, port))
        s.listen()
        p = docker("run", "--rm", "--name", "web", "-p", f"{ADDR}:{port}:80", "nginx")
    assert p.returncode == 125
    assert f"listen tcp4 {ADDR}:{port}: bind: address already in use" in p.stderr
    assert "web" not in docker("ps", "-a").stdout


def test_name_conflict(docker):
    assert docker("run", "-d", "--name", "sleeper", "busybox", "sleep", "60").returncode == 0
    p = docker("run", "--name", "sleeper", "busybox", "true")
    assert p.returncode == 125
    assert 'Conflict. The container name "/sleeper" is already in use' in p.stderr


def test_kill_rm_and_their_errors(docker, tmp_path):
    assert docker("run", "-d", "--name", "sleeper", "busybox", "sleep", "60").returncode == 0
    p = docker("rm", "sleeper")
    assert p.returncode == 1 and "You cannot remove a running container" in p.stderr
    assert docker("kill", "sleeper").stdout == "sleeper\n"
    wait_until(lambda: "Exited (137)" in docker("ps", "-a").stdout)
    p = docker("kill", "sleeper")
    assert p.returncode == 1 and "is not running" in p.stderr
    assert docker("rm", "sleeper").returncode == 0
    p = docker("rm", "sleeper")
    assert (p.returncode, p.stderr.strip()) == (1, "Error: No such container: sleeper")
    p = docker("kill", "sleeper")
    assert p.returncode == 1 and "No such container: sleeper" in p.stderr
    assert not procs_under(tmp_path / "docker")


def test_rm_force_kills_a_running_container(docker, tmp_path):
    docker("run", "-d", "--name", "sleeper", "busybox", "sleep", "60")
    assert docker("rm", "-f", "sleeper").returncode == 0
    assert docker("ps", "-a", "-q").stdout == ""
    wait_until(lambda: not procs_under(tmp_path / "docker"))


def test_stop_escalates_to_sigkill_after_the_grace_time(docker):
    docker("run", "-d", "--name", "stubborn", "busybox", "sh", "-c",
           "trap '' TERM; while :; do sleep 0.1; done")  # fmt: skip
    assert docker("stop", "-t", "1", "stubborn").returncode == 0
    assert "Exited (137)" in docker("ps", "-a").stdout


def test_env_and_config_image(docker):
    p = docker("run", "--rm", "-e", "WHO=world", "busybox", "sh", "-c", "echo hello $WHO")
    assert p.stdout == "hello world\n"
    p = docker("run", "--rm", "ticker", "a", "b")
    assert (p.returncode, p.stdout) == (0, "tick a b\n")


def test_sigterm_to_an_attached_run_reaches_the_container(docker, daemon):
    env = dict(os.environ, **daemon.client_env())
    proc = subprocess.Popen(
        [sys.executable, "-m", "actors.docker", "run", "--rm", "--name", "fg", "busybox",
         "sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline() == "ready\n"
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    assert "got TERM" in out
    assert proc.returncode == 0


def test_usage_errors(docker):
    p = docker("run", "--bogus", "busybox")
    assert p.returncode == 125 and "unknown flag: --bogus" in p.stderr
    p = docker("frobnicate")
    assert p.returncode == 1 and "'frobnicate' is not a docker command" in p.stderr


def test_no_daemon(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    p = subprocess.run([sys.executable, "-m", "actors.docker", "ps"], env=env,
                       capture_output=True, text=True, timeout=30)  # fmt: skip
    assert p.returncode == 1 and "Cannot connect to the Docker daemon" in p.stderr


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None
