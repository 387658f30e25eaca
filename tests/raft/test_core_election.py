from __future__ import annotations

import random

import pytest

from actors.raft.core import RaftConfig, RaftCore, Role
from actors.raft.entries import HardState
from actors.raft.messages import AppendResponse, Heartbeat, VoteRequest, VoteResponse


def test_config_rejects_a_heartbeat_not_shorter_than_the_election_timeout():
    with pytest.raises(ValueError, match="heartbeat_ticks"):
        RaftConfig("a", election_ticks=2, heartbeat_ticks=2)


def test_election_timeout_is_randomized_within_one_to_two_timeouts():
    seen = set()
    for seed in range(40):
        core = RaftCore(RaftConfig("a", pre_vote=False), ("a", "b", "c"), random.Random(seed))
        ticks = 0
        while core.role is Role.FOLLOWER:
            core.tick()
            ticks += 1
        seen.add(ticks)
    assert min(seen) >= 10 and max(seen) < 20
    assert len(seen) > 3


def test_single_node_elects_itself_and_commits_its_noop():
    core = RaftCore(RaftConfig("a"), ("a",), random.Random(1))
    for _ in range(20):
        core.tick()
    assert core.role is Role.LEADER and core.term == 1
    rd = core.ready()
    assert rd.soft_state is not None and rd.soft_state.role is Role.LEADER
    assert rd.hard_state is not None and rd.hard_state.commit == 1
    assert [e.data for e in rd.committed_entries] == [b""]
    core.advance(rd)
    assert core.propose(b"x")
    assert [e.data for e in core.ready().committed_entries] == [b"x"]


def test_three_nodes_elect_exactly_one_leader(make_cluster):
    c = make_cluster()
    c.tick(25)
    assert len(c.leaders()) == 1
    leader = c.leaders()[0]
    for node in c.ids:
        s = c[node].status()
        assert s.leader == leader and s.term == c[leader].term
        assert s.commit == 1  # the new leader's no-op


def test_pre_vote_does_not_increase_the_term(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("c")
    c.tick(60, nodes=("c",))  # c times out again and again behind the partition
    assert c["c"].term == 1
    assert c["c"].role is Role.PRE_CANDIDATE


def test_pre_vote_keeps_a_rejoining_node_from_deposing_the_leader(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("c")
    c.tick(60)
    c.heal()
    c.tick(30)
    assert c.leaders() == ["a"]
    assert c["a"].term == 1
    assert c["c"].status().leader == "a"


def test_without_pre_vote_the_lease_ignores_a_rejoining_candidate(make_cluster):
    c = make_cluster(pre_vote=False)
    c.elect("a")
    c.isolate("c")
    c.tick(45, nodes=("c",))
    term_c = c["c"].term
    assert term_c > 2  # it campaigned behind the partition
    c.heal()
    c.tick(nodes=("c",))  # its vote requests reach followers that just heard from a
    requests = [m for m in c.sent_of(VoteRequest, frm="c") if m.term >= term_c]
    assert requests
    assert c["b"].term == 1 and c["b"].status().leader == "a"


def test_check_quorum_leader_steps_down_when_cut_off(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("a")
    c.tick(10, nodes=("a",))
    assert c["a"].role is Role.LEADER
    c.tick(11, nodes=("a",))
    assert c["a"].role is Role.FOLLOWER
    assert c["a"].status().leader is None
    assert not c["a"].propose(b"x")


def test_leader_with_quorum_stays_leader(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("c")
    c.tick(50)
    assert c.leaders() == ["a"] and c["a"].term == 1


def test_majority_side_elects_a_new_leader_minority_leader_steps_down(make_cluster):
    c = make_cluster(("a", "b", "c", "d", "e"))
    c.elect("a")
    for x in ("a", "b"):
        for y in ("c", "d", "e"):
            c.cut |= {(x, y), (y, x)}
    c.tick(40)
    assert c["a"].role is not Role.LEADER and c["a"].term == 1
    leaders = c.leaders()
    assert len(leaders) == 1 and leaders[0] in ("c", "d", "e")


def test_vote_denied_to_a_candidate_with_a_shorter_log(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("c")
    assert c["a"].propose(b"x")
    c.pump()
    c.heal()
    core_b = c["b"]
    core_b.step(VoteRequest(5, "c", "b", 1, 1, False, True))
    rd = core_b.ready()
    answer = [m for m in rd.messages if isinstance(m, VoteResponse)][0]
    assert not answer.granted
    assert core_b.term == 5  # the term still moves on
    core_b.advance(rd)


def test_one_vote_per_term_survives_a_restart(make_cluster):
    c = make_cluster(pre_vote=False)
    b = c["b"]
    b.step(VoteRequest(3, "a", "b", 0, 0, False, False))
    rd = b.ready()
    assert rd.hard_state == HardState(3, "a", 0)
    assert rd.messages[0].granted
    c.storage["b"].save(rd)
    b.advance(rd)
    c.crash("b")
    b = c.restart("b")
    b.step(VoteRequest(3, "c", "b", 5, 2, False, False))
    answer = b.ready().messages[0]
    assert isinstance(answer, VoteResponse) and not answer.granted
    b.step(VoteRequest(3, "a", "b", 0, 0, False, False))  # the same candidate again: yes
    assert b.ready().messages[0].granted


def test_a_stale_leader_learns_the_new_term_from_an_answer(make_cluster):
    c = make_cluster()
    c.elect("a")
    b = c["b"]
    b.step(Heartbeat(7, "c", "b", 0, b""))  # b now follows c in term 7
    b.ready()
    b.step(Heartbeat(1, "a", "b", 1, b""))
    answer = b.ready().messages[0]
    assert isinstance(answer, AppendResponse) and answer.term == 7
    c["a"].step(answer)
    assert c["a"].role is Role.FOLLOWER and c["a"].term == 7


def test_messages_for_another_node_are_ignored(make_cluster):
    c = make_cluster()
    a = c["a"]
    a.step(VoteRequest(9, "b", "c", 0, 0, False, False))
    assert a.term == 0 and not a.has_ready()


def test_a_node_outside_the_voters_never_campaigns():
    core = RaftCore(RaftConfig("z"), ("a", "b", "c"), random.Random(1))
    for _ in range(100):
        core.tick()
    assert core.role is Role.FOLLOWER and core.term == 0
