"""How run.py talks to a run's supervisor: one request, one reply, with a timeout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import zmq

from emulator.rundir import INFO_NAME
from emulator.wire import WireError, pack, unpack


class SupervisorUnavailable(RuntimeError):
    pass


def supervisor_info(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / INFO_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def request(run_dir: Path, msg: Any, timeout: float = 5.0) -> Any:
    info = supervisor_info(run_dir)
    if info is None or not pid_alive(int(info["pid"])):
        raise SupervisorUnavailable(
            f"the cluster of {run_dir} is not running (start it with: python run.py up)"
        )
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(info["control"])
        sock.send(pack(msg))
        if not sock.poll(int(timeout * 1000)):
            raise SupervisorUnavailable(
                f"the supervisor (pid {info['pid']}) did not answer in {timeout:g} s"
            )
        try:
            return unpack(sock.recv())
        except WireError as exc:
            raise SupervisorUnavailable(f"garbled answer from the supervisor: {exc}") from None
    finally:
        sock.close(linger=0)
