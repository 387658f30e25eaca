"""Decoding fleet's etcd tree into a snapshot, and a job's current state as fleet derives it."""

from __future__ import annotations

from actors.fleet import records as r
from actors.fleet.registry import JobRecord, decode_tree, ttl_seconds
from actors.unitfile import parse_unit

MID, MID2 = "a" * 32, "b" * 32
UNIT = parse_unit("[Service]\nExecStart=/bin/sleep 100\n\n[X-Fleet]\nConflicts=x*\n")
H = r.unit_hash(UNIT)


def leaf(key, value, **extra):
    return {"key": f"{r.PREFIX}/{key}", "value": value, **extra}


def folder(key, *nodes):
    return {"key": f"{r.PREFIX}/{key}", "dir": True, "nodes": list(nodes)}


def tree():
    ms = r.MachineState(MID, "127.0.61.1", {"region": "us-west"})
    return {
        "key": r.PREFIX,
        "dir": True,
        "nodes": [
            folder(
                "machines",
                folder(f"machines/{MID}", leaf(f"machines/{MID}/object", ms.encode(), ttl=5)),
                folder(f"machines/{MID2}"),  # an expired machine leaves its directory
            ),
            folder("unit", leaf(f"unit/{H}", r.encode_unit(UNIT))),
            folder(
                "job",
                folder(
                    "job/x.service",
                    leaf("job/x.service/object", r.encode_job("x.service", H)),
                    leaf("job/x.service/target-state", "launched"),
                    leaf("job/x.service/target", MID),
                    leaf("job/x.service/job-state", MID),
                ),
                folder("job/y.service", leaf("job/y.service/target-state", "launched")),
                folder(
                    "job/z.service",
                    leaf("job/z.service/object", "{broken"),
                ),
            ),
            folder(
                "states",
                folder(
                    "states/x.service",
                    leaf(
                        f"states/x.service/{MID}",
                        r.UnitState("x.service", MID, "loaded", "active", "running", H).encode(ms),
                    ),
                ),
            ),
            folder(
                "lease", leaf("lease/engine-leader", r.encode_lease(MID), ttl=5, modifiedIndex=42)
            ),  # fmt: skip
            folder("engine", leaf("engine/version", "1")),
        ],
    }


def test_decode_tree():
    snap = decode_tree(tree(), index=50)
    assert snap.index == 50
    assert list(snap.machines) == [MID]
    assert snap.machines[MID].metadata == {"region": "us-west"}
    assert snap.units[H] == UNIT
    assert snap.jobs == {"x.service": JobRecord("x.service", H, "launched", MID, MID)}
    assert snap.unit_of("x.service") == UNIT
    assert snap.states[("x.service", MID)].active_state == "active"
    assert snap.lease is not None and (snap.lease.machine_id, snap.lease.index) == (MID, 42)
    assert snap.engine_version == 1
    assert snap.problems == ["job/z.service/object: Expecting property name enclosed in double "
                             "quotes: line 1 column 2 (char 1)"]  # fmt: skip


def test_dynamic_metadata_merges_and_empty_deletes():
    t = tree()
    mdir = t["nodes"][0]["nodes"][0]
    mdir["nodes"].append(
        folder(
            f"machines/{MID}/metadata",
            leaf(f"machines/{MID}/metadata/disk", "ssd"),
            leaf(f"machines/{MID}/metadata/region", ""),
        )
    )
    assert decode_tree(t).machines[MID].metadata == {"disk": "ssd"}


def test_current_state_as_fleet_determines_it():
    states = decode_tree(tree()).states
    assert JobRecord("x.service", H, "launched", MID, MID).current_state(states) == "launched"
    assert JobRecord("x.service", H, "launched", MID, "").current_state(states) == "loaded"
    assert JobRecord("x.service", H, "launched", MID2, MID2).current_state(states) == "inactive"
    assert JobRecord("x.service", H, "launched", "", "").current_state(states) == "inactive"


def test_empty_registry():
    snap = decode_tree({"key": r.PREFIX, "dir": True})
    assert not snap.machines and not snap.jobs and snap.lease is None


def test_ttl_whole_seconds_never_zero():
    assert ttl_seconds(0.2) == 1 and ttl_seconds(5.0) == 5 and ttl_seconds(2.5) == 3
