from __future__ import annotations

import random

from actors.raft.core import RaftConfig, RaftCore, ReadState
from actors.raft.messages import (
    AppendEntries,
    Heartbeat,
    ReadIndexRequest,
    ReadIndexResponse,
)
from actors.raft.readindex import ReadIndexQueue


def test_leader_answers_after_a_heartbeat_quorum(make_cluster):
    c = make_cluster()
    c.elect("a")
    c["a"].propose(b"x")
    c.pump()
    a = c["a"]
    assert a.read_index(b"r1")
    rd = a.ready()
    assert rd.read_states == ()
    beats = [m for m in rd.messages if isinstance(m, Heartbeat)]
    assert {m.to for m in beats} == {"b", "c"} and {m.ctx for m in beats} == {b"r1"}
    a.advance(rd)
    for m in rd.messages:
        c[m.to].step(m)
    c.pump()
    assert c.reads["a"] == [ReadState(b"r1", 2)]


def test_leader_cut_off_from_a_quorum_never_answers(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("a")
    assert c["a"].read_index(b"r1")
    c.tick(5, nodes=("a",))
    assert c.reads["a"] == []


def test_one_heartbeat_round_releases_a_batch_in_order(make_cluster):
    c = make_cluster()
    c.elect("a")
    for ctx in (b"r1", b"r2", b"r3"):
        assert c["a"].read_index(ctx)
    rd = c["a"].ready()
    assert len([m for m in rd.messages if isinstance(m, Heartbeat)]) == 2  # one round
    c["a"].advance(rd)
    for m in rd.messages:
        c[m.to].step(m)
    c.pump()
    assert [rs.ctx for rs in c.reads["a"]] == [b"r1", b"r2", b"r3"]


def test_new_leader_waits_for_its_first_commit_before_reading(make_cluster):
    c = make_cluster()
    c.drop = lambda m: isinstance(m, AppendEntries)
    c.elect("a")
    assert c["a"].status().commit == 0
    assert c["a"].read_index(b"r1")
    c.pump()
    assert not [m for m in c.sent_of(Heartbeat) if m.ctx == b"r1"]
    c.drop = lambda m: False
    c.tick(2, nodes=("a",))
    assert c.reads["a"] == [ReadState(b"r1", 1)]


def test_follower_read_is_forwarded_and_answered(make_cluster):
    c = make_cluster()
    c.elect("a")
    c["a"].propose(b"x")
    c.pump()
    assert c["b"].read_index(b"rb")
    c.pump()
    assert [m.to for m in c.sent_of(ReadIndexRequest)] == ["a"]
    assert [m.to for m in c.sent_of(ReadIndexResponse)] == ["b"]
    assert c.reads["b"] == [ReadState(b"rb", 2)]
    assert c.reads["a"] == []


def test_single_node_answers_at_once():
    core = RaftCore(RaftConfig("a"), ("a",), random.Random(1))
    for _ in range(20):
        core.tick()
    core.advance(core.ready())
    assert core.read_index(b"r")
    assert core.ready().read_states == (ReadState(b"r", 1),)


def test_deposed_leader_does_not_answer(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("a")
    c.elect("b")
    c["b"].propose(b"new")
    c.pump()
    c.heal()
    assert c["a"].read_index(b"stale")
    c.pump()
    assert c.reads["a"] == []
    assert c["a"].status().leader is None and c["a"].term == c["b"].term


def test_queue_ignores_duplicates_and_unknown_acks():
    q = ReadIndexQueue()
    assert q.add(b"x", 5, "a", "a")
    assert not q.add(b"x", 6, "a", "a")
    assert q.ack(b"nope", "b", ("a", "b", "c")) == []
    assert q.ack(b"x", "z", ("a", "b", "c")) == []  # not a voter
    released = q.ack(b"x", "b", ("a", "b", "c"))
    assert [(r.ctx, r.index) for r in released] == [(b"x", 5)]
    assert len(q) == 0
