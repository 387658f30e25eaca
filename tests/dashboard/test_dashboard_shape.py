"""Links from measured reachability plus configured rules; rates from counter samples."""

from __future__ import annotations

from emulator.dashboard import shape


def node(name, state="up", **peers):
    return {
        "name": name,
        "state": state,
        "peers": {p: {"reachable": ok, "rtt_ms": 1.5 if ok else None} for p, ok in peers.items()},
    }


def three(**overrides):
    nodes = {
        "a": node("a", b=True, c=True),
        "b": node("b", a=True, c=True),
        "c": node("c", a=True, b=True),
    }
    nodes.update(overrides)
    return list(nodes.values())


def by_pair(links):
    return {(link["a"], link["b"]): link for link in links}


def test_links_whole_cluster_are_ok_with_the_worst_round_trip():
    nodes = three()
    nodes[0]["peers"]["b"]["rtt_ms"] = 4.0
    links = by_pair(shape.links(nodes))
    assert set(links) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert all(link["status"] == shape.OK for link in links.values())
    assert links[("a", "b")]["rtt_ms"] == 4.0


def test_links_blocked_both_ways_is_cut_and_one_direction_is_one_way():
    rules = [
        {"src": "a", "dst": "b", "blocked": True},
        {"src": "b", "dst": "a", "blocked": True},
        {"src": "a", "dst": "c", "blocked": True},
    ]
    nodes = three(a=node("a", b=False, c=False), b=node("b", a=False, c=True))
    links = by_pair(shape.links(nodes, rules))
    assert links[("a", "b")]["status"] == shape.CUT
    assert links[("a", "c")]["status"] == shape.ONE_WAY
    assert links[("a", "c")]["blocked"] == [["a", "c"]]
    assert links[("a", "c")]["note"] == "a ↛ c"
    assert links[("b", "c")]["status"] == shape.OK
    assert links[("a", "b")]["rtt_ms"] is None


def test_links_to_a_node_that_is_not_up_are_down_not_cut():
    nodes = three(b=node("b", state="down"))
    nodes[0]["peers"]["b"]["reachable"] = False
    links = by_pair(shape.links(nodes))
    assert links[("a", "b")]["status"] == shape.DOWN
    assert links[("b", "c")]["status"] == shape.DOWN
    assert links[("a", "c")]["status"] == shape.OK


def test_links_silent_without_a_rule_are_unreachable_and_shaped_ones_degraded():
    nodes = three(a=node("a", b=False, c=True))
    rules = [{"src": "b", "dst": "c", "drop": 0.3}, {"src": "c", "dst": "b", "delay_ms": 200.0}]
    links = by_pair(shape.links(nodes, rules))
    assert links[("a", "b")]["status"] == shape.UNREACHABLE
    assert links[("b", "c")]["status"] == shape.DEGRADED
    assert links[("b", "c")]["note"] == "30% loss, +200ms"


def test_counter_rate_sums_reads_takes_the_max_of_writes_and_ignores_restarts():
    prev = {"a": 100, "b": 50, "c": 10}
    cur = {"a": 120, "b": 70, "c": 3, "d": 999}  # c restarted, d is new
    assert shape.counter_rate(prev, cur, 2.0, "sum") == 20.0
    assert shape.counter_rate(prev, cur, 2.0, "max") == 10.0
    assert shape.counter_rate(prev, {"d": 5}, 2.0) is None
    assert shape.counter_rate(prev, cur, 0.0) is None


def test_counter_total_reads_etcd_store_stats():
    stats = {"getsSuccess": 7, "getsFail": 1, "setsSuccess": 3, "createFail": 2, "watchers": 9}
    assert shape.counter_total(stats, shape.READ_COUNTERS) == 8
    assert shape.counter_total(stats, shape.WRITE_COUNTERS) == 5


def test_etcd_panel_picks_the_leader_of_the_highest_term_and_skips_proxies():
    nodes = [
        {"name": "a", "state": "up", "role": "leader", "term": 2},
        {"name": "b", "state": "up", "role": "leader", "term": 3, "keys": 12},
        {"name": "c", "state": "down", "role": "follower", "term": 3},
        {"name": "d", "state": "up", "role": "proxy"},
    ]
    panel = shape.etcd_panel(nodes)
    assert panel["leader"] == "b" and panel["term"] == 3 and panel["keys"] == 12
    assert [m["name"] for m in panel["members"]] == ["a", "b", "c"]
    assert panel["members"][2]["role"] == "down"
    assert shape.etcd_panel([{"name": "a", "state": "up"}]) is None


