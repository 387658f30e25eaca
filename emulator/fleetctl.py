"""``run.py fleetctl [RUN] [--endpoint NODE_OR_URL] <command>``: fleetctl for a run.

Like fleetctl's etcd driver (``--driver=etcd``): it reads and writes fleet's registry in the run's
etcd (every node's client URL, or ``--endpoint``) with the checks fleet's API makes, and prints
what fleetctl prints. ``journal`` and ``status`` — SSH to the machine in real fleetctl — ask the
fleet API of the node that runs the unit (``/coreemu/v1/...``). Exit codes: 0 ok, 1 an error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from actors.fleet.api import API_PORT, PORT_OFFSET_SHIFT
from actors.fleet.client import FleetClient, FleetError
from actors.fleet.records import INACTIVE, LAUNCHED, LOADED, unit_text
from actors.fleet.registry import Registry
from emulator.etcdctl import EndpointError, resolve_endpoints
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError, V2Client, http_request
from emulator.fleetctl_format import (
    DEFAULT_FIELDS,
    MACHINE_FIELDS,
    STATE_FIELDS,
    UNIT_FILE_FIELDS,
    is_global,
    machine_full_legend,
    systemctl_status,
    tab_table,
)
from emulator.fleetctl_units import UnitSource, check_schedulable, unit_name_mangle
from emulator.rundir import RunNotFound, resolve_run

COMMANDS = (
    "submit", "load", "start", "stop", "unload", "destroy", "cat", "status", "journal",
    "list-units", "list-unit-files", "list-machines",
)  # fmt: skip
POLL_S = 0.5  # one wait attempt: how often fleetctl looks at the unit's state again


class Failed(Exception):
    """fleetctl's error: printed on stderr, exit 1."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        dest="fleetctl_endpoint",
        metavar="NODE_OR_URL",
        help="etcd endpoint(s): a node name of the run or a URL (default: every node of the run)",
    )
    parser.add_argument(
        "fleetctl_argv",
        nargs=argparse.REMAINDER,
        metavar="[RUN] COMMAND ...",
        help="run dir or cluster name (default: latest), then one of: " + ", ".join(COMMANDS),
    )


