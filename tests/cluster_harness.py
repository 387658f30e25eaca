"""Driving real clusters from tests: run.py as a user runs it, under the test's own tmp dir."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# One lock file per /24 under 127.100-199.x; a test process holds the flock of each subnet it
# handed out until it exits, when the kernel releases it (nothing to clean up after a crash).
SUBNET_LOCKS = Path(tempfile.gettempdir()) / "coreemu-test-subnets"
_claimed: list[int] = []  # the open lock files: closing one would release its subnet


def emulator_pids(marker: str | None = None) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z":
            continue
        args = raw.decode(errors="replace").split("\0")
        if not any(
            a in ("emulator.node", "emulator.supervisor", "actors.updateservice") for a in args
        ):
            continue
        if marker is None or any(marker in a for a in args):
            pids.append(int(entry.name))
    return pids


def unique_subnet() -> str:
    """A /24 of loopback no other test (nor another process on this machine) is using.

    Claimed with an exclusive ``flock`` on a file per subnet, so pytest-xdist workers and other
    sessions never share one; the claim lasts as long as this process.
    """
    SUBNET_LOCKS.mkdir(exist_ok=True)
    slots = 100 * 254
    start = os.getpid() * 97 % slots  # processes start apart and rarely probe the same files
    for i in range(slots):
        slot = (start + i) % slots
        subnet = f"127.{100 + slot // 254}.{1 + slot % 254}"
        fd = os.open(SUBNET_LOCKS / f"{subnet}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _claimed.append(fd)
        return f"{subnet}.0/24"
    raise RuntimeError(f"every test subnet under {SUBNET_LOCKS} is claimed")


class ClusterRun:
    """Drives ``python run.py`` as a user would, with runs kept under the test's tmp dir."""

    def __init__(self, tmp_path: Path, config: Path):
        self.tmp_path = tmp_path
        self.config = config
        self.env = dict(os.environ, COREEMU_RUNS=str(tmp_path / "runs"), NO_COLOR="1")
        self.run_dir: Path | None = None

    def cli(
        self, *args: str, check: bool = True, timeout: float = 90
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "run.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"run.py {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def up(self) -> subprocess.CompletedProcess:
        proc = self.cli("up", "-d", str(self.config))
        self.run_dir = (self.tmp_path / "runs" / "latest").resolve()
        return proc

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    def node(self, name: str) -> dict:
        return next(n for n in self.status()["nodes"] if n["name"] == name)

    def polled_status(self) -> dict:
        """The report ``run.py status --json`` prints, asked of the supervisor from this process.

        For polling: a ``run.py`` start per poll, several a second in every waiting test, was most
        of the suite's CPU. ``status()`` still goes through the command line.
        """
        if self.run_dir is None:
            return self.status()
        from emulator.launcher import cluster_status

        return json.loads(json.dumps(cluster_status(self.run_dir)))

    def wait_for(
        self, predicate, timeout: float = 20.0, interval: float = 0.3, what: str = "condition"
    ):
        """Poll the status until ``predicate(status)`` holds; generous timeout only to stop hangs."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.polled_status()
            if predicate(last):
                return last
            time.sleep(interval)
        raise AssertionError(
            f"timed out waiting for {what}; last status:\n{json.dumps(last, indent=1)}"
        )

    def down(self) -> None:
        if self.run_dir is not None:
            self.cli("down", str(self.run_dir), check=False)


def leader_of(status: dict) -> str | None:
    """The one node that is up and says it leads, else None."""
    leaders = [
        n["name"] for n in status["nodes"] if n.get("role") == "leader" and n["state"] == "up"
    ]
    return leaders[0] if len(leaders) == 1 else None


def agreed_leader(status: dict) -> str | None:
    """The leader once every node is up and names it. A node that has not heard from the new
    leader yet answers a quorum read with etcd's no-leader error, as etcd does."""
    leader = leader_of(status)
    if leader is None or any(
        n["state"] != "up" or n.get("leader") != leader for n in status["nodes"]
    ):
        return None
    return leader


def node(status: dict, name: str) -> dict:
    return next(n for n in status["nodes"] if n["name"] == name)


def log_records(run_dir: Path, name: str) -> list[dict]:
    """A node's ``node.log`` as records."""
    path = run_dir / "nodes" / name / "node.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def history(run_dir: Path) -> list[dict]:
    """The run's ``history.jsonl`` as records."""
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def write_config(tmp_path: Path, nodes: int = 3, extra: str = "", name: str = "test") -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(
        f"cluster: {name}\nseed: 11\nnetwork:\n  subnet: {unique_subnet()}\nnodes: {nodes}\n{extra}",
        encoding="utf-8",
    )
    return path
