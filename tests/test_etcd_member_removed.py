"""A member removed while it was cut off learns it was removed when it comes back (peers answer
it with MemberRemoved, etcd's 410 Gone): it stops campaigning and drops out of its own voters;
added back, it hears from the leader and carries on. Driven with the simulator's members."""

from __future__ import annotations

from actors.etcd.requests import ClientConfChange, MemberQuery, MemberSettings, QueryKind
from actors.raft.entries import ConfChangeOp
from emulator.sim.checker import SafetyChecker
from emulator.sim.member import SimClock, SimMember


class Cluster:
    def __init__(self):
        self.clock = SimClock(1)
        settings = MemberSettings(voters=("n1", "n2", "n3"), token="t")
        checker, applied = SafetyChecker(), {}
        self.nodes = {
            n: SimMember(n, settings, 1, self.clock, checker, applied) for n in settings.voters
        }
        self.cut: set[str] = set()

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.clock.step += 1
            for node in self.nodes.values():
                node.member.tick()
            for _ in range(5):  # deliver until quiet
                for node in self.nodes.values():
                    if node.aside_due(self.clock.step):
                        node.finish_aside()  # a leader's WAL write, done aside, is due
                    node.member.ready()
                for node in list(self.nodes.values()):
                    for msg in node.take_outbox():
                        if msg.to not in self.cut and msg.frm not in self.cut:
                            self.nodes[msg.to].member.step(msg)

    def leader(self):
        return next(n for n in self.nodes.values() if n.is_leader())


def test_a_member_removed_while_cut_off_learns_it_and_comes_back_when_added():
    c = Cluster()
    c.run(40)
    leader = c.leader()
    victim = next(n for n in ("n1", "n2", "n3") if n != leader.id)
    seen = []
    c.nodes[victim].member.handle(MemberQuery(QueryKind.WATCH_VOTERS, print, seen.append))
    c.cut.add(victim)
    outcomes = []
    leader.member.handle(ClientConfChange(ConfChangeOp.REMOVE_NODE, victim, (), outcomes.append))
    c.run(10)
    assert outcomes and outcomes[0].result.value == "applied"
    assert victim in c.nodes[victim].member.core.voters  # its own log never heard of it
    c.cut.clear()
    c.run(40)  # it campaigns, a peer answers MemberRemoved
    member = c.nodes[victim].member
    assert member.membership.removed
    assert seen and victim not in seen[-1]  # its client port would close now
    term = member.core.term
    c.run(40)
    assert member.core.term == term  # no more campaigning
    leader = c.leader()
    leader.member.handle(ClientConfChange(ConfChangeOp.ADD_NODE, victim, (), outcomes.append))
    c.run(40)
    assert outcomes[-1].result.value == "applied"
    assert not member.membership.removed and victim in seen[-1]
    assert member.core.log.applied == leader.member.core.log.applied
