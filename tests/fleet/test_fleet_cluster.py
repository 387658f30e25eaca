"""fleet on a real 5-node cluster, driven with ``run.py fleetctl`` as a user drives it.

One cluster serves the tests of this module (they run in file order): placement by Conflicts and
MachineMetadata, stop and destroy, refusals that change nothing, then losing machines — the one
running hello@2, then the engine leader. Waiting polls fleet's API v1 (what ``curl`` would see);
the commands under test go through ``run.py fleetctl``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest
from cluster_harness import REPO, ClusterRun, emulator_pids, write_config

pytestmark = pytest.mark.cluster

FLEET = """\
cloud-config: |
  #cloud-config
  coreos:
    fleet:
      metadata: "region=us-east"
      agent-ttl: 5s
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
  core-05:
    cloud-config:
      coreos:
        fleet: {disable-engine: true}
"""
UNITS = REPO / "configs" / "units"
HELLO = [f"hello@{i}.service" for i in range(1, 5)]


class Fleet:
    """The cluster, and fleet's API on whichever of its nodes still answers."""

    def __init__(self, run: ClusterRun):
        self.run = run
        nodes = json.loads((run.run_dir / "cluster.json").read_text())["nodes"]
        self.address = {n["name"]: n["address"] for n in nodes}
        self.machine = {
            name: (run.run_dir / "nodes" / name / "etc" / "machine-id").read_text().strip()
            for name in self.address
        }
        self.node_of = {mid: name for name, mid in self.machine.items()}
        self.down: set[str] = set()

    def fleetctl(self, *args: str, check: bool = True):
        return self.run.cli("fleetctl", str(self.run.run_dir), *args, check=check)

    def kill(self, node: str) -> None:
        self.run.cli("fault", str(self.run.run_dir), "kill", node)
        self.down.add(node)

    def api(self, path: str):
        errors = []
        for name, address in self.address.items():
            if name in self.down:
                continue
            try:
                url = f"http://{address}:49153/fleet/v1/{path}"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    return json.loads(resp.read() or b"{}")
            except OSError as exc:
                errors.append(f"{name}: {exc}")
        raise AssertionError(f"no fleet API answered: {errors}")

    def states(self) -> dict[str, list[tuple[str, str, str]]]:
        """{unit: [(node, active, sub)]} from /fleet/v1/state."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for st in self.api("state").get("states", []):
            node = self.node_of.get(st["machineID"], st["machineID"])
            out.setdefault(st["name"], []).append(
                (node, st["systemdActiveState"], st["systemdSubState"])
            )
        return out

    def running_on(self, unit: str) -> set[str]:
        return {n for n, a, s in self.states().get(unit, []) if (a, s) == ("active", "running")}

    def leader(self) -> str | None:
        url = (
            f"http://{self.address[self._up()]}:2379/v2/keys/_coreos.com/fleet/lease/engine-leader"
        )
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return self.node_of.get(
                    json.loads(json.loads(resp.read())["node"]["value"])["MachineID"]
                )
        except OSError:
            return None

    def _up(self) -> str:
        return next(n for n in self.address if n not in self.down)


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    run = ClusterRun(tmp, write_config(tmp, nodes=5, extra=FLEET, name="fleet"))
    try:
        run.up()
        f = Fleet(run)
        wait(lambda: len(f.api("machines").get("machines", [])) == 5, 30, "5 fleet machines")
        yield f
    finally:
        run.down()
        deadline = time.monotonic() + 10
        while emulator_pids(str(tmp)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = emulator_pids(str(tmp))
        for pid in left:
            os.kill(pid, 9)
        assert not left, f"processes left behind: {left}"


def test_conflicts_spread_and_global_unit_follows_metadata(fleet):
    fleet.fleetctl("submit", str(UNITS / "hello@.service"))
    started = fleet.fleetctl("start", "--block-attempts", "60", *HELLO).stdout
    assert started.count("launched on") == 4, started
    placed = wait(lambda: [fleet.running_on(u) for u in HELLO] if all(
        len(fleet.running_on(u)) == 1 for u in HELLO) else None, 30, "hello@1..4 running")  # fmt: skip
    machines = [m for nodes in placed for m in nodes]
    assert len(set(machines)) == 4, machines  # Conflicts=hello@*.service: one per machine

    listing = fleet.fleetctl("list-units").stdout
    assert listing.splitlines()[0].split() == ["UNIT", "MACHINE", "ACTIVE", "SUB"]
    row = next(r for r in listing.splitlines() if r.startswith("hello@1.service")).split()
    node = next(iter(placed[0]))
    assert row[1] == f"{fleet.machine[node][:8]}.../{fleet.address[node]}"
    assert row[2:] == ["active", "running"]

    out = fleet.fleetctl("start", str(UNITS / "west-monitor.service")).stdout
    assert "Triggered global unit west-monitor.service start" in out
    wait(lambda: fleet.running_on("west-monitor.service") == {"core-02", "core-04"}, 30,
         "west-monitor on exactly the us-west machines")  # fmt: skip

    # the unit's output reaches its journal on its own, after "running" may already show
    wait(lambda: "hello from hello@1.service" in fleet.fleetctl(
        "journal", "--lines", "2", "hello@1.service").stdout, 30, "hello@1's line in its journal")  # fmt: skip


def test_the_talks_apache_unit_answers_on_port_80(fleet):
    talk = REPO.parent / "shared" / "talk" / "apache@.service"
    if talk.exists():  # shipped byte for byte
        assert (UNITS / "apache@.service").read_bytes() == talk.read_bytes()
    fleet.fleetctl("submit", str(UNITS / "apache@.service"))
    out = fleet.fleetctl("start", "--block-attempts", "90", "apache@1", "apache@2").stdout
    assert out.count("launched on") == 2, out
    apaches = ("apache@1.service", "apache@2.service")
    nodes = wait(lambda: (lambda ns: ns if len(ns) == 2 else None)(
        [n for u in apaches for n in fleet.running_on(u)]), 60, "apache@1 and @2 running")  # fmt: skip
    assert len(set(nodes)) == 2  # Conflicts=apache@*.service
    for node in nodes:
        page = wait(lambda n=node: _get(f"http://{fleet.address[n]}/"), 30, f"port 80 on {node}")
        assert f"coreos/apache on {node}" in page


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.read().decode()
    except OSError:
        return None


def test_stop_ends_the_process_and_destroy_removes_the_unit(fleet):
    status = fleet.fleetctl("status", "hello@1.service").stdout
    pid = int(status.split("Main PID: ")[1].split()[0])
    assert os.path.exists(f"/proc/{pid}")
    out = fleet.fleetctl("stop", "--block-attempts", "60", "hello@1.service").stdout
    assert "Unit hello@1.service loaded on" in out
    wait(lambda: not os.path.exists(f"/proc/{pid}"), 20, f"hello@1's process {pid} to end")
    assert fleet.fleetctl("destroy", "hello@1.service").stdout == "Destroyed hello@1.service\n"
    units = [u["name"] for u in fleet.api("units").get("units", [])]
    assert "hello@1.service" not in units and "hello@2.service" in units


def test_malformed_unit_and_unsatisfiable_constraint_change_nothing(fleet, tmp_path):
    before = fleet.api("units")
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nthis line has no equals sign\n")
    proc = fleet.fleetctl("start", str(bad), check=False)
    assert proc.returncode == 1
    assert f"{bad}:3: expected 'Name=Value'" in proc.stderr

    mars = tmp_path / "mars.service"
    mars.write_text("[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineMetadata=region=mars\n")
    proc = fleet.fleetctl("start", str(mars), check=False)
    assert proc.returncode == 1
    assert "requires MachineMetadata region=mars" in proc.stderr
    assert "nothing was changed" in proc.stderr

    both = tmp_path / "both.service"
    both.write_text("[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\nMachineOf=a.service\n")
    proc = fleet.fleetctl("submit", str(both), check=False)
    assert proc.returncode == 1 and "Global cannot be used with Peers" in proc.stderr

    assert fleet.api("units") == before


def test_lost_machine_moves_its_unit_and_a_new_engine_takes_over(fleet, tmp_path):
    (victim,) = fleet.running_on("hello@2.service")
    fleet.kill(victim)
    (moved,) = wait(lambda: fleet.running_on("hello@2.service") - {victim}, 30,
                    f"hello@2 running off {victim}")  # fmt: skip
    placed = [n for u in HELLO for n in fleet.running_on(u)]
    assert len(placed) == len(set(placed)), placed  # Conflicts still hold

    old = wait(fleet.leader, 10, "an engine leader")
    if old != victim:
        fleet.kill(old)
    new = wait(lambda: (lambda n: n if n not in (None, old) else None)(fleet.leader()), 30,
               "another engine leader")  # fmt: skip
    assert new != "core-05"  # disable-engine: core-05 never leads

    solo = tmp_path / "solo.service"
    solo.write_text("[Service]\nExecStart=/bin/sh -c 'echo solo; sleep 600'\n")
    out = fleet.fleetctl("start", "--block-attempts", "60", str(solo)).stdout
    assert "Unit solo.service launched on" in out
