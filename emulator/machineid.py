"""A node's identity as systemd gives it: a stable machine id and a fresh boot id per boot."""

from __future__ import annotations

import secrets
from pathlib import Path

MACHINE_ID_PATH = Path("etc") / "machine-id"  # the node's /etc/machine-id, under its data dir


def machine_id(data_dir: Path) -> str:
    """The node's 32-hex machine id, created on first boot and kept across reboots."""
    path = data_dir / MACHINE_ID_PATH
    try:
        value = path.read_text().strip()
        if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value + "\n")
    tmp.replace(path)
    return value


def new_boot_id() -> str:
    """A fresh 32-hex id for this boot (``/proc/sys/kernel/random/boot_id`` without dashes)."""
    return secrets.token_hex(16)
