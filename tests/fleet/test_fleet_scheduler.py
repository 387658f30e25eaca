"""The engine's reconciler: placement by load and constraints, unscheduling, Replaces."""

from __future__ import annotations

import pytest

from actors.fleet.scheduler import SCHEDULE, UNSCHEDULE, Action, Job, Machine, reconcile
from actors.fleet.xfleet import requirements
from actors.unitfile import parse_unit

A, B, C = "a" * 32, "b" * 32, "c" * 32


def job(name, xfleet="", state="launched", target=""):
    text = "[Service]\nExecStart=/bin/true\n" + (f"[X-Fleet]\n{xfleet}\n" if xfleet else "")
    return Job(name, requirements(name, parse_unit(text)), state, target)


def machines(*ids, **metadata):
    return [Machine(i, metadata.get(i[0], {})) for i in ids]


def placed(actions):
    return {a.job: a.machine_id for a in actions if a.kind == SCHEDULE}


def unscheduled(actions):
    return {a.job for a in actions if a.kind == UNSCHEDULE}


def test_nothing_to_do():
    assert reconcile(machines(A, B), []) == []
    assert reconcile([], [job("x.service")]) == []  # no machine: stays unscheduled


def test_least_loaded_then_machine_id():
    acts = reconcile(machines(B, A), [job("x.service")])
    assert acts == [
        Action(SCHEDULE, "x.service", A, "target state launched and unit not scheduled")
    ]


def test_spreads_by_load_in_one_round():
    acts = reconcile(machines(A, B, C), [job(f"u{i}.service") for i in range(6)])
    counts = {m: list(placed(acts).values()).count(m) for m in (A, B, C)}
    assert counts == {A: 2, B: 2, C: 2}


def test_existing_load_counts():
    jobs = [job("old1.service", target=A), job("old2.service", target=A), job("new.service")]
    assert placed(reconcile(machines(A, B), jobs)) == {"new.service": B}


def test_inactive_jobs_are_not_placed_nor_counted():
    jobs = [job("idle.service", state="inactive", target=A), job("new.service")]
    acts = reconcile(machines(A, B), jobs)
    assert unscheduled(acts) == {"idle.service"}
    assert placed(acts) == {"new.service": A}


def test_loaded_state_is_scheduled_too():
    assert placed(reconcile(machines(A), [job("x.service", state="loaded")])) == {"x.service": A}


def test_conflicts_spread_instances():
    jobs = [job(f"hello@{i}.service", "Conflicts=hello@*.service") for i in range(1, 5)]
    acts = reconcile(machines(A, B, C), jobs)
    assert len(set(placed(acts).values())) == 3  # three machines, three instances
    assert len(placed(acts)) == 3  # the fourth stays unscheduled


def test_conflict_either_way_round():
    jobs = [job("db.service", target=A), job("web.service", "Conflicts=db.service")]
    assert placed(reconcile(machines(A, B), jobs)) == {"web.service": B}
    jobs = [job("db.service", "Conflicts=web*", target=A), job("web.service")]
    assert placed(reconcile(machines(A, B), jobs)) == {"web.service": B}


def test_conflicts_several_globs_on_one_line_and_repeated():
    jobs = [
        job("a.service", target=A),
        job("b.service", target=B),
        job("x.service", "Conflicts=a.service b.service\nConflicts=zzz*"),
    ]
    assert placed(reconcile(machines(A, B, C), jobs)) == {"x.service": C}


def test_two_conflicting_units_on_one_machine_lose_one():
    jobs = [job("p.service", "Conflicts=q.service", target=A), job("q.service", target=A)]
    acts = reconcile(machines(A, B), jobs)
    assert unscheduled(acts) == {"p.service"}
    assert placed(acts) == {"p.service": B}


def test_machine_went_away():
    acts = reconcile(machines(B), [job("x.service", target=A)])
    assert acts[0] == Action(UNSCHEDULE, "x.service", A, f"target Machine({A}) went away")
    assert placed(acts) == {"x.service": B}


def test_machine_went_away_conflicts_still_hold():
    jobs = [
        job("hello@1.service", "Conflicts=hello@*.service", target=B),
        job("hello@2.service", "Conflicts=hello@*.service", target="gone" * 8),
    ]
    acts = reconcile(machines(A, B), jobs)
    assert placed(acts) == {"hello@2.service": A}


def test_machine_id_full_and_short():
    assert placed(reconcile(machines(A, B), [job("x.service", f"MachineID={B}")])) == {
        "x.service": B
    }
    assert placed(reconcile(machines(A, B), [job("x.service", f"MachineID={B[:8]}")])) == {
        "x.service": B
    }
    assert reconcile(machines(A), [job("x.service", f"MachineID={B}")]) == []


def test_machine_id_no_longer_matching_is_unscheduled():
    acts = reconcile(machines(A, B), [job("x.service", f"MachineID={B}", target=A)])
    assert unscheduled(acts) == {"x.service"} and placed(acts) == {"x.service": B}


