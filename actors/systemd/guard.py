"""A unit's command under guard: it takes its whole process group down when the node dies.

``python -S guard.py NODE_PID ARGV…`` — started by the node in a new session with
``PR_SET_PDEATHSIG = SIGTERM``. The kernel sends that signal only to a node's *direct* children,
so a shell's own children (``sh -c 'sleep 60; …'``) would outlive a SIGKILLed node. The guard runs
the command in its own process group; when its parent (the node) is gone it SIGKILLs the group.
A SIGTERM from a live node (systemd stopping the unit) is the command's business, not the guard's:
the node signals the whole group, so the guard ignores it and waits for the command's end, then
exits the same way (code, or the same signal). Standard library only: it starts in milliseconds.
"""

import ctypes
import os
import signal
import sys


def _die_group() -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main() -> None:
    node_pid = int(sys.argv[1])
    argv = sys.argv[2:]

    stopped = []  # a stop that came before the command existed

    def on_term(signum, frame):
        if os.getppid() != node_pid:
            _die_group()
        stopped.append(signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != node_pid:  # the node died before we got here
        _die_group()
    # A unit stopped right after it started: the group's SIGTERM reached only us, before the
    # command was forked, and the command never saw it (the unit hung in stop-sigterm until
    # SIGKILL). So SIGTERM is held across the fork: one that came earlier ends us as it would
    # have ended the command; one held during the fork is passed on to the command.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    if stopped:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        os.kill(os.getpid(), signal.SIGTERM)
    try:
        pid = os.fork()
    except OSError as exc:
        print(f"failed to fork: {exc}", file=sys.stderr)
        os._exit(71)
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # a pending one ends us
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"Failed to execute {argv[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(203)  # systemd's EXIT_EXEC
    if signal.SIGTERM in signal.sigpending():  # sent before the fork: the command missed it
        os.kill(pid, signal.SIGTERM)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    sys.stdout.flush()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
