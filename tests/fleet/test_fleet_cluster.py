"""fleet on a real 5-node cluster, driven with ``run.py fleetctl`` as a user drives it.

One cluster serves the tests of this module (they run in file order): placement by Conflicts and
MachineMetadata, refusals that change nothing, then losing machines — the one running hello@2,
then the engine leader.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from cluster_harness import REPO, ClusterRun, emulator_pids, write_config

pytestmark = pytest.mark.cluster

FLEET = """\
cloud-config: |
  #cloud-config
  coreos:
    fleet:
      metadata: "region=us-east"
      agent-ttl: 3s
      engine-reconcile-interval: 1s
    units:
      - name: etcd2.service
        command: start
      - name: fleet.service
        command: start
overrides:
  core-02:
    cloud-config:
      coreos:
        fleet: {metadata: "region=us-west"}
  core-04:
    cloud-config:
      coreos:
        fleet: {metadata: "region=us-west,disk=ssd"}
"""
UNITS = REPO / "configs" / "units"
HELLO = [f"hello@{i}.service" for i in range(1, 5)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    run = ClusterRun(tmp, write_config(tmp, nodes=5, extra=FLEET, name="fleet"))
    try:
        run.up()
        run.wait_for(
            lambda s: sum(1 for n in s["nodes"] if n.get("engine_leader")) == 5,
            timeout=30,
            what="every node's fleet to know the engine leader",
        )
        yield run
    finally:
        run.down()
        deadline = time.monotonic() + 10
        while emulator_pids(str(tmp)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = emulator_pids(str(tmp))
        for pid in left:
            os.kill(pid, 9)
        assert not left, f"processes left behind: {left}"


def fleetctl(run: ClusterRun, *args: str, check: bool = True):
    return run.cli("fleetctl", str(run.run_dir), *args, check=check)


def units_by_machine(run: ClusterRun) -> dict[str, list[tuple[str, str, str]]]:
    """list-units as {unit: [(machine legend, active, sub)]}."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for line in fleetctl(run, "list-units", "--no-legend").stdout.splitlines():
        unit, machine, active, sub = line.split()
        out.setdefault(unit, []).append((machine, active, sub))
    return out


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def machines_of(run: ClusterRun) -> dict[str, str]:
    """node name → machine id."""
    return {n["name"]: n["machine_id"] for n in run.status()["nodes"] if n.get("machine_id")}


def test_conflicts_spread_and_global_unit_follows_metadata(fleet):
    fleetctl(fleet, "submit", str(UNITS / "hello@.service"))
    started = fleetctl(fleet, "start", "--block-attempts", "60", *HELLO).stdout
    assert started.count("launched on") == 4, started

    def all_running():
        units = units_by_machine(fleet)
        rows = [units.get(u, [("", "", "")])[0] for u in HELLO]
        return units if all(r[1:] == ("active", "running") for r in rows) else None

    units = wait(all_running, 30, "hello@1..4 active/running")
    machines = [units[u][0][0] for u in HELLO]
    assert len(set(machines)) == 4, machines  # Conflicts=hello@*.service: one per machine

    out = fleetctl(fleet, "start", str(UNITS / "west-monitor.service")).stdout
    assert "Triggered global unit west-monitor.service start" in out
    ids = machines_of(fleet)
    west = {ids["core-02"][:8], ids["core-04"][:8]}

    def on_west():
        rows = units_by_machine(fleet).get("west-monitor.service", [])
        running = {m.split("...")[0] for m, a, s in rows if (a, s) == ("active", "running")}
        return running if running == west else None

    wait(on_west, 30, "west-monitor on exactly the us-west machines")

    journal = fleetctl(fleet, "journal", "--lines", "2", "hello@1.service").stdout
    assert "hello from hello@1.service" in journal


def test_malformed_unit_and_unsatisfiable_constraint_change_nothing(fleet, tmp_path):
    before = fleetctl(fleet, "list-unit-files", "--no-legend").stdout
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nthis line has no equals sign\n")
    proc = fleetctl(fleet, "start", str(bad), check=False)
    assert proc.returncode == 1
    assert f"{bad}:3: expected 'Name=Value'" in proc.stderr

    mars = tmp_path / "mars.service"
    mars.write_text("[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=mars\n")
    proc = fleetctl(fleet, "start", str(mars), check=False)
    assert proc.returncode == 1
    assert "requires MachineMetadata region=mars" in proc.stderr
    assert "nothing was changed" in proc.stderr

    both = tmp_path / "both.service"
    both.write_text("[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\nMachineOf=a.service\n")
    proc = fleetctl(fleet, "submit", str(both), check=False)
    assert proc.returncode == 1 and "Global cannot be used with Peers" in proc.stderr

    assert fleetctl(fleet, "list-unit-files", "--no-legend").stdout == before


def test_lost_machine_moves_its_unit_and_a_new_engine_takes_over(fleet, tmp_path):
    ids = machines_of(fleet)
    node_of = {mid[:8]: name for name, mid in ids.items()}
    hello2 = units_by_machine(fleet)["hello@2.service"][0][0].split("...")[0]
    victim = node_of[hello2]
    fleet.cli("fault", str(fleet.run_dir), "kill", victim)

    def moved():
        units = units_by_machine(fleet)
        rows = units.get("hello@2.service", [])
        ok = [m for m, a, s in rows if (a, s) == ("active", "running") and not m.startswith(hello2)]
        return units if ok else None

    units = wait(moved, 30, f"hello@2 running off {victim}")
    placed = [units[u][0][0] for u in HELLO if u in units]
    assert len(placed) == len(set(placed)), placed  # Conflicts still hold

    lease = json.loads(fleet.cli("etcdctl", str(fleet.run_dir), "get",
                                 "/_coreos.com/fleet/lease/engine-leader").stdout)  # fmt: skip
    old_leader = node_of[lease["MachineID"][:8]]
    if old_leader != victim:
        fleet.cli("fault", str(fleet.run_dir), "kill", old_leader)

    def new_leader():
        nodes = [n for n in fleet.status()["nodes"] if n["state"] == "up"]
        leaders = {n.get("engine_leader") for n in nodes}
        return leaders if len(leaders) == 1 and None not in leaders and \
            lease["MachineID"] not in leaders else None  # fmt: skip

    wait(new_leader, 30, "another engine leader")

    solo = tmp_path / "solo.service"
    solo.write_text("[Service]\nExecStart=/bin/sh -c 'echo solo; sleep 600'\n")
    out = fleetctl(fleet, "start", "--block-attempts", "60", str(solo)).stdout
    assert "Unit solo.service launched on" in out
