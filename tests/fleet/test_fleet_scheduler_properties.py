"""Properties of the reconciler over random clusters: what it places is allowed, and it settles."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.fleet.scheduler import SCHEDULE, Job, Machine, reconcile
from actors.fleet.xfleet import has_metadata, requirements
from actors.unitfile import parse_unit

IDS = [c * 32 for c in "abcde"]
NAMES = [f"u{i}.service" for i in range(6)]


@st.composite
def clusters(draw, allow_peers: bool = True):
    ids = draw(st.lists(st.sampled_from(IDS), min_size=0, max_size=5, unique=True))
    machines = [Machine(i, draw(st.sampled_from([{}, {"r": "w"}, {"r": "e"}]))) for i in ids]
    jobs = []
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True)):
        lines = []
        if draw(st.booleans()):
            lines.append("Conflicts=" + draw(st.sampled_from(["u*", "u1.service", "u[0-2]*"])))
        if draw(st.booleans()):
            lines.append("MachineMetadata=r=" + draw(st.sampled_from(["w", "e"])))
        if draw(st.integers(0, 5)) == 0:
            lines.append("MachineID=" + draw(st.sampled_from(IDS)))
        if allow_peers and draw(st.integers(0, 5)) == 0:
            lines.append("MachineOf=" + draw(st.sampled_from(NAMES)))
        text = "[Service]\nExecStart=/bin/true\n" + (
            "[X-Fleet]\n" + "\n".join(lines) if lines else ""
        )
        req = requirements(name, parse_unit(text))
        state = draw(st.sampled_from(["launched", "loaded", "inactive"]))
        target = draw(st.sampled_from(["", *IDS]))
        jobs.append(Job(name, req, state, target))
    return machines, jobs


def final_targets(jobs, actions):
    targets = {j.name: j.target for j in jobs}
    for a in actions:
        targets[a.job] = a.machine_id if a.kind == SCHEDULE else ""
    return targets


@settings(max_examples=300, deadline=None)
@given(clusters())
def test_placements_meet_every_constraint(cluster):
    machines, jobs = cluster
    by_id = {m.id: m for m in machines}
    targets = final_targets(jobs, reconcile(machines, jobs))
    running = [j for j in jobs if targets[j.name] and j.target_state != "inactive"]
    for j in running:
        m = by_id.get(targets[j.name])
        assert m is not None, f"{j.name} left on a machine that is gone"
        assert j.req.machine_id in (None, m.id), j
        assert has_metadata(m.metadata, j.req.metadata), j
        for peer in j.req.peers:
            assert targets.get(peer) == m.id, f"{j.name} is not beside its peer {peer}"
    for a in running:
        for b in running:
            if a.name < b.name and targets[a.name] == targets[b.name]:
                clash = a.req.conflicts_with(b.name) or b.req.conflicts_with(a.name)
                assert not clash, f"{a.name} and {b.name} conflict on one machine"
    for j in jobs:
        if j.target_state == "inactive":
            assert not targets[j.name], f"inactive {j.name} still scheduled"


@settings(max_examples=300, deadline=None)
@given(clusters(allow_peers=False))
def test_a_second_round_changes_nothing(cluster):
    machines, jobs = cluster
    targets = final_targets(jobs, reconcile(machines, jobs))
    settled = [Job(j.name, j.req, j.target_state, targets[j.name]) for j in jobs]
    assert reconcile(machines, settled) == []
