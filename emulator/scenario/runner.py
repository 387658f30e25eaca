"""Running a scenario against a live cluster: up, load, faults, heal, final reads, down, check.

The runner is the thin shell around the pure parts (scenario reading, schedule resolution,
checkers): it brings the cluster up with :mod:`emulator.launcher` (detached, so the cluster is
an ordinary run dir), drives the client threads, sends the nemesis's faults to the supervisor's
control socket as ``run.py fault`` does, samples the cluster's status into ``status.jsonl`` (and
leader changes into the history), always brings the cluster down, then checks and reports.
Each phase is a registered step kind (:mod:`.steps`); this module only offers them a context.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from emulator import launcher, rundir
from emulator.checkers.rundata import LEFTOVER_JSON, SCENARIO_JSON, STATUS_JSONL
from emulator.control import ClusterStatus, ClusterStatusQuery, Failure, FaultCommand, FaultStarted
from emulator.scenario.historylog import HistoryAppender
from emulator.scenario.model import Scenario
from emulator.scenario.progress import Progress
from emulator.scenario.schedule import resolve
from emulator.scenario.steps import STEP_KINDS
from emulator.scenario.workload import Clients
from emulator.supervisor_client import SupervisorUnavailable, request

UNSAFE_READS_ENV = "COREEMU_UNSAFE_READS"
STATUS_EVERY_S = 0.5
FAULT_RETRY_S = 3.0  # a fault naming `leader` waits this long for one to be known


class ScenarioRun:
    """One run of a scenario; implements the step context (:class:`.steps.StepContext`)."""

    def __init__(self, scenario: Scenario, run: Path, progress: Progress, unsafe_reads: bool):
        self.scenario = scenario
        self.seed = scenario.seed
        self.run = run
        self.progress = progress
        self.unsafe_reads = unsafe_reads
        self.rng = random.Random(scenario.seed)
        self.history = HistoryAppender(run / "history.jsonl")
        self.clients = Clients(scenario.workload, dict(scenario.client_urls), scenario.seed,
                               self.history.record)  # fmt: skip
        self.deadline = time.monotonic() + scenario.time_limit
        self.notes: list[str] = []
        self._status_file = open(run / STATUS_JSONL, "a", buffering=1, encoding="utf-8")
        self._stop = threading.Event()
        self._last_report: dict[str, Any] | None = None
        self._leaders: dict[str, Any] = {}
        self._poller = threading.Thread(target=self._poll_status, name="status", daemon=True)

    # --- the step context -------------------------------------------------------------------
    def set_phase(self, name: str) -> None:
        self.progress.phase = name
        self.history.record("phase", name=name)

    def wait(self, seconds: float) -> bool:
        end = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < end:
            self.progress.update(self.clients.counts, self._last_report)
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))
        return time.monotonic() < self.deadline

    def fault(self, fault: dict[str, Any], duration: float | None) -> bool:
        give_up = time.monotonic() + FAULT_RETRY_S
        while True:
            try:
                reply = request(self.run, FaultCommand(fault, duration))
            except SupervisorUnavailable as exc:
                self.note(f"fault {fault}: {exc}")
                return False
            if isinstance(reply, FaultStarted):
                self.progress.event(f"fault #{reply.fault_id}: {reply.description} "
                                    f"on {', '.join(reply.nodes)}")  # fmt: skip
                return True
            error = reply.error if isinstance(reply, Failure) else repr(reply)
            if time.monotonic() >= give_up:
                self.note(f"fault {fault} not started: {error}")
                self.history.record("nemesis", event="fault-not-started", fault=fault, error=error)
                return False
            time.sleep(0.2)

    def heal(self) -> None:
        self.fault({"clear": True}, None)

    def run_nemesis(self, seconds: float) -> None:
        start = time.monotonic()
        for item in resolve(self.scenario.nemesis, seconds, self.rng):
            if not self.wait(start + item.at - time.monotonic()):
                return
            self.fault(dict(item.fault), item.duration)
        self.wait(start + seconds - time.monotonic())

    def status(self) -> dict[str, Any] | None:
        return self._last_report

    def stop_workload(self) -> None:
        self.clients.stop()

    def final_reads(self, timeout: float) -> None:
        values = self.clients.final_reads(timeout, self.rng)
        missing = self.scenario.workload.keys - len(values)
        if missing:
            self.note(f"final reads: {missing} key(s) never answered")

    def urls(self) -> dict[str, str]:
        return dict(self.scenario.client_urls)

    def record(self, type_: str, **fields: Any) -> None:
        self.history.record(type_, **fields)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress.event(text)

    # --- status sampling --------------------------------------------------------------------
    def _poll_status(self) -> None:
        while not self._stop.wait(STATUS_EVERY_S):
            try:
                reply = request(self.run, ClusterStatusQuery(), timeout=3)
            except SupervisorUnavailable:
                continue
            if not isinstance(reply, ClusterStatus):
                continue
            self._last_report = reply.report
            self._sample(reply.report)

    def _sample(self, report: dict[str, Any]) -> None:
        nodes = {
            n["name"]: {"state": n.get("state"), "role": n.get("role"), "term": n.get("term"),
                        "leader": n.get("leader"), "pid": n.get("pid"),
                        "version": n.get("version")}
            for n in report.get("nodes", [])
        }  # fmt: skip
        faults = [f["fault"] for f in report.get("active_faults", [])]
        sample = {"ts": time.time(), "mono": time.monotonic(), "nodes": nodes, "faults": faults}
        self._status_file.write(json.dumps(sample, separators=(",", ":")) + "\n")
        leaders = sorted(
            ((i.get("term") or 0, name) for name, i in nodes.items() if i["role"] == "leader"
             and i["state"] == "up"), reverse=True,
        )  # fmt: skip
        leader = {"leader": leaders[0][1], "term": leaders[0][0]} if leaders else {"leader": None}
        if leader != self._leaders:
            self._leaders = leader
            self.history.record("leader", **leader)

    # --- the whole run ----------------------------------------------------------------------
    def execute(self) -> None:
        self.history.record("scenario", event="start", scenario=self.scenario.name,
                            seed=self.seed, unsafe_reads=self.unsafe_reads)  # fmt: skip
        self._poller.start()
        self.clients.start()
        try:
            for step in self.scenario.steps:
                if time.monotonic() >= self.deadline:
                    self.note(f"time limit of {self.scenario.time_limit:g}s reached")
                    break
                self.history.record("step", kind=step.kind, text=step.text)
                STEP_KINDS[step.kind].run(self, step.params)
        finally:
            self.clients.stop()
            self.history.record("scenario", event="end", ops=dict(self.clients.counts))
            self._stop.set()
            self._poller.join(5)
            self._status_file.close()


def start_cluster(scenario: Scenario, unsafe_reads: bool) -> Path | None:
    """``run.py up -d`` with the scenario's cluster; the run dir, or None (it printed why)."""
    env_before = os.environ.get(UNSAFE_READS_ENV)
    if unsafe_reads:
        os.environ[UNSAFE_READS_ENV] = "1"  # the supervisor and nodes inherit it
    else:
        os.environ.pop(UNSAFE_READS_ENV, None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{scenario.cluster_name}.yaml"
            path.write_text(scenario.cluster_text, encoding="utf-8")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = launcher.up(str(path), detach=True, seed=scenario.seed, timeout=60)
            if code != 0:
                print(out.getvalue())
                return None
    finally:
        if env_before is None:
            os.environ.pop(UNSAFE_READS_ENV, None)
        else:
            os.environ[UNSAFE_READS_ENV] = env_before
    return rundir.resolve_run(scenario.cluster_name)


def stop_cluster(run: Path) -> list[int]:
    """``run.py down``, then which of the run's processes still exist (written for the checker)."""
    with contextlib.redirect_stdout(io.StringIO()):
        launcher.down(run)
    left = launcher.node_pids(run)
    (run / LEFTOVER_JSON).write_text(json.dumps({"pids": left}))
    return left


def write_scenario_files(scenario: Scenario, run: Path, unsafe_reads: bool) -> None:
    (run / "scenario.yaml").write_text(scenario.raw_text, encoding="utf-8")
    data = scenario.to_json()
    data["unsafe_reads"] = unsafe_reads
    (run / SCENARIO_JSON).write_text(json.dumps(data, indent=2))
