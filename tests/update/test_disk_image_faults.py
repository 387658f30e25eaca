"""disk.img under the node's disk faults: ``disk-slow`` slows its fsyncs, a failing fsync fails
the write, ``disk-full`` does not act (the GPT and USR partitions are raw block devices)."""

from __future__ import annotations

import errno
import random
from types import SimpleNamespace

import pytest

from actors.update.boot import open_disk
from actors.update.disk import GptDisk
from actors.update.payload import build_payload
from emulator.disk import DiskFaults, RealDisk

MID = "0123456789abcdef0123456789abcdef"
NEW_IMAGE = build_payload("2.0.0", "stable", "next", 65536)


class _Waits:
    """RealDisk's sleep, recorded instead of slept: the slow-disk delay it asked for."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.fixture
def node(tmp_path):
    """A node as open_disk sees it: its data dir (holding a disk.img) and its disk."""
    GptDisk.create(tmp_path / "disk.img", MID, build_payload("1.0.0", "stable", "initial", 65536))
    waits = _Waits()
    disk = RealDisk(tmp_path, rng=random.Random(1), sleep=waits)
    return SimpleNamespace(data_dir=tmp_path, ctx=SimpleNamespace(disk=disk), waits=waits)


def test_without_faults_the_image_is_written_and_nothing_waits(node):
    disk = open_disk(node)
    disk.write_image("USR-B", NEW_IMAGE)
    assert disk.read_image("USR-B") == NEW_IMAGE
    assert node.waits.asked == []


def test_a_slow_disk_slows_each_fsync_of_the_image(node):
    node.ctx.disk.faults = DiskFaults(slow_fsync_s=0.05)
    disk = open_disk(node)
    disk.write_image("USR-B", NEW_IMAGE)
    assert disk.read_image("USR-B") == NEW_IMAGE
    assert len(node.waits.asked) == 1  # one write_at, one fsync
    assert 0.0 < node.waits.asked[0] <= 0.05


def test_a_failing_fsync_fails_the_install_write(node):
    node.ctx.disk.faults = DiskFaults(fail_fsync=True)
    disk = open_disk(node)
    with pytest.raises(OSError) as err:
        disk.write_image("USR-B", NEW_IMAGE)
    assert err.value.errno == errno.EIO
    assert "disk.img" in str(err.value)


def test_a_full_root_filesystem_does_not_stop_a_write_to_a_usr_partition(node):
    node.ctx.disk.faults = DiskFaults(full=True)
    disk = open_disk(node)
    disk.write_image("USR-B", NEW_IMAGE)
    assert disk.read_image("USR-B") == NEW_IMAGE