def run(args: argparse.Namespace) -> int:
    return main(list(args.fleetctl_argv), args.fleetctl_endpoint, sys.stdout, sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py fleetctl")
    parser.add_argument("--endpoint", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in ("submit", "load", "start", "stop", "unload", "destroy"):
        p = sub.add_parser(name, help=f"{name} one or more units")
        p.add_argument("units", nargs="+", metavar="UNIT")
        if name in ("load", "start", "stop", "unload", "destroy"):
            p.add_argument("--no-block", action="store_true", help="do not wait for the state")
            p.add_argument("--block-attempts", type=int, default=0, metavar="N",
                           help="give up waiting after N attempts (0: never)")  # fmt: skip
        if name in ("submit", "load", "start"):
            p.add_argument("--replace", action="store_true", help="replace a changed unit")
    p = sub.add_parser("cat", help="print a unit file")
    p.add_argument("units", nargs=1, metavar="UNIT")
    p = sub.add_parser("status", help="systemd's status of units, from their machines")
    p.add_argument("units", nargs="+", metavar="UNIT")
    p = sub.add_parser("journal", help="print a unit's journal")
    p.add_argument("units", nargs=1, metavar="UNIT")
    p.add_argument("--lines", type=int, default=10)
    p.add_argument("-f", "--follow", action="store_true")
    for name in ("list-units", "list-unit-files", "list-machines"):
        p = sub.add_parser(name, help=f"fleetctl {name}")
        p.add_argument("-l", "--full", action="store_true", help="do not ellipsize fields")
        p.add_argument("--no-legend", action="store_true", help="no column headers")
        p.add_argument("--fields", default=DEFAULT_FIELDS[name])
    return parser


def main(argv: list[str], endpoint: str | None, out: TextIO, err: TextIO) -> int:
    run_arg = None
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        run_arg, argv = argv[0], argv[1:]
    try:
        ns = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    try:
        urls = resolve_endpoints(getattr(ns, "endpoint", None) or endpoint, run_arg)
    except EndpointError as exc:
        err.write(f"fleetctl: {exc}\n")
        return 1
    cmd = Command(FleetClient(Registry(V2Client(urls))), run_arg, out, err)
    try:
        return getattr(cmd, ns.command.replace("-", "_"))(ns)
    except Failed as exc:
        err.write(f"{exc}\n")
        return 1
    except ClusterError as exc:
        err.write(f"Error: etcd cluster unreachable: {exc}\n")
        return 1
    except (EtcdError, ClientError) as exc:
        err.write(f"Error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 0


class Command:
    def __init__(self, client: FleetClient, run_arg: str | None, out: TextIO, err: TextIO):
        self.client = client
        self.run_arg = run_arg
        self.out, self.err = out, err

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def warn(self, text: str) -> None:
        self.err.write(text + "\n")

    # --- submit / load / start ------------------------------------------------------------
    def _create(self, ns: argparse.Namespace) -> list[str]:
        """Submit every named unit not yet in the registry (all checked before any write)."""
        snap = self.client.snapshot()
        source = UnitSource(snap, self.warn)
        plans = []
        for arg in ns.units:
            try:
                plans.append(source.plan(arg, replace=getattr(ns, "replace", False)))
            except FleetError as exc:
                raise Failed(f"Error creating units: {exc.message}") from None
        want = {"load": LOADED, "start": LAUNCHED}.get(ns.command)
        if want is not None:
            problem = check_schedulable(plans, snap)
            if problem:
                raise Failed(f"Error creating units: {problem}; nothing was changed")
        created = []
        for plan in plans:
            if plan.unit is not None:
                for warning in self.client.create_unit(plan.name, plan.unit):
                    self.warn(f"WARNING: Unit {plan.name}: {warning}")
                created.append(plan.name)
        if self._wait(created, INACTIVE, 0):  # as fleetctl: each new unit reported inactive
            raise Failed("Error creating units: One or more errors creating units")
        return [p.name for p in plans]

    def submit(self, ns: argparse.Namespace) -> int:
        self._create(ns)
        return 0

    def load(self, ns: argparse.Namespace) -> int:
        return self._set_and_wait(self._create(ns), LOADED, ns, "load")

    def start(self, ns: argparse.Namespace) -> int:
        return self._set_and_wait(self._create(ns), LAUNCHED, ns, "start")

    def stop(self, ns: argparse.Namespace) -> int:
        units = self._existing(ns.units)
        names = []
        for u in units:
            if u.get("desiredState") == INACTIVE and not is_global(u):
                self.warn(f"Unable to stop unit {u['name']} in state {INACTIVE}")
                continue
            names.append(u["name"])
        return self._set_and_wait(names, LOADED, ns, "stop")

    def unload(self, ns: argparse.Namespace) -> int:
        names = [u["name"] for u in self._existing(ns.units)]
        return self._set_and_wait(names, INACTIVE, ns, "unload")

    def destroy(self, ns: argparse.Namespace) -> int:
        for u in self._existing(ns.units):
            try:
                self.client.destroy_unit(u["name"])
            except FleetError as exc:
                raise Failed(f"Error destroying units: {exc.message}") from None
            self.say(f"Destroyed {u['name']}")
        return 0

    def _existing(self, args: list[str]) -> list[dict[str, Any]]:
        snap = self.client.snapshot()
        units = [u for a in args if (u := self.client.unit(unit_name_mangle(a), snap))]
        if not units:
            raise Failed("Units not found in registry")
        return units

    def _set_and_wait(self, names: list[str], state: str, ns: argparse.Namespace, verb: str) -> int:
        snap = self.client.snapshot()
        triggered, waiting = [], []
        for name in names:
            u = self.client.unit(name, snap)
            if u is None:
                raise Failed(f"Error: unable to find unit {name}")
            if u.get("desiredState") == state:
                continue  # already asked for: fleetctl neither sets nor waits
            try:
                self.client.set_target_state(name, state)
            except FleetError as exc:
                doing = {"start": "starting", "load": "loading", "stop": "stopping"}
                raise Failed(
                    f"Error {doing.get(verb, verb + 'ing')} units: {exc.message}"
                ) from None
            triggered.append(u)
        for u in triggered:
            if is_global(u):
                self.say(f"Triggered global unit {u['name']} {verb}")
            else:
                waiting.append(u["name"])
        if ns.no_block:
            for name in waiting:
                self.say(f"Triggered unit {name} {verb}")
            return 0
        return self._wait(waiting, state, ns.block_attempts)

    def _wait(self, names: list[str], state: str, attempts: int) -> int:
        """Poll until each unit reports ``state`` (fleetctl's checkUnitState); 0 attempts: forever."""
        pending, tries = list(names), 0
        while pending:
            snap = self.client.snapshot()
            machines = {m["id"]: m for m in self.client.machines(snap)}
            for name in list(pending):
                u = self.client.unit(name, snap)
                if u is None:
                    continue
                # a global unit has no current state: fleetctl waits for its desired state
                key = "desiredState" if is_global(u) else "currentState"
                if u.get(key, "") == state:
                    msg = f"Unit {name} {u.get('currentState', '')}"
                    if u.get("machineID") in machines:
                        msg += f" on {machine_full_legend(u['machineID'], machines, False)}"
                    self.say(msg)
                    pending.remove(name)
            tries += 1
            if pending and attempts and tries >= attempts:
                for name in pending:
                    self.warn(f"Error waiting for units: timed out waiting for unit {name} "
                              f"to report state {state}")  # fmt: skip
                return 1
            if pending:
                time.sleep(POLL_S)
        return 0

    # --- cat / status / journal -----------------------------------------------------------
    def cat(self, ns: argparse.Namespace) -> int:
        name = unit_name_mangle(ns.units[0])
        snap = self.client.snapshot()
        unit = snap.unit_of(name)
        if unit is None:
            raise Failed(f"Unit {name} not found")
        self.out.write(unit_text(unit))
        return 0

    def _machines_of(self, name: str, journal: bool) -> list[str]:
        """The machines whose systemd runs ``name`` (every one for a global unit's status)."""
        u = self.client.unit(name)
        if u is None:
            raise Failed(f"Unit {name} does not exist.")
        if is_global(u):
            if journal:
                raise Failed(f"Unable to retrieve journal of global unit {name}.")
            return [st["machineID"] for st in self.client.unit_states(unit_name=name)]
        if not u.get("machineID") or u.get("currentState") == INACTIVE:
            word = "running" if journal else "loaded"
            raise Failed(f"Unit {name} does not appear to be {word}.")
        return [u["machineID"]]

    def _get(self, url: str) -> dict[str, Any]:
        try:
            reply = http_request(url)
        except OSError as exc:
            raise Failed(f"Error: the unit's machine is unreachable ({url}): {exc}") from None
        body = json.loads(reply.body or b"{}")
        if reply.status != 200:
            msg = (body.get("error") or {}).get("message") or f"HTTP {reply.status}"
            raise Failed(f"Error: {msg}")
        return body

    def status(self, ns: argparse.Namespace) -> int:
        first = True
        for arg in ns.units:
            name = unit_name_mangle(arg)
            for mid in self._machines_of(name, journal=False):
                base = node_api_url(self.run_arg, mid)
                st = self._get(f"{base}/coreemu/v1/status/{name}")
                journal = self._get(f"{base}/coreemu/v1/journal/{name}?lines=10")["lines"]
                if not first:
                    self.say("")
                first = False
                self.out.write(systemctl_status(name, st, journal))
        return 0

    def journal(self, ns: argparse.Namespace) -> int:
        name = unit_name_mangle(ns.units[0])
        base = node_api_url(self.run_arg, self._machines_of(name, journal=True)[0])
        lines = self._get(f"{base}/coreemu/v1/journal/{name}?lines={max(ns.lines, 0)}")["lines"]
        for line in lines:
            self.say(line)
        if not ns.follow:
            return 0
        seen = self._get(f"{base}/coreemu/v1/journal/{name}")["lines"]
        while True:  # -f: until Ctrl-C
            time.sleep(POLL_S)
            now = self._get(f"{base}/coreemu/v1/journal/{name}")["lines"]
            for line in now[len(seen) :]:
                self.say(line)
            seen = now

    # --- lists ----------------------------------------------------------------------------
    def _table(self, ns: argparse.Namespace, fields: dict, items: list, machines: dict) -> int:
        cols = [c for c in ns.fields.split(",")] if ns.fields else []
        if not cols:
            raise Failed("Must define output format")
        for c in cols:
            if c not in fields:
                raise Failed(f"Invalid key in output format: {c!r}")
        rows = [] if ns.no_legend else [[c.upper() for c in cols]]
        rows += [[fields[c](item, machines, ns.full) for c in cols] for item in items]
        self.out.write(tab_table(rows))
        return 0

    def list_machines(self, ns: argparse.Namespace) -> int:
        machines = self.client.machines()
        return self._table(ns, MACHINE_FIELDS, machines, {})

    def list_units(self, ns: argparse.Namespace) -> int:
        snap = self.client.snapshot()
        machines = {m["id"]: m for m in self.client.machines(snap)}
        return self._table(ns, STATE_FIELDS, self.client.unit_states(snap), machines)

    def list_unit_files(self, ns: argparse.Namespace) -> int:
        snap = self.client.snapshot()
        machines = {m["id"]: m for m in self.client.machines(snap)}
        return self._table(ns, UNIT_FILE_FIELDS, self.client.units(snap), machines)


def node_api_url(run_arg: str | None, machine_id: str) -> str:
    """The fleet API of the run's node whose /etc/machine-id is ``machine_id``."""
    try:
        run_dir = resolve_run(run_arg)
        nodes = json.loads((run_dir / "cluster.json").read_text())["nodes"]
    except (RunNotFound, OSError, ValueError, KeyError) as exc:
        raise Failed(f"Error: cannot find the run's nodes: {exc}") from None
    for n in nodes:
        mid_file = Path(run_dir) / "nodes" / n["name"] / "etc" / "machine-id"
        try:
            if mid_file.read_text().strip() != machine_id:
                continue
        except OSError:
            continue
        address = n.get("address") or "127.0.0.1"
        port = API_PORT
        if address == "127.0.0.1":
            port = int(n["client_url"].rsplit(":", 1)[1]) + PORT_OFFSET_SHIFT
        return f"http://{address}:{port}"
    raise Failed(f"Error: no node of this run has machine id {machine_id}")


if __name__ == "__main__":
    _p = argparse.ArgumentParser(prog="fleetctl")
    configure(_p)
    sys.exit(run(_p.parse_args()))
