"""Booting from disk.img: a new node's disk, a try spent before boot, broken images fall back."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from actors.update.boot import BootFailed, boot, boot_node
from actors.update.disk import GptDisk
from actors.update.gpt import UsrAttrs as U
from actors.update.payload import build_payload
from emulator.config.cloudmodel import CloudConfig, UpdateOptions
from emulator.disk import RealDisk
from emulator.nodectx import StatusBoard
from emulator.nodelog import NodeLog

MID = "ab" * 16


UNUSED = U(0, 0, False)


def _disk(tmp_path, b_image=None, b_attrs=UNUSED) -> GptDisk:
    d = GptDisk.create(tmp_path / "disk.img", MID, build_payload("1.0.0", "stable", "i", 1024))
    if b_image is not None:
        d.write_image("USR-B", b_image)
    d.set_usr({"USR-B": b_attrs})
    return d


def test_new_disk_boots_usr_a(tmp_path):
    booted = boot(_disk(tmp_path))
    assert (booted.partition, booted.version, booted.successful) == ("USR-A", "1.0.0", True)
    assert booted.previous_version is None and booted.rolled_back_from is None


def test_update_boot_spends_the_try_first(tmp_path):
    d = _disk(tmp_path, build_payload("1.1.0", "stable", "b", 1024), U(2, 1, False))
    booted = boot(d)
    assert (booted.partition, booted.version, booted.previous_version) == (
        "USR-B",
        "1.1.0",
        "1.0.0",
    )
    assert GptDisk(d.path).usr_slots()[1] == ("USR-B", U(2, 0, False))  # on disk already


def test_broken_boot_spends_the_try_and_the_next_boot_falls_back(tmp_path):
    broken = build_payload("1.2.0", "stable", "b", 1024, broken_boot=True)
    d = _disk(tmp_path, broken, U(2, 1, False))
    with pytest.raises(BootFailed) as exc:
        boot(d)
    assert exc.value.reboot and "broken" in str(exc.value)
    booted = boot(d)
    assert (booted.partition, booted.version, booted.rolled_back_from) == (
        "USR-A",
        "1.0.0",
        "1.2.0",
    )


def test_garbage_in_the_chosen_slot_fails_like_a_broken_image(tmp_path):
    d = _disk(tmp_path, b"\x00" * 4096, U(2, 1, False))
    with pytest.raises(BootFailed, match="unreadable"):
        boot(d)
    assert boot(d).partition == "USR-A"


def test_nothing_bootable_uses_usr_a_as_grub_default(tmp_path):
    d = _disk(tmp_path)
    d.set_usr({"USR-A": U(0, 0, False)})
    assert boot(d).partition == "USR-A"


def test_broken_with_nowhere_to_fall_back_does_not_ask_for_a_reboot(tmp_path):
    d = _disk(tmp_path)
    d.write_image("USR-A", build_payload("1.0.0", "stable", "i", 10, broken_boot=True))
    with pytest.raises(BootFailed) as exc:
        boot(d)
    assert not exc.value.reboot


def _node(tmp_path, version="2.0.0"):
    cc = CloudConfig(update=UpdateOptions(group="beta", os_version=version))
    spec = SimpleNamespace(cloud_config=cc)
    log = NodeLog("core-01", tmp_path / "node.log")
    ctx = SimpleNamespace(machine_id=MID, board=StatusBoard(), disk=RealDisk(tmp_path))
    return SimpleNamespace(data_dir=tmp_path, cfg=None, spec=spec, log=log, ctx=ctx)


def test_boot_node_creates_the_disk_from_config_and_publishes(tmp_path):
    node = _node(tmp_path)
    booted = boot_node(node)
    node.log.close()
    assert node.booted == booted and booted.version == "2.0.0" and booted.channel == "beta"
    top = node.ctx.board.snapshot()["top.update"]
    assert top == {
        "partition": "USR-A",
        "version": "2.0.0",
        "update_status": "UPDATE_STATUS_IDLE",
        "disk": str(tmp_path / "disk.img"),
    }
    events = [json.loads(x)["event"] for x in (tmp_path / "node.log").read_text().splitlines()]
    assert "disk.created" in events and "boot.usr" in events


def test_boot_node_returns_none_on_a_broken_image(tmp_path):
    node = _node(tmp_path)
    boot_node(node)
    d = GptDisk(tmp_path / "disk.img")
    d.write_image("USR-B", build_payload("2.1.0", "beta", "x", 10, broken_boot=True))
    d.set_usr({"USR-B": U(2, 1, False)})
    assert boot_node(node) is None and node.booted is None
    assert boot_node(node).partition == "USR-A"
    node.log.close()
