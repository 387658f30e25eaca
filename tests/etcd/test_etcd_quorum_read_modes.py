"""How a member serves quorum reads: ReadIndex (the default), through the log as etcd's v2 QGET
(COREEMU_QUORUM_READS=log), or unsafely from its own state (COREEMU_UNSAFE_READS=1).

A member that cannot reach a quorum has no ReadIndex to offer: a safe quorum read fails, an
unsafe one is answered from whatever this member holds. That difference is the bug the flag
exists to plant for checker tests."""

from __future__ import annotations

import json
import queue
import time

import pytest

from actors.etcd import v2api
from actors.etcd.member import ClientRead, EtcdMember, MemberSettings
from actors.etcd.requests import MemberQuery, QueryKind
from emulator.nodectx import NodeContext
from emulator.nodelog import NodeLog
from emulator.ticker import Ticker


class _NoNetwork:
    def send(self, node, actor, msg):  # the other voter is never reached
        pass


@pytest.mark.parametrize("unsafe", [False, True])
def test_a_member_without_quorum_answers_quorum_reads_only_when_unsafe(tmp_path, unsafe):
    ticker = Ticker("ticker-test")
    ticker.start()
    ctx = NodeContext("n1", ("n2",), tmp_path, NodeLog("n1", None), _NoNetwork(), ticker)
    settings = MemberSettings(
        voters=("n1", "n2"), heartbeat_ms=10, election_ms=50, token="t", unsafe_reads=unsafe
    )
    member = EtcdMember.start(ctx, settings, None)
    try:
        answers: queue.Queue = queue.Queue()
        member.tell(ClientRead(v2api.Read("/missing", quorum=True), answers.put))
        answer = answers.get(timeout=10)  # the safe path answers at once: no leader to ask
        body = json.loads(answer.body)
        if unsafe:
            assert (answer.status, body["errorCode"]) == (404, 100)  # served from local state
        else:
            assert answer.status != 404 and body["errorCode"] != 100
    finally:
        member.stop(timeout=5)
        ticker.stop()


@pytest.mark.parametrize("via_log", [False, True])
def test_quorum_reads_go_through_the_log_only_in_log_mode(tmp_path, via_log):
    ticker = Ticker("ticker-test")
    ticker.start()
    ctx = NodeContext("n1", (), tmp_path, NodeLog("n1", None), _NoNetwork(), ticker)
    settings = MemberSettings(
        voters=("n1",), heartbeat_ms=10, election_ms=50, token="t", quorum_reads_via_log=via_log
    )
    member = EtcdMember.start(ctx, settings, None)
    try:
        answers: queue.Queue = queue.Queue()

        def last_index():
            member.tell(MemberQuery(QueryKind.VIEW, answers.put))
            status = answers.get(timeout=5)["status"]
            return status.role.value, status.last_index

        deadline = time.monotonic() + 10
        while last_index()[0] != "leader":  # a one-voter member elects itself within a few ticks
            assert time.monotonic() < deadline, "no leader"
        before = last_index()[1]
        for _ in range(3):
            member.tell(ClientRead(v2api.Read("/missing", quorum=True), answers.put))
            answer = answers.get(timeout=10)
            assert (answer.status, json.loads(answer.body)["errorCode"]) == (404, 100)
        grew = last_index()[1] - before
        assert grew == (3 if via_log else 0)
    finally:
        member.stop(timeout=5)
        ticker.stop()