@pytest.mark.parametrize(
    "xfleet, expected",
    [
        ("MachineMetadata=region=us-west", {B, C}),
        ("MachineMetadata=region=us-west\nMachineMetadata=region=us-east", {A, B, C}),
        ("MachineMetadata=region=us-west\nMachineMetadata=disk=ssd", {C}),
        ('MachineMetadata="region=us-west" "disk=ssd"', {C}),
        ("MachineMetadata=region=mars", set()),
        ("MachineMetadata=broken", {A, B, C}),  # not k=v: ignored, as fleet does
    ],
)
def test_metadata_or_within_a_key_and_across_keys(xfleet, expected):
    ms = [
        Machine(A, {"region": "us-east"}),
        Machine(B, {"region": "us-west"}),
        Machine(C, {"region": "us-west", "disk": "ssd"}),
    ]
    got = set()
    for m in ms:  # each machine alone: which ones can take it
        got |= set(placed(reconcile([m], [job("x.service", xfleet)])).values())
    assert got == expected


def test_machine_of_follows_its_peer():
    jobs = [job("db.service", target=B), job("backup.service", "MachineOf=db.service")]
    assert placed(reconcile(machines(A, B), jobs)) == {"backup.service": B}


def test_machine_of_waits_for_unscheduled_peer():
    jobs = [job("db.service", state="inactive"), job("backup.service", "MachineOf=db.service")]
    assert reconcile(machines(A, B), jobs) == []


def test_machine_of_follows_peer_scheduled_in_the_same_round():
    jobs = [job("backup.service", "MachineOf=db.service"), job("db.service")]
    acts = reconcile(machines(A, B), jobs)
    # backup sorts first and finds no peer; the next round places it beside db
    assert placed(acts) == {"db.service": A}
    again = reconcile(machines(A, B), [job("db.service", target=A), jobs[0]])
    assert placed(again) == {"backup.service": A}


def test_peer_gone_unschedules_follower():
    jobs = [job("backup.service", "MachineOf=db.service", target=A)]
    assert unscheduled(reconcile(machines(A, B), jobs)) == {"backup.service"}


def test_global_units_count_as_load_where_they_run():
    jobs = [job("g.service", "Global=true\nMachineMetadata=region=us-west"), job("x.service")]
    ms = [Machine(A, {"region": "us-west"}), Machine(B, {})]
    acts = reconcile(ms, jobs)
    assert placed(acts) == {"x.service": B}  # global units are never scheduled by the engine


def test_global_unit_conflict_keeps_others_away():
    jobs = [job("g.service", "Global=true\nConflicts=x.service"), job("x.service")]
    assert reconcile(machines(A, B), jobs) == []


def test_global_last_value_wins():
    jobs = [job("g.service", "Global=true\nGlobal=false")]
    assert placed(reconcile(machines(A), jobs)) == {"g.service": A}


def test_specifiers_in_xfleet():
    jobs = [job("web@1.service", target=A), job("side@1.service", "MachineOf=web@%i.service")]
    assert placed(reconcile(machines(A, B), jobs)) == {"side@1.service": A}


def test_replaces_pushes_the_other_unit_away():
    jobs = [job("old.service", target=A), job("new.service", "Replaces=old.service", target=A)]
    acts = reconcile(machines(A, B), jobs)
    assert Action(UNSCHEDULE, "old.service", A, "new.service replaces old.service on "
                  f"Machine({A})") in acts  # fmt: skip
    assert placed(acts) == {"old.service": B}


def test_replaced_unit_is_not_placed_beside_its_replacer():
    jobs = [job("new.service", "Replaces=old.service", target=A), job("old.service")]
    assert placed(reconcile(machines(A, B), jobs)) == {"old.service": B}


def test_replaces_with_no_other_machine_leaves_it_unscheduled():
    jobs = [job("old.service", target=A), job("new.service", "Replaces=old.service", target=A)]
    acts = reconcile(machines(A), jobs)
    assert unscheduled(acts) == {"old.service"} and placed(acts) == {}


def test_mutual_replaces_are_ignored():
    jobs = [
        job("p.service", "Replaces=q.service", target=A),
        job("q.service", "Replaces=p.service", target=A),
    ]
    assert reconcile(machines(A, B), jobs) == []


def test_round_is_deterministic():
    jobs = [job(f"u{i}.service", "Conflicts=u*") for i in range(5)]
    ms = machines(A, B, C)
    assert reconcile(ms, jobs) == reconcile(list(reversed(ms)), list(reversed(jobs)))


def test_a_unit_whose_peer_leaves_later_in_the_round_goes_too():
    jobs = [
        job("a-follower.service", "MachineOf=b-leader.service", target=B),
        job("b-leader.service", f"MachineID={A}", target=B),
    ]
    acts = reconcile(machines(A, B), jobs)
    assert unscheduled(acts) == {"a-follower.service", "b-leader.service"}
    assert placed(acts) == {"b-leader.service": A}  # the follower joins it next round
