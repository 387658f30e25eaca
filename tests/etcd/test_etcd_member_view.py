"""What the admin routes read from a member (``member_view``), on the shipping MemberCore over a
simulated disk: the leader's uptime follows the monotonic clock, as etcd's ``time.Since`` does,
so a stepped wall clock (a clock-skew fault) does not bend it."""

from __future__ import annotations

import random
from pathlib import Path

from actors.etcd.membercore import MemberCore
from actors.etcd.memberports import member_view
from actors.etcd.requests import MemberSettings
from actors.raft.core import Role
from actors.raft.snapfile import SnapshotStore
from actors.raft.wal import WAL
from emulator.sim.member import SimLog
from emulator.simdisk import SimDisk

ROOT = Path("/sim/member")


class SteppableClock:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = 1_700_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def time_ns(self) -> int:
        return int(self.wall * 1e9)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def lone_leader(clock: SteppableClock) -> MemberCore:
    disk = SimDisk(random.Random(1))
    log = SimLog("n1", None)
    wal, recovered = WAL.open(ROOT / "wal", node="n1", token="t", log=log, disk=disk)
    member = MemberCore(
        "n1",
        MemberSettings(voters=("n1",)),
        wal=wal,
        recovered=recovered,
        snaps=SnapshotStore(ROOT / "snap", log=log, disk=disk),
        rng=random.Random(1),
        send=lambda msg: None,
        clock=clock,
        log=log,
    )
    for _ in range(100):
        if member.core.role is Role.LEADER:
            return member
        clock.advance(0.1)
        member.tick()
        member.ready()
    raise AssertionError("a lone voter never became leader")


def test_leader_uptime_follows_the_monotonic_clock_not_a_stepped_wall_clock():
    clock = SteppableClock()
    member = lone_leader(clock)
    clock.advance(2.0)
    clock.wall += 35.0  # clock-skew +35s: the wall clock steps, time does not pass
    view = member_view(member)
    assert abs(view["leader_uptime"] - 2.0) < 0.2
    clock.wall -= 70.0  # and back past where it was
    assert abs(member_view(member)["leader_uptime"] - 2.0) < 0.2
