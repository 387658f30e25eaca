"""The agent's reconciler: which units belong on this machine, and the tasks to get there."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.fleet.agentcore import (
    LOAD,
    START,
    STOP,
    UNLOAD,
    Current,
    Desired,
    RegistryUnit,
    Task,
    apply,
    desired_units,
    plan,
)
from actors.fleet.xfleet import requirements
from actors.unitfile import parse_unit

ME, OTHER = "a" * 32, "b" * 32


def unit(name, xfleet="", state="launched", target=ME, h="h1"):
    text = "[Service]\nExecStart=/bin/true\n" + (f"[X-Fleet]\n{xfleet}\n" if xfleet else "")
    return RegistryUnit(name, h, requirements(name, parse_unit(text)), state, target)


def kinds(tasks):
    return [(t.kind, t.name) for t in tasks]


def test_desired_takes_units_scheduled_here():
    units = [unit("a.service"), unit("b.service", target=OTHER), unit("c.service", target="")]
    assert set(desired_units(ME, {}, units)) == {"a.service"}


def test_desired_global_units_need_metadata():
    units = [
        unit("g1.service", "Global=true", target=""),
        unit("g2.service", "Global=true\nMachineMetadata=region=us-west", target=""),
        unit("g3.service", "Global=true\nMachineMetadata=region=eu", target=""),
    ]
    assert set(desired_units(ME, {"region": "us-west"}, units)) == {"g1.service", "g2.service"}


def test_desired_skips_a_conflicting_unit():
    units = [unit("a.service", "Conflicts=b.service"), unit("b.service")]
    assert set(desired_units(ME, {}, units)) == {"a.service"}


def test_new_launched_unit_is_loaded_then_started():
    tasks = plan({"a.service": Desired("a.service", "h1", "launched")}, {})
    assert kinds(tasks) == [(LOAD, "a.service"), (START, "a.service")]


def test_loaded_only():
    tasks = plan({"a.service": Desired("a.service", "h1", "loaded")}, {})
    assert kinds(tasks) == [(LOAD, "a.service")]


def test_nothing_when_current_matches():
    desired = {"a.service": Desired("a.service", "h1", "launched")}
    assert plan(desired, {"a.service": Current("h1", "launched")}) == []


def test_stop_and_start_transitions():
    desired = {"a.service": Desired("a.service", "h1", "loaded")}
    assert kinds(plan(desired, {"a.service": Current("h1", "launched")})) == [(STOP, "a.service")]
    desired = {"a.service": Desired("a.service", "h1", "launched")}
    assert kinds(plan(desired, {"a.service": Current("h1", "loaded")})) == [(START, "a.service")]


def test_unload_when_gone_or_inactive():
    current = {"a.service": Current("h1", "launched"), "b.service": Current("h1", "loaded")}
    desired = {"b.service": Desired("b.service", "h1", "inactive")}
    assert kinds(plan(desired, current)) == [(UNLOAD, "a.service"), (UNLOAD, "b.service")]


def test_changed_hash_reloads():
    desired = {"a.service": Desired("a.service", "h2", "launched")}
    tasks = plan(desired, {"a.service": Current("h1", "launched")})
    assert kinds(tasks) == [(UNLOAD, "a.service"), (LOAD, "a.service"), (START, "a.service")]


def test_unloads_and_stops_come_before_loads_and_starts():
    desired = {
        "a.service": Desired("a.service", "h1", "launched"),
        "z.service": Desired("z.service", "h1", "loaded"),
    }
    current = {"m.service": Current("h1", "launched"), "z.service": Current("h1", "launched")}
    assert kinds(plan(desired, current)) == [
        (UNLOAD, "m.service"),
        (STOP, "z.service"),
        (LOAD, "a.service"),
        (START, "a.service"),
    ]


def test_apply_records_progress():
    current: dict[str, Current] = {}
    apply(current, Task(LOAD, "a.service", ""), "h1")
    assert current == {"a.service": Current("h1", "loaded")}
    apply(current, Task(START, "a.service", ""))
    assert current["a.service"].state == "launched"
    apply(current, Task(STOP, "a.service", ""))
    assert current["a.service"].state == "loaded"
    apply(current, Task(UNLOAD, "a.service", ""))
    assert current == {}


# --- property: carrying out the plan reaches the desired state ----------------------------------
_names = st.sampled_from(["a.service", "b.service", "c.service", "d.service"])
_desired = st.dictionaries(
    _names,
    st.tuples(st.sampled_from(["h1", "h2"]), st.sampled_from(["inactive", "loaded", "launched"])),
)
_current = st.dictionaries(
    _names, st.tuples(st.sampled_from(["h1", "h2"]), st.sampled_from(["loaded", "launched"]))
)


@given(_desired, _current)
def test_plan_carried_out_reaches_desired(desired_raw, current_raw):
    desired = {n: Desired(n, h, s) for n, (h, s) in desired_raw.items()}
    current = {n: Current(h, s) for n, (h, s) in current_raw.items()}
    for task in plan(desired, current):
        apply(current, task, desired[task.name].unit_hash if task.name in desired else "")
    assert plan(desired, current) == []
    wanted = {
        n: (d.unit_hash, d.target_state) for n, d in desired.items() if d.target_state != "inactive"
    }
    assert {n: (c.unit_hash, c.state) for n, c in current.items()} == wanted


def test_which_registry_changes_wake_the_actors():
    from actors.fleet.agent import agent_wants
    from actors.fleet.engine import engine_wants

    assert engine_wants("set", "job/a.service/target-state")
    assert not engine_wants("set", "job/a.service/job-state")
    assert engine_wants("expire", "machines/m/object")
    assert not engine_wants("update", "machines/m/object")  # a heartbeat
    assert engine_wants("set", "machines/m/metadata/region")
    assert not engine_wants("set", "states/a.service/m")
    assert agent_wants("set", "job/a.service/target")
    assert not agent_wants("set", "job/a.service/job-state")
    assert agent_wants("set", "machines/m/metadata/region")
    assert not agent_wants("update", "machines/m/object")
