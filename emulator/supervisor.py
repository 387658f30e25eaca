"""The supervisor: one process per run that owns the node processes.

``python -m emulator.supervisor --run-dir DIR`` (started by ``run.py up``, detached). It launches
one node process per node, relaunches a node that exits with the reboot code, polls every node's
status over its peer port, runs the config's fault schedule and the faults ``run.py fault`` sends,
and answers ``run.py`` on a control socket whose address it writes to ``supervisor.json``.
It is single-threaded: one ZeroMQ poll loop with timers.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import zmq

from actors.locksmith.lockwatch import LockWatch
from actors.updateservice.process import UpdateServiceProcess
from emulator import codec
from emulator.config import ConfigErrors, load_cluster_config
from emulator.control import (
    SUPERVISOR,
    Ack,
    ClusterStatus,
    ClusterStatusQuery,
    Failure,
    FaultCommand,
    FaultStarted,
    NodeStatusReply,
    NodeStatusRequest,
    SetLinkRules,
    Shutdown,
)
from emulator.faults import FaultError, parse_fault
from emulator.history import History
from emulator.nemesis import Nemesis
from emulator.nodefaults import NODE_FAULTS_ACTOR, node_faults_behind, node_faults_message
from emulator.nodelog import NodeLog
from emulator.procs import NodeProcess, NodeState
from emulator.rundir import CONFIG_NAME, INFO_NAME
from emulator.wire import WireError, pack, unpack

# Background polling keeps the state column honest; `run.py status` asks the nodes afresh anyway.
# Fault rules are pushed when they change, and a node that missed a push (it was starting or
# paused) reports an older rules version in its next status reply and gets them again.
STATUS_POLL_S = 1.0
STALE_S = 3.0  # a running node that has not answered for this long is shown as not ready
QUERY_WAIT_S = 0.4


class Supervisor:
    def __init__(self, run_dir: Path, seed: int | None = None, dashboard_port: int | None = 0):
        self.run_dir = run_dir
        self.dashboard_port = dashboard_port  # None: no dashboard; 0: any free port
        self.dashboard: Any = None
        self.cfg = load_cluster_config(run_dir / CONFIG_NAME, seed=seed)
        self.log = NodeLog("launcher", run_dir / "supervisor.log").for_actor("supervisor")
        self.history = History(run_dir / "history.jsonl")
        self.update_service = UpdateServiceProcess(self.cfg, run_dir, self.log)
        self.names = [n.name for n in self.cfg.nodes]
        self.procs = {
            n.name: NodeProcess(
                n.name, run_dir / CONFIG_NAME, run_dir / "nodes" / n.name, self.cfg.seed
            )
            for n in self.cfg.nodes
        }
        self.status: dict[str, dict[str, Any]] = {}
        self.status_mono: dict[str, float] = {}
        self.nemesis = Nemesis(
            nodes=self.names,
            procs=self.procs,
            rng=random.Random(self.cfg.seed),
            history=self.history,
            log=self.log,
            roles=self._roles,
            launch=self._launch,
            update_service=self.update_service.set_up,
        )
        self._seq = itertools.count(1)
        self._pending: list[tuple[list[bytes], float]] = []  # status queries waiting for replies
        self._round: tuple[int, set[str]] = (0, set())
        self._running = True
        self.started_mono = time.monotonic()

    # --- sockets -----------------------------------------------------------------------------
    def _open_sockets(self) -> None:
        self.ctx = zmq.Context()
        self.control = self.ctx.socket(zmq.ROUTER)
        self.control.setsockopt(zmq.LINGER, 0)
        port = self.control.bind_to_random_port("tcp://127.0.0.1")
        self.control_endpoint = f"tcp://127.0.0.1:{port}"
        self.dealers: dict[str, zmq.Socket] = {}
        self.poller = zmq.Poller()
        self.poller.register(self.control, zmq.POLLIN)
        for spec in self.cfg.nodes:
            d = self.ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.setsockopt(zmq.IMMEDIATE, 1)
            d.setsockopt(zmq.RECONNECT_IVL, 100)
            d.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
            d.connect(spec.peer_endpoint)
            self.dealers[spec.name] = d
            self.poller.register(d, zmq.POLLIN)

    def _send_node(self, name: str, msg: Any, actor: str = "control") -> None:
        frame = codec.encode(codec.Envelope(SUPERVISOR, actor, msg), self.cfg.token)
        try:
            self.dealers[name].send(frame, zmq.NOBLOCK)
        except zmq.Again:
            pass  # not connected (down or starting): the next poll will try again

    # --- lifecycle ---------------------------------------------------------------------------
    def _launch(self, proc: NodeProcess, rebooting: bool = False) -> None:
        proc.launch(rebooting=rebooting)
        self.status.pop(proc.name, None)
        self.history.record(
            "node", node=proc.name, event="launched", pid=proc.popen.pid, rebooting=rebooting
        )
        self.log("node.launched", target=proc.name, pid=proc.popen.pid)

    def serve(self) -> int:
        self._open_sockets()
        info = {"pid": os.getpid(), "control": self.control_endpoint, "cluster": self.cfg.name}
        tmp = self.run_dir / (INFO_NAME + ".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.run_dir / INFO_NAME)
        self._write_cluster_json()
        self._start_dashboard()
        self.history.record("run", event="start", seed=self.cfg.seed, cluster=self.cfg.name)
        self.log("supervisor.start", run_dir=str(self.run_dir), seed=self.cfg.seed)
        from emulator.discovery import DiscoveryService

        # before the nodes start: a node using discovery asks this service for its role
        self.discovery = DiscoveryService.for_config(self.cfg, self.run_dir, self.log)
        self.update_service.start()  # before the nodes too: update_engine asks it from boot on
        for proc in self.procs.values():
            self._launch(proc)
        self.lockwatch = LockWatch.for_config(self.cfg, self.run_dir)  # "lock" entries in history
        schedule = sorted(
            ((self.started_mono + f.at, i, f) for i, f in enumerate(self.cfg.faults)),
            key=lambda x: x[:2],
        )
        next_poll = 0.0
        while self._running:
            now = time.monotonic()
            while schedule and schedule[0][0] <= now:
                _, _, entry = schedule.pop(0)
                self._start_fault(entry.spec, entry.duration, origin=f"config line {entry.line}")
            self.nemesis.expire(now)
            self._reap()
            if now >= next_poll:
                self._poll_nodes()
                next_poll = now + STATUS_POLL_S
            self._answer_due_queries(now)
            deadlines = [
                next_poll,
                *(f.end_mono for f in self.nemesis.active.values() if f.end_mono),
            ]
            if schedule:
                deadlines.append(schedule[0][0])
            timeout = min(deadlines) - now
            if self._pending:
                timeout = min(timeout, self._pending[0][1] - now)
            for sock, _ in self.poller.poll(max(1, int(timeout * 1000))):
                if sock is self.control:
                    self._handle_control()
                else:
                    self._handle_node_reply(sock)
        self._shutdown()
        return 0

    def _start_dashboard(self) -> None:
        """A web page for the run, in threads of its own that talk to us over the control socket."""
        if self.dashboard_port is None:
            return
        from emulator.dashboard import start_dashboard

        try:
            self.dashboard = start_dashboard(self.run_dir, self.dashboard_port, self.log)
        except OSError as exc:
            self.log("dashboard.failed", level="error", port=self.dashboard_port, error=str(exc))
            return
        self.log("dashboard.start", port=self.dashboard.port)

    def _write_cluster_json(self) -> None:
        nodes = [
            {
                "name": n.name,
                "address": n.address,
                "client_url": n.client_url,
                "peer_url": n.peer_url,
            }
            for n in self.cfg.nodes
        ]
        data = {
            "cluster": self.cfg.name,
            "token": self.cfg.token,
            "seed": self.cfg.seed,
            "nodes": nodes,
            "update_service": self.update_service.url,
        }
        (self.run_dir / "cluster.json").write_text(json.dumps(data, indent=2))

    def _reap(self) -> None:
        for proc in self.procs.values():
            code = proc.poll_exit()
            if code is None:
                continue
            if proc.wants_reboot:
                self.history.record("node", node=proc.name, event="rebooting")
                self.log("node.rebooting", target=proc.name)
                proc.restarts += 1
                self._launch(proc, rebooting=True)
                continue
            proc.state = NodeState.DOWN
            if not proc.expected_exit:
                self.history.record("node", node=proc.name, event="exited", code=code)
                self.log(
                    "node.exited",
                    level="error",
                    target=proc.name,
                    code=code,
                    hint=f"see {proc.data_dir / 'stderr.log'}",
                )

    def _shutdown(self) -> None:
        self.log("supervisor.stopping")
        if self.dashboard is not None:
            self.dashboard.stop()  # open pages show that the run stopped
        if self.discovery is not None:
            self.discovery.stop()  # releases nodes still waiting for discovery
        for proc in self.procs.values():
            proc.expected_exit = True
            if proc.alive:
                proc.signal(signal.SIGCONT)
                proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            if proc.popen is not None:
                try:
                    proc.popen.wait(max(0.1, deadline - time.monotonic()))
                except Exception:
                    proc.kill()
            proc.state = NodeState.DOWN
        self.update_service.stop()
        self.lockwatch.stop()
        self.history.record("run", event="stop")
        self.log("supervisor.stopped")
        self.ctx.destroy(linger=0)
        try:
            (self.run_dir / INFO_NAME).unlink()
        except FileNotFoundError:
            pass

    # --- node status ------------------------------------------------------------------------
    def _poll_nodes(self) -> None:
        seq = next(self._seq)
        self._round = (seq, set())  # who has not answered this round yet
        for name, proc in self.procs.items():
            if proc.alive and proc.state is not NodeState.PAUSED:
                self._send_node(name, NodeStatusRequest(seq))
                self._round[1].add(name)

    def _handle_node_reply(self, sock: zmq.Socket) -> None:
        while True:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                env = codec.decode(frame, self.cfg.token)
            except codec.FrameRejected:
                continue
            if not isinstance(env.message, NodeStatusReply):
                continue
            name = env.source
            proc = self.procs.get(name)
            if proc is None or not proc.alive or env.message.status.get("pid") != proc.pid:
                continue  # an answer from a process that has since gone
            self.status[name] = env.message.status
            self.status_mono[name] = time.monotonic()
            if env.message.status.get("ready") and proc.state in (
                NodeState.STARTING,
                NodeState.REBOOTING,
            ):
                proc.state = NodeState.UP
                self.log("node.up", target=name, pid=proc.pid)
            if (
                proc.state is NodeState.UP
                and env.message.status.get("fault_rules_version", 0) < self.nemesis.rules_version
            ):
                self._send_node(name, SetLinkRules(self.nemesis.rules_version, self.nemesis.rules))
            if proc.state is NodeState.UP and node_faults_behind(env.message.status, self.nemesis):
                self._send_node_faults(name)
            if env.message.seq == self._round[0]:
                self._round[1].discard(name)
                if not self._round[1]:  # everyone answered: no need to wait out QUERY_WAIT_S
                    self._answer_due_queries(float("inf"))

    def _roles(self) -> dict[str, dict[str, Any]]:
        return {
            name: st.get("raft", {})
            for name, st in self.status.items()
            if self.procs[name].state is NodeState.UP
        }

    def _push_rules(self) -> None:
        msg = SetLinkRules(self.nemesis.rules_version, self.nemesis.rules)
        for name, proc in self.procs.items():
            if proc.alive:
                self._send_node(name, msg)
                self._send_node_faults(name)

    def _send_node_faults(self, name: str) -> None:
        self._send_node(name, node_faults_message(self.nemesis, name), NODE_FAULTS_ACTOR)

    def report(self) -> dict[str, Any]:
        now = time.monotonic()
        nodes = []
        for spec in self.cfg.nodes:
            proc = self.procs[spec.name]
            st = self.status.get(spec.name, {}) if proc.alive else {}
            fresh = now - self.status_mono.get(spec.name, 0) <= STALE_S
            state = proc.state
            entry: dict[str, Any] = {
                "name": spec.name,
                "address": spec.address,
                "pid": proc.pid,
                "state": state.value,
                "uptime_s": round(now - proc.started_mono, 1) if proc.alive else None,
                "peers": st.get("peers", {}) if state is NodeState.UP and fresh else {},
                "rejected_frames": st.get("rejected_frames", 0),
                "restarts": proc.restarts,
                "last_exit": proc.last_exit,
            }
            for key, value in st.items():
                if key not in entry and key not in (
                    "name",
                    "pid",
                    "ready",
                    "uptime_s",
                    "transport",
                ):
                    entry[key] = value
            nodes.append(entry)
        return {
            "cluster": self.cfg.name,
            "run_dir": str(self.run_dir),
            "seed": self.cfg.seed,
            "supervisor_pid": os.getpid(),
            "active_faults": [
                {
                    "id": f.id,
                    "fault": f.spec.describe(),
                    "nodes": list(f.nodes),
                    "ends_in_s": round(f.end_mono - now, 1) if f.end_mono else None,
                }
                for f in self.nemesis.active.values()
            ],
            "link_rules": [dataclasses.asdict(r) for r in self.nemesis.rules],
            "dashboard": self.dashboard.url if self.dashboard is not None else None,
            "update_service": self.update_service.report(),
            "nodes": nodes,
        }

    # --- run.py requests --------------------------------------------------------------------
    def _handle_control(self) -> None:
        while True:
            try:
                parts = self.control.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) < 2:
                continue
            route, body = parts[:-1], parts[-1]
            try:
                msg = unpack(body)
            except WireError as exc:
                self._reply(route, Failure(f"bad request: {exc}"))
                continue
            if isinstance(msg, ClusterStatusQuery):
                self._poll_nodes()
                self._pending.append((route, time.monotonic() + QUERY_WAIT_S))
            elif isinstance(msg, FaultCommand):
                self._reply(route, self._fault_command(msg))
            elif isinstance(msg, Shutdown):
                self._running = False
                self._reply(route, Ack("stopping"))
            else:
                self._reply(route, Failure(f"unknown request {type(msg).__name__}"))

    def _answer_due_queries(self, now: float) -> None:
        while self._pending and self._pending[0][1] <= now:
            route, _ = self._pending.pop(0)
            self._reply(route, ClusterStatus(self.report()))

    def _reply(self, route: list[bytes], msg: Any) -> None:
        self.control.send_multipart([*route, pack(msg)])

    def _fault_command(self, cmd: FaultCommand) -> Any:
        try:
            spec = parse_fault(cmd.fault, self.names)
            fault = self._start_fault(spec, cmd.duration_s, origin=cmd.origin, raise_errors=True)
        except FaultError as exc:
            return Failure(str(exc))
        return FaultStarted(fault.id, spec.describe(), fault.nodes)

    def _start_fault(self, spec, duration, origin: str, raise_errors: bool = False):
        try:
            fault = self.nemesis.start(spec, duration, time.monotonic(), origin)
        except FaultError as exc:
            self.log(
                "fault.failed",
                level="warning",
                fault=spec.describe(),
                error=str(exc),
                origin=origin,
            )
            if raise_errors:
                raise
            return None
        self._push_rules()
        return fault


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emulator.supervisor")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--dashboard-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--no-dashboard", action="store_true")
    args = parser.parse_args(argv)
    try:
        sup = Supervisor(
            Path(args.run_dir).resolve(),
            seed=args.seed,
            dashboard_port=None if args.no_dashboard else args.dashboard_port,
        )
    except ConfigErrors as exc:
        print(exc, file=sys.stderr)
        return 2

    def stop(*_: Any) -> None:
        sup._running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return sup.serve()


if __name__ == "__main__":
    sys.exit(main())
