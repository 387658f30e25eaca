"""Real child processes for units and containers: guarded, in their own groups, with output taken.

Every command runs as ``python -S guard.py NODE_PID ARGV…`` (see :mod:`.guard`) in a new session,
so its process group id is the guard's pid and ``killpg`` reaches everything it started. The
kernel's parent-death signal belongs to the *thread* that forked, so :func:`spawn` must be called
from a thread that lives as long as the node part does (the manager's loop, the docker daemon's
spawn thread) — never from a short-lived request thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from queue import Queue
from typing import Any

from emulator.pdeathsig import die_with_parent

GUARD = Path(__file__).with_name("guard.py")
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def spawn(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    stdout: int | Any = subprocess.PIPE,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen:
    """Start ``argv`` under guard; raises OSError when it cannot be started at all."""
    return subprocess.Popen(
        [sys.executable, "-S", str(GUARD), str(os.getpid()), *argv],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,  # SIGTERM: the guard then SIGKILLs the unit's whole group
        pass_fds=pass_fds,
        close_fds=True,
    )


def kill_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def pump_lines(stream, on_line: Callable[[str], None]) -> threading.Thread:
    """Read ``stream`` line by line on a daemon thread until EOF."""

    def run() -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                on_line(raw.decode("utf-8", errors="replace").rstrip("\n"))

    thread = threading.Thread(target=run, name="journal-pump", daemon=True)
    thread.start()
    return thread


def wait_then(popen: subprocess.Popen, on_exit: Callable[[int | None, int | None], None]) -> None:
    """Wait for ``popen`` on a daemon thread; call ``on_exit(code, signal)``."""

    def run() -> None:
        rc = popen.wait()
        on_exit(None, -rc) if rc < 0 else on_exit(rc, None)

    threading.Thread(target=run, name=f"wait-{popen.pid}", daemon=True).start()


def child_env(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """What a unit's processes see: systemd's small default set, the node's extras, the unit's."""
    env = {k: base[k] for k in ("PATH", "LANG", "TERM", "TZ") if k in base}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.update(extra)
    return env


class SpawnThread:
    """One long-lived thread that starts processes for callers on short-lived threads."""

    def __init__(self, name: str):
        self._jobs: Queue[tuple[Callable[[], Any], Future] | None] = Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], Any]) -> Any:
        fut: Future = Future()
        self._jobs.put((fn, fut))
        return fut.result()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, fut = job
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

    def close(self) -> None:
        self._jobs.put(None)
