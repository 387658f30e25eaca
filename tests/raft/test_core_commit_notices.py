"""How followers learn the commit index: at once (etcd's way, the default) or lazily
(``lazy_commit_notices``: the next append or heartbeat carries it, or a notice the shell asks for)."""

from __future__ import annotations

from actors.raft.messages import AppendEntries, Heartbeat, ReadIndexResponse


def empty_appends(c, to: str | None = None) -> list[AppendEntries]:
    return [m for m in c.sent_of(AppendEntries, frm="a", to=to) if not m.entries]


def commits(c) -> dict[str, int]:
    return {node: c[node].status().commit for node in c.ids}


def lazy_cluster(make_cluster):
    c = make_cluster(lazy_commit_notices=True)
    c.elect("a")
    c["a"].send_commit_notices()  # the new leader's no-op: let everyone know, then start clean
    c.pump()
    assert not c["a"].commit_notice_pending()
    c.sent.clear()
    return c


def test_by_default_a_commit_goes_to_the_followers_at_once(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.sent.clear()
    c["a"].propose(b"x")
    c.pump()
    assert {m.to for m in empty_appends(c)} == {"b", "c"}
    assert commits(c) == {"a": 2, "b": 2, "c": 2}


def test_lazily_the_followers_wait_for_a_notice_the_shell_asks_for(make_cluster):
    c = lazy_cluster(make_cluster)
    c["a"].propose(b"x")
    c.pump()
    assert empty_appends(c) == []
    assert commits(c) == {"a": 2, "b": 1, "c": 1}
    assert c["a"].commit_notice_pending()
    c["a"].send_commit_notices()
    c.pump()
    assert {(m.to, m.commit) for m in empty_appends(c)} == {("b", 2), ("c", 2)}
    assert commits(c) == {"a": 2, "b": 2, "c": 2}
    assert not c["a"].commit_notice_pending()
    c["a"].send_commit_notices()  # nothing owed: nothing sent
    c.sent.clear()
    c.pump()
    assert c.sent == []


def test_lazily_the_next_append_carries_the_commit_index(make_cluster):
    c = lazy_cluster(make_cluster)
    c["a"].propose(b"x")
    c.pump()
    c["a"].propose(b"y")
    c.pump()
    carried = [m for m in c.sent_of(AppendEntries, frm="a") if m.entries and m.commit == 2]
    assert {m.to for m in carried} == {"b", "c"}
    assert empty_appends(c) == []
    assert commits(c) == {"a": 3, "b": 2, "c": 2}  # y's commit is owed in turn
    assert c["a"].commit_notice_pending()


def test_lazily_a_heartbeat_carries_the_commit_index(make_cluster):
    c = lazy_cluster(make_cluster)
    c["a"].propose(b"x")
    c.pump()
    c.tick(nodes=("a",))
    assert {(m.to, m.commit) for m in c.sent_of(Heartbeat)} == {("b", 2), ("c", 2)}
    assert commits(c) == {"a": 2, "b": 2, "c": 2}
    assert not c["a"].commit_notice_pending()


def test_lazily_a_follower_that_forwarded_the_proposal_is_told_at_once(make_cluster):
    c = lazy_cluster(make_cluster)
    assert c["b"].propose(b"via-b")
    c.pump()
    assert [m.to for m in empty_appends(c)] == ["b"]
    assert commits(c) == {"a": 2, "b": 2, "c": 1}
    assert c.data("b") == [b"via-b"]  # b can answer its client now


def test_lazily_a_follower_asking_for_the_read_index_learns_the_commit_in_time(make_cluster):
    # the read's round of heartbeats carries the commit index the answer asks it to reach
    c = lazy_cluster(make_cluster)
    c["a"].propose(b"x")
    c.pump()
    assert c["c"].read_index(b"r1")
    c.pump()
    (answer,) = c.sent_of(ReadIndexResponse, to="c")
    assert answer.index == 2 and c.reads["c"][-1].index == 2
    assert commits(c)["c"] == 2 and empty_appends(c) == []


def test_lazily_a_follower_missing_entries_is_owed_no_notice(make_cluster):
    c = lazy_cluster(make_cluster)
    c.drop = lambda m: isinstance(m, AppendEntries) and m.to == "c"
    c["a"].propose(b"x")
    c.pump()
    c["a"].send_commit_notices()
    c.pump()
    assert commits(c) == {"a": 2, "b": 2, "c": 1}
    assert not c["a"].commit_notice_pending()  # c lacks the entry: appends will bring both
    assert c["a"].status().progress["c"].match == 1


def test_lazily_an_ack_that_commits_still_sends_the_follower_what_it_lacks(make_cluster):
    # a follower paused by its in-flight window gets the entries held back as soon as it acks,
    # even when that ack moves the commit index (no commit notice marks it for sending now)
    c = make_cluster(lazy_commit_notices=True, max_inflight=1)
    c.elect("a")
    c["a"].send_commit_notices()
    c.pump()
    leader = c["a"]
    leader.propose(b"x")
    rd = leader.ready()
    c.storage["a"].save(rd)
    in_flight = rd.messages
    leader.advance(rd)
    leader.propose(b"y")  # b and c are paused: y waits
    rd = leader.ready()
    assert not any(isinstance(m, AppendEntries) for m in rd.messages)
    c.storage["a"].save(rd)
    leader.advance(rd)
    for m in in_flight:
        c[m.to].step(m)
    c.pump()
    assert leader.status().commit >= 2
    for node in ("b", "c"):
        assert c[node].log.last_index() == 3  # y arrived without another proposal or a tick
