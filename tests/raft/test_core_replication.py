from __future__ import annotations

from actors.raft.core import Role
from actors.raft.entries import ConfState, Snapshot
from actors.raft.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    InstallSnapshot,
    Propose,
)
from actors.raft.recentproposals import RecentProposals


def test_proposals_commit_on_every_node_in_order(make_cluster):
    c = make_cluster()
    c.elect("a")
    for i in range(5):
        assert c["a"].propose(b"x%d" % i)
    c.pump()
    c.tick(2)
    for node in c.ids:
        assert c.data(node) == [b"x%d" % i for i in range(5)]
        assert c[node].status().commit == 6


def test_follower_forwards_proposals_to_the_leader(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["b"].propose(b"via-b")
    assert c["c"].propose(b"via-c")
    c.pump()
    forwarded = c.sent_of(Propose)
    assert {m.frm for m in forwarded} == {"b", "c"} and {m.to for m in forwarded} == {"a"}
    c.tick()
    assert sorted(c.data("a")) == [b"via-b", b"via-c"]


def test_a_duplicated_forwarded_proposal_is_appended_once(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["b"].propose(b"once")
    c.pump()
    (forwarded,) = c.sent_of(Propose, frm="b")
    c["a"].step(forwarded)  # the network delivers the same message again, later
    c.pump()
    c.tick(2)
    for node in c.ids:
        assert c.data(node) == [b"once"]
    assert c["b"].propose(b"twice")  # new data is taken as before
    c.pump()
    c.tick()
    assert c.data("a") == [b"once", b"twice"]


def test_recent_proposals_forget_the_oldest_past_their_window():
    recent = RecentProposals(capacity=2)
    assert recent.first_time(b"1") and recent.first_time(b"2")
    assert not recent.first_time(b"1") and recent.duplicates == 1
    assert recent.first_time(b"3")  # b"1" leaves the window
    assert recent.first_time(b"1") and not recent.first_time(b"3")


def test_proposal_without_a_known_leader_is_refused(make_cluster):
    c = make_cluster()
    assert not c["a"].propose(b"x")
    assert not c["a"].read_index(b"r")


def test_conflicting_uncommitted_entries_are_overwritten(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("a")
    for i in range(3):
        c["a"].propose(b"lost%d" % i)  # only a has these
    c.pump()
    c.elect("b")
    c["b"].propose(b"kept")
    c.pump()
    assert c["b"].status().commit == 3
    c.heal()
    c.tick(30, nodes=("b", "c"))
    c.tick(3)
    assert c["a"].status().leader == "b"
    assert c.data("a") == [b"kept"]
    assert [c["a"].log.term(i) for i in range(1, 4)] == [1, 2, 2]
    assert c["a"].log.last_index() == 3


def test_reject_hint_skips_a_whole_divergent_term(make_cluster):
    c = make_cluster(max_entries_per_append=64)
    c.elect("a")
    c.isolate("a")
    for i in range(40):
        c["a"].propose(b"old%d" % i)
    c.pump()
    c.elect("b")
    for i in range(40):
        c["b"].propose(b"new%d" % i)
    c.pump()
    c.elect("c")  # term 3: c probes a after its last index before the no-op (42)
    c.heal()
    c.sent.clear()
    c.tick(3, nodes=("c",))
    rejects = [m for m in c.sent_of(AppendResponse, frm="a") if m.reject]
    assert len(rejects) == 1  # not one rejection per divergent entry
    assert (rejects[0].index, rejects[0].hint_index, rejects[0].hint_term) == (42, 41, 1)
    assert c["a"].log.last_index() == c["c"].log.last_index() == 43
    assert c.data("a")[-1] == b"new39"


def test_entries_are_batched_up_to_the_limit(make_cluster):
    c = make_cluster(max_entries_per_append=3)
    c.elect("a")
    for i in range(7):
        c["a"].propose(b"x%d" % i)
    rd = c["a"].ready()
    to_b = [m for m in rd.messages if isinstance(m, AppendEntries) and m.to == "b"]
    assert [len(m.entries) for m in to_b] == [3, 3, 1]
    assert [m.prev_index for m in to_b] == [1, 4, 7]


def test_inflight_window_limits_unacknowledged_appends(make_cluster):
    c = make_cluster(max_entries_per_append=1, max_inflight=2)
    c.elect("a")
    for i in range(6):
        c["a"].propose(b"x%d" % i)
    rd = c["a"].ready()
    assert len([m for m in rd.messages if isinstance(m, AppendEntries) and m.to == "b"]) == 2
    c["a"].advance(rd)
    for m in rd.messages:
        c[m.to].step(m)
    c.pump()
    assert c["a"].status().commit == 7  # acknowledgements open the window again


def test_probe_state_sends_one_append_until_an_answer(make_cluster):
    c = make_cluster()
    c.isolate("c")
    c.elect("a")
    for i in range(3):
        c["a"].propose(b"x%d" % i)
        c.pump()
    assert c["a"].status().progress["c"].state == "probe"
    appends_to_c = [m for m in c.sent_of(AppendEntries, to="c") if m.entries]
    assert len(appends_to_c) == 1
    c.tick(nodes=("a",))  # still no answer: the heartbeat round does not resend either
    assert len([m for m in c.sent_of(AppendEntries, to="c") if m.entries]) == 1
    c.heal()
    c.tick(2, nodes=("a",))  # a heartbeat answer unpauses the probe
    assert c["a"].status().progress["c"].state == "replicate"
    assert c.data("c") == [b"x0", b"x1", b"x2"]


def test_heartbeat_commit_is_bounded_by_the_followers_match(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.drop = lambda m: isinstance(m, AppendEntries) and m.to == "c"
    for i in range(4):
        c["a"].propose(b"x%d" % i)
    c.pump()
    c.sent.clear()
    c.tick(nodes=("a",))
    beats = {m.to: m.commit for m in c.sent_of(Heartbeat)}
    assert beats == {"b": 5, "c": 1}
    assert c["c"].status().commit == 1


def test_commit_needs_an_entry_of_the_current_term_figure_8(make_cluster):
    """The Raft paper's Figure 8: an old-term entry on a majority is not yet committed."""
    ids = ("s1", "s2", "s3", "s4", "s5")
    c = make_cluster(ids, pre_vote=False, check_quorum=False, max_entries_per_append=1)
    c.elect("s1")  # term 1, no-op at index 1 everywhere
    for other in ("s3", "s4", "s5"):
        c.cut |= {("s1", other), (other, "s1")}
    c["s1"].propose(b"term1")  # index 2, reaches s2 only
    c.pump()
    assert c["s2"].log.last_index() == 2 and c["s3"].log.last_index() == 1
    c.crash("s1")
    c.heal()
    c.drop = lambda m: isinstance(m, AppendEntries) and m.frm == "s5"
    c.elect("s5")  # term 2 with s3, s4 (s2's log is longer); its no-op stays local
    assert c["s5"].term == 2 and c["s5"].log.last_index() == 2
    c.crash("s5")
    c.restart("s1")
    c.drop = lambda m: isinstance(m, AppendEntries) and m.frm == "s1"
    c.elect("s1")  # a later term; s1 still holds the old-term entry at index 2
    s1 = c["s1"]
    assert s1.log.term(2) == 1 and s1.log.last_index() == 3  # plus its own no-op
    assert s1.status().commit == 1
    # s2 and s3 acknowledge index 2 only (s1, s2, s3: a majority holds it)
    c.crash("s2")
    c.crash("s3")
    c.crash("s4")
    for peer in ("s2", "s3"):
        s1.step(AppendResponse(s1.term, peer, "s1", 2, False, 0, 0))
    assert {p: s1.status().progress[p].match for p in ("s1", "s2", "s3")} == {
        "s1": 3,
        "s2": 2,
        "s3": 2,
    }
    assert s1.status().commit == 1  # ... but its term is old: not committed
    s1.step(AppendResponse(s1.term, "s2", "s1", 3, False, 0, 0))
    assert s1.status().commit == 1  # index 3 is on s1 and s2 only
    s1.step(AppendResponse(s1.term, "s3", "s1", 3, False, 0, 0))
    assert s1.status().commit == 3  # committing index 3 commits index 2 with it


def test_lagging_follower_gets_a_snapshot_after_compaction(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.isolate("c")
    for i in range(10):
        c["a"].propose(b"x%d" % i)
    c.pump()
    a = c["a"]
    snapshot = a.make_snapshot(b"state-at-11")
    assert (snapshot.index, snapshot.term, snapshot.conf) == (11, 1, ConfState(("a", "b", "c")))
    a.compact(snapshot)
    assert a.log.first_index() == 12
    a.propose(b"after")
    c.pump()
    c.heal()
    c.tick(3, nodes=("a",))
    snaps = c.sent_of(InstallSnapshot, to="c")
    assert len(snaps) == 1 and snaps[0].snapshot.data == b"state-at-11"
    assert c.storage["c"].snapshot == snapshot
    assert c["c"].status().commit == 12 and c["c"].status().applied == 12
    assert c.data("c") == [b"after"]  # the rest came as entries
    assert a.status().progress["c"].state == "replicate"


def test_snapshot_ready_comes_before_later_entries_and_sets_voters(make_cluster):
    c = make_cluster()
    c.elect("a")
    core = c["c"]
    snap = Snapshot(20, 1, ConfState(("a", "b", "c", "d")), b"s")
    core.step(InstallSnapshot(1, "a", "c", snap))
    rd = core.ready()
    assert rd.snapshot == snap and rd.committed_entries == ()
    assert rd.hard_state is not None and rd.hard_state.commit == 20
    assert [m.index for m in rd.messages if isinstance(m, AppendResponse)] == [20]
    core.advance(rd)
    assert core.status().applied == 20 and core.status().voters == ("a", "b", "c", "d")


def test_stale_snapshot_is_acknowledged_with_the_commit_index(make_cluster):
    c = make_cluster()
    c.elect("a")
    c["a"].propose(b"x")
    c.tick()
    core = c["b"]
    core.step(InstallSnapshot(1, "a", "b", Snapshot(1, 1, ConfState(("a",)), b"")))
    rd = core.ready()
    assert rd.snapshot is None
    assert rd.messages[0].index == 2
    assert core.status().voters == ("a", "b", "c")


def test_restart_recovers_log_and_reapplies_committed_entries(make_cluster):
    c = make_cluster()
    c.elect("a")
    for i in range(3):
        c["a"].propose(b"x%d" % i)
    c.tick(2)
    c.crash("b")
    b = c.restart("b")
    s = b.status()
    assert (s.term, s.commit, s.applied, s.last_index) == (1, 4, 0, 4)
    assert b.role is Role.FOLLOWER
    rd = b.ready()
    assert [e.index for e in rd.committed_entries] == [1, 2, 3, 4]
    assert rd.entries == ()  # already durable


def test_ready_is_not_handed_out_twice_before_advance(make_cluster):
    c = make_cluster()
    c.elect("a")
    c["a"].propose(b"x")
    first = c["a"].ready()
    assert first.entries
    second = c["a"].ready()
    assert second.entries == () and second.messages == ()
    c["a"].advance(first)
    c["a"].advance(second)
    assert not c["a"].has_ready()
