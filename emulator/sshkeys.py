"""``ssh_authorized_keys`` from the cloud-config, installed as coreos-cloudinit does at boot.

CoreOS puts them in the ``core`` user's ``~/.ssh/authorized_keys``; a node's home lives under its
data dir (``<data_dir>/home/core``), so the file is where a user would look for it, and nothing
outside the run is touched. Written on every boot, so a changed config takes effect on restart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

USER = "core"


def authorized_keys_path(data_dir: Path) -> Path:
    return data_dir / "home" / USER / ".ssh" / "authorized_keys"


def install_ssh_keys(data_dir: Path, keys: Sequence[str], log: Callable[..., Any]) -> Path | None:
    """Write ``keys`` (one a line) to the node's authorized_keys; None when there are none."""
    if not keys:
        return None
    path = authorized_keys_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)  # sshd refuses keys in a group- or world-writable .ssh
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{k.strip()}\n" for k in keys))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    log("cloudinit.ssh_keys", user=USER, keys=len(keys), file=str(path))
    return path
