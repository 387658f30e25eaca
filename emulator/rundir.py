"""Where a run lives on disk: ``runs/<cluster>/<timestamp>/`` and the ``runs/latest`` link."""

from __future__ import annotations

import os
import time
from pathlib import Path

RUNS_ROOT_ENV = "COREEMU_RUNS"  # lets tests keep runs under their tmp dir
CONFIG_NAME = "cluster.yaml"  # the config as resolved, in the run dir
INFO_NAME = "supervisor.json"  # the running supervisor's pid and control address


class RunNotFound(LookupError):
    pass


def runs_root() -> Path:
    return Path(os.environ.get(RUNS_ROOT_ENV, "runs"))


def create_run_dir(cluster: str, root: Path | None = None) -> Path:
    """Make a fresh run dir for ``cluster`` and point ``<root>/latest`` at it."""
    root = root or runs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / cluster
    base.mkdir(parents=True, exist_ok=True)
    run = base / stamp
    n = 1
    while True:
        try:
            run.mkdir()
            break
        except FileExistsError:
            n += 1
            run = base / f"{stamp}-{n}"
    latest = root / "latest"
    tmp = root / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run.resolve())
    os.replace(tmp, latest)
    return run.resolve()


def resolve_run(arg: str | None = None, root: Path | None = None) -> Path:
    """The run dir a command means: an explicit path, a cluster name, or ``runs/latest``."""
    root = root or runs_root()
    if arg:
        path = Path(arg)
        if path.is_dir():
            return path.resolve()
        by_cluster = root / arg
        if by_cluster.is_dir():
            stamps = sorted(p for p in by_cluster.iterdir() if p.is_dir())
            if stamps:
                return stamps[-1].resolve()
        raise RunNotFound(f"no run at {arg!r} (looked for a directory and for {by_cluster})")
    latest = root / "latest"
    if latest.exists():
        return latest.resolve()
    raise RunNotFound(f"no run yet under {root}/ (start one with: python run.py up)")
