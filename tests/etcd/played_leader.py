"""The shipping MemberCore elected leader of n1 and n2, with n2 played by the test: over a
simulated disk and a clock that moves only when told (tests of the member core's Ready cycle)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.etcd.membercore import MemberCore
from actors.etcd.requests import MemberSettings
from actors.raft.core import Role
from actors.raft.messages import VoteRequest, VoteResponse
from actors.raft.snapfile import SnapshotStore
from actors.raft.wal import WAL
from emulator.sim.member import SimLog
from emulator.simdisk import SimDisk

ROOT = Path("/sim/member")


class Clock:
    def __init__(self) -> None:
        self.mono = 100.0

    def monotonic(self) -> float:
        return self.mono

    def time_ns(self) -> int:
        return int((1_700_000_000 + self.mono) * 1e9)


@dataclass
class PlayedLeader:
    member: MemberCore
    sent: list  # what n1 sent, until the test drains it
    wal: WAL
    disk: SimDisk
    clock: Clock


def drain(sent: list) -> list:
    out = sent[:]
    sent.clear()
    return out


def elect_n1(clock: Clock | None = None, **member_kwargs: Any) -> PlayedLeader:
    """n1 (a MemberCore given ``member_kwargs``) campaigns until it leads, n2 granting its votes;
    what it sent as the new leader (its no-op's append) is left in ``sent``."""
    clock = clock or Clock()
    disk = SimDisk(random.Random(1))
    log = SimLog("n1", None)
    wal, recovered = WAL.open(ROOT / "wal", node="n1", token="t", log=log, disk=disk)
    sent: list = []
    member = MemberCore(
        "n1",
        MemberSettings(voters=("n1", "n2")),
        wal=wal,
        recovered=recovered,
        snaps=SnapshotStore(ROOT / "snap", log=log, disk=disk),
        rng=random.Random(1),
        send=sent.append,
        clock=clock,
        log=log,
        **member_kwargs,
    )
    for _ in range(200):
        if member.core.role is Role.LEADER:
            return PlayedLeader(member, sent, wal, disk, clock)
        clock.mono += 0.1
        member.tick()
        member.ready()
        for msg in drain(sent):
            if type(msg) is VoteRequest:
                member.step(VoteResponse(msg.term, "n2", "n1", True, msg.pre))
        member.ready()
    raise AssertionError("n1 never became leader")
