from __future__ import annotations

from actors.raft.core import Role
from actors.raft.messages import AppendEntries, TimeoutNow


def test_transfer_to_an_up_to_date_follower(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["a"].transfer_leadership("b")
    c.pump()
    assert [m.to for m in c.sent_of(TimeoutNow)] == ["b"]
    assert c.leaders() == ["b"] and c["b"].term == 2
    assert c["a"].status().leader == "b"


def test_transfer_waits_for_a_lagging_follower_and_refuses_proposals(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.drop = lambda m: isinstance(m, AppendEntries) and m.to == "c"
    c["a"].propose(b"x")
    c.pump()
    assert c["a"].transfer_leadership("c")
    c.pump()
    assert c.sent_of(TimeoutNow) == []
    assert not c["a"].propose(b"refused during the transfer")
    c.drop = lambda m: False
    c.tick(nodes=("a",))
    assert c.leaders() == ["c"]
    assert c.data("c") == [b"x"]


def test_transfer_is_abandoned_after_an_election_timeout(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("c")
    c["a"].propose(b"x")
    c.pump()
    assert c["a"].transfer_leadership("c")
    assert not c["a"].propose(b"y")
    c.tick(10, nodes=("a", "b"))
    assert c["a"].role is Role.LEADER
    assert c["a"].propose(b"z")


def test_transfer_requests_that_make_no_sense_are_refused(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert not c["a"].transfer_leadership("a")
    assert not c["a"].transfer_leadership("nobody")
    assert not c["b"].transfer_leadership("c")  # only the leader can hand over


def test_timeout_now_overrides_the_followers_lease(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.tick(2)  # b and c heard from a just now: a plain candidate would be ignored
    assert c["a"].transfer_leadership("c")
    c.pump()
    assert c.leaders() == ["c"]
