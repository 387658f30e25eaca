"""Booting a node from its ``disk.img``: what GRUB and the kernel do before systemd starts etcd.

:func:`boot_node` runs in ``Node.start()`` before etcd. A node without a disk gets a new one
(USR-A holding ``coreos.update.os-version``, priority 1, successful). Then GRUB's gptprio rule
(:mod:`.gptprio`) picks the USR slot, the used-up try is written to disk, and the slot's image is
"booted": its header must read back and it must not carry the broken-boot flag. A broken image
makes the machine fail before anything marks it good: :func:`boot_node` returns None and the node
exits with the reboot code, so the next boot — with that slot's try gone — falls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.update.disk import DISK_NAME, DiskError, GptDisk
from actors.update.gptprio import failed_above, next_slot
from actors.update.payload import PayloadError, build_payload

INITIAL_BUILD_ID = "initial"
INITIAL_PAYLOAD_BYTES = 64 * 1024
CHANNELS = ("alpha", "beta", "stable")


@dataclass(frozen=True)
class BootedImage:
    partition: str  # "USR-A" | "USR-B"
    version: str
    channel: str
    build_id: str
    disk: str  # path of disk.img
    priority: int
    tries: int  # left after this boot's try
    successful: bool  # the slot was already marked good when it booted
    previous_version: str | None = None  # first boot of a new image: the version before it
    rolled_back_from: str | None = None  # a higher slot failed to boot: its version

    @property
    def other(self) -> str:
        return "USR-B" if self.partition == "USR-A" else "USR-A"


def initial_image(cfg: Any, spec: Any) -> bytes:
    up = spec.cloud_config.update
    channel = up.group if up.group in CHANNELS else "stable"
    return build_payload(up.os_version, channel, INITIAL_BUILD_ID, INITIAL_PAYLOAD_BYTES)


def open_disk(node: Any) -> GptDisk:
    path = node.data_dir / DISK_NAME
    if not path.exists():
        GptDisk.create(path, node.ctx.machine_id, initial_image(node.cfg, node.spec))
        node.log.event("boot", "disk.created", disk=str(path))
    return GptDisk(path, disk=node.ctx.disk)


class BootFailed(Exception):
    """The image did not boot; ``reboot``: a next boot would pick something (a try was spent)."""

    def __init__(self, why: str, reboot: bool):
        super().__init__(why)
        self.reboot = reboot


def boot(disk: GptDisk) -> BootedImage:
    """GRUB + kernel on ``disk``: what booted, or :class:`BootFailed`."""
    slots = disk.usr_slots()
    picked = next_slot(slots)
    if picked is None:  # GRUB's default entry when gptprio finds nothing: USR-A, as it is
        name, attrs = "USR-A", dict(slots)["USR-A"]
    else:
        name, attrs = picked
        if attrs != dict(slots)[name]:
            disk.set_usr({name: attrs})  # the try is spent before the kernel runs
    try:
        header = disk.read_header(name)
        why = f"{name}: image {header.version} is broken (broken-boot release)"
        broken = header.broken_boot
    except PayloadError as exc:
        why, broken = f"{name}: unreadable image ({exc})", True
    if broken:
        # reboot only if the next boot can differ (another slot, or a try less): no endless loop
        now = disk.usr_slots()
        after = next_slot(now)
        retry = picked is not None and after is not None and after != (name, dict(now)[name])
        raise BootFailed(why, reboot=retry)
    other = "USR-B" if name == "USR-A" else "USR-A"
    failed = failed_above(slots, name)
    return BootedImage(
        partition=name,
        version=header.version,
        channel=header.channel,
        build_id=header.build_id,
        disk=str(disk.path),
        priority=attrs.priority,
        tries=attrs.tries,
        successful=attrs.successful,
        previous_version=None if attrs.successful else disk.version_of(other),
        rolled_back_from=disk.version_of(failed[0]) if failed else None,
    )


def boot_node(node: Any) -> BootedImage | None:
    """Boot ``node`` from its disk; sets ``node.booted``. None: the boot failed, reboot.

    Raises when nothing can boot at all (the node then fails to start instead of looping).
    """
    node.booted = None
    try:
        booted = boot(open_disk(node))
    except BootFailed as exc:
        node.log.event("boot", "boot.failed", level="error", reason=str(exc), reboot=exc.reboot)
        if exc.reboot:
            return None
        raise  # nothing left to boot: the node fails to start, as a machine stuck in GRUB
    except (DiskError, OSError) as exc:
        node.log.event("boot", "boot.failed", level="error", reason=f"disk: {exc}")
        raise
    node.booted = booted
    node.log.event(
        "boot",
        "boot.usr",
        partition=booted.partition,
        version=booted.version,
        tries=booted.tries,
        successful=booted.successful,
        previous_version=booted.previous_version,
        rolled_back_from=booted.rolled_back_from,
    )
    node.ctx.board.publish(
        "top.update",
        {
            "partition": booted.partition,
            "version": booted.version,
            "update_status": "UPDATE_STATUS_IDLE",
            "disk": booted.disk,
        },
    )
    return booted
