from __future__ import annotations

import random

from actors.raft.core import RaftConfig, RaftCore, Role
from actors.raft.entries import ConfChange, ConfChangeOp, ConfState, Entry, EntryKind, HardState
from actors.raft.messages import AppendEntries, InstallSnapshot
from emulator import wire

ADD, REMOVE = ConfChangeOp.ADD_NODE, ConfChangeOp.REMOVE_NODE


def test_added_node_catches_up_and_becomes_a_voter(make_cluster):
    c = make_cluster()
    c.elect("a")
    c["a"].propose(b"before")
    c.pump()
    c.add("d", ("a", "b", "c"))  # a joining node is told the current members
    assert c["a"].propose_conf_change(ConfChange(ADD, "d", b"peer-urls"))
    c.pump()
    c.tick(2, nodes=("a",))
    for node in ("a", "b", "c", "d"):
        assert c[node].status().voters == ("a", "b", "c", "d")
    assert c.data("d") == [b"before"]
    conf = [e for e in c.applied["d"] if e.kind == EntryKind.CONF_CHANGE]
    assert wire.unpack(conf[0].data) == ConfChange(ADD, "d", b"peer-urls")
    assert c["a"].status().progress["d"].match == c["a"].status().last_index
    assert c["d"].transfer_leadership("a") is False
    assert c["a"].transfer_leadership("d")
    c.pump()
    assert c.leaders() == ["d"]


def test_one_conf_change_at_a_time(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.add("d", ("a", "b", "c"))
    c.add("e", ("a", "b", "c"))
    assert c["a"].propose_conf_change(ConfChange(ADD, "d", b""))
    assert not c["a"].propose_conf_change(ConfChange(ADD, "e", b""))
    c.pump()
    c.tick(nodes=("a",))
    assert c["a"].propose_conf_change(ConfChange(ADD, "e", b""))


def test_new_leader_refuses_conf_changes_until_its_noop_is_applied(make_cluster):
    c = make_cluster()
    c.elect("a")
    c.drop = lambda m: isinstance(m, AppendEntries) and m.frm == "b"
    c.elect("b")  # its no-op cannot commit
    b = c["b"]
    assert b.status().commit < b.status().last_index
    assert not b.propose_conf_change(ConfChange(REMOVE, "c", b""))
    c.drop = lambda m: False
    c.tick(nodes=("b",))
    assert b.propose_conf_change(ConfChange(REMOVE, "c", b""))


def test_meaningless_conf_changes_are_refused(make_cluster):
    c = make_cluster(("a",))
    c.elect("a")
    assert not c["a"].propose_conf_change(ConfChange(ADD, "a", b""))
    assert not c["a"].propose_conf_change(ConfChange(REMOVE, "zz", b""))
    assert not c["a"].propose_conf_change(ConfChange(REMOVE, "a", b""))  # the last voter


def test_removing_a_follower_shrinks_the_quorum(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["a"].propose_conf_change(ConfChange(REMOVE, "c", b""))
    c.pump()
    c.tick(nodes=("a",))
    assert c["a"].status().voters == ("a", "b")
    assert "c" not in c["a"].status().progress
    c.crash("c")
    c["a"].propose(b"two-node commit")
    c.tick(2, nodes=("a", "b"))
    assert c.data("b") == [b"two-node commit"]


def test_removed_leader_steps_down_and_never_campaigns(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["a"].propose_conf_change(ConfChange(REMOVE, "a", b""))
    c.pump()
    c.tick(nodes=("a",))
    assert c["a"].role is Role.FOLLOWER
    assert c["a"].status().voters == ("b", "c")
    c.tick(40)
    assert len(c.leaders()) == 1 and c.leaders()[0] in ("b", "c")
    assert c["a"].role is Role.FOLLOWER


def test_forwarded_conf_change_from_a_follower(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["b"].propose_conf_change(ConfChange(REMOVE, "c", b""))
    c.pump()
    c.tick(nodes=("a",))
    assert c["b"].status().voters == ("a", "b")


def test_restart_counts_committed_conf_changes_only():
    add_d = Entry(1, 2, EntryKind.CONF_CHANGE, wire.pack(ConfChange(ADD, "d", b"")))
    remove_b = Entry(1, 3, EntryKind.CONF_CHANGE, wire.pack(ConfChange(REMOVE, "b", b"")))
    entries = [Entry(1, 1, EntryKind.NORMAL, b""), add_d, remove_b]
    core = RaftCore(
        RaftConfig("a"),
        ("a", "b", "c"),
        random.Random(1),
        hard_state=HardState(1, "a", 2),
        entries=entries,
    )
    assert core.status().voters == ("a", "b", "c", "d")  # the removal is not committed
    rd = core.ready()
    assert [e.index for e in rd.committed_entries] == [1, 2]
    core.advance(rd)
    assert core.status().voters == ("a", "b", "c", "d")


def test_snapshot_carries_the_configuration(make_cluster):
    c = make_cluster()
    c.elect("a")
    assert c["a"].propose_conf_change(ConfChange(ADD, "d", b""))
    c.pump()
    c.tick(nodes=("a",))
    a = c["a"]
    snapshot = a.make_snapshot(b"sm")
    assert snapshot.conf == ConfState(("a", "b", "c", "d"))
    a.compact(snapshot)
    c.add("d", ())  # knows nothing: everything comes in the snapshot
    c.tick(3, nodes=("a",))
    assert c.sent_of(InstallSnapshot, to="d")
    assert c["d"].status().voters == ("a", "b", "c", "d")
    assert c["d"].status().applied == snapshot.index