def test_ends_in_never_negative():
    faults = shape.ends_in([{"id": 1, "ends_in_s": -0.3}, {"id": 2, "ends_in_s": None}])
    assert faults[0]["ends_in_s"] == 0.0 and faults[1]["ends_in_s"] is None


def test_a_leader_cut_off_from_the_majority_or_of_an_older_term_is_stale():
    nodes = three(
        a=node("a", b=False, c=False) | {"role": "leader", "term": 1},
        b=node("b", a=False, c=True) | {"role": "leader", "term": 2},
        c=node("c", a=False, b=True) | {"role": "follower", "term": 2},
    )
    assert shape.leader_marks(nodes) == {"a": "stale", "b": "leader"}
    roles = {m["name"]: m["role"] for m in shape.etcd_panel(nodes)["members"]}
    assert roles == {"a": "stale leader", "b": "leader", "c": "follower"}
    nodes[1]["role"] = "candidate"  # the majority has not elected yet: nobody leads
    assert shape.leader_marks(nodes) == {"a": "stale"}
    assert shape.etcd_panel(nodes)["leader"] is None
    nodes[0]["peers"] = {"b": {"reachable": True}, "c": {"reachable": False}}
    assert shape.leader_marks(nodes) == {"a": "leader"}  # hears one of two peers: a majority


def test_fleet_panel_puts_each_machines_units_under_its_node_name():
    nodes = [
        {"name": "core-01", "machine_id": "m1", "engine_leader": "m2"},
        {"name": "core-02", "machine_id": "m2", "engine_leader": "m2"},
    ]
    machines = [
        {"id": "m2", "primaryIP": "10.0.0.2", "metadata": {"role": "web"}},
        {"id": "m1", "primaryIP": "10.0.0.1"},
    ]
    states = [
        {"name": "b.service", "machineID": "m1", "systemdActiveState": "active"},
        {"name": "a.service", "machineID": "m1", "systemdSubState": "running"},
        {"name": "gone.service", "machineID": "m9", "systemdActiveState": "failed"},
    ]
    panel = shape.fleet_panel(nodes, machines, states)
    assert panel["engine_leader"] == "core-02"
    assert [(m["node"], m["ip"], m["metadata"]) for m in panel["machines"]] == [
        ("core-01", "10.0.0.1", {}),
        ("core-02", "10.0.0.2", {"role": "web"}),
        (None, None, {}),  # a machine fleet no longer lists still shows its units
    ]
    first = panel["machines"][0]["units"]
    assert [(u["name"], u["active"], u["sub"]) for u in first] == [
        ("a.service", None, "running"),
        ("b.service", "active", None),
    ]
    nodes[0]["engine_leader"] = "m1"  # the nodes disagree (a lease moving): no verdict
    assert shape.fleet_panel(nodes, machines, [])["engine_leader"] is None


def test_count_keys_counts_leaves_of_the_v2_tree_not_directories():
    tree = {
        "dir": True,
        "nodes": [
            {"key": "/a", "value": "1"},
            {"key": "/d", "dir": True, "nodes": [{"key": "/d/x"}, {"key": "/d/e", "dir": True}]},
        ],
    }
    assert shape.count_keys(tree) == 2
    assert shape.count_keys({"dir": True}) == 0
    assert shape.count_keys(None) is None


def test_rollout_panel_names_instances_by_node_and_channels_by_version():
    nodes = [{"name": "core-01", "machine_id": "m1"}]
    service = {
        "channels": {"stable": "stable-1.1.0", "beta": None},
        "releases": {"stable-1.1.0": {"version": "1.1.0"}},
        "groups": {"stable": {"channel": "stable", "updates_enabled": True, "stopped": None}},
        "instances": {
            "m1": {"group": "stable", "version": "1.0.0", "status": "downloading"},
            "m9": {"group": "stable", "version": "1.1.0", "status": "complete"},
        },
    }
    panel = shape.rollout_panel(nodes, service)
    assert [(c["channel"], c["version"]) for c in panel["channels"]] == [
        ("beta", None),
        ("stable", "1.1.0"),
    ]
    assert [(i["node"], i["status"]) for i in panel["instances"]] == [
        ("core-01", "downloading"),
        ("m9", "complete"),  # a machine no node reports (gone): its id
    ]
    assert panel["groups"][0]["name"] == "stable"
