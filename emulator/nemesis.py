"""Starting and ending faults on a live cluster (the supervisor's side of the fault vocabulary).

Network faults become link rules pushed to every node; process faults are real signals to node
processes; disk and clock faults become one versioned state per node (:mod:`emulator.nodefaults`),
except ``disk-corrupt`` and ``kill --lose-unsynced``, which act on the node's files here. Selectors (``random``, ``leader`` ...) are resolved when the fault starts, with the
run's seeded RNG, so the same seed makes the same choices. Every start and end is written to the
run's history and log.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.disk import corrupt_synced, lose_unsynced
from emulator.faults import NODE_KINDS, FaultError, FaultKind, FaultSpec
from emulator.history import History
from emulator.netrules import LinkRule, compile_fault, merge_rules
from emulator.nodefaults import NodeFaultState, compile_node_faults
from emulator.nodelog import ActorLog
from emulator.procs import NodeProcess, NodeState


@dataclass
class ActiveFault:
    id: int
    spec: FaultSpec
    nodes: tuple[str, ...]
    rules: tuple[LinkRule, ...]
    end_mono: float | None


class Nemesis:
    def __init__(
        self,
        *,
        nodes: Sequence[str],
        procs: dict[str, NodeProcess],
        rng: random.Random,
        history: History,
        log: ActorLog,
        roles: Callable[[], dict[str, dict[str, Any]]],
        launch: Callable[[NodeProcess], None],
        update_service: Callable[[bool], None] | None = None,
    ):
        self.nodes = tuple(nodes)
        self.procs = procs
        self.rng = rng
        self.history = history
        self.log = log
        self._roles = roles  # name -> {"role": ..., "term": ...} from the latest node status
        self._launch = launch
        self._update_service = update_service  # (up: bool) -> None, the run's update service
        self.active: dict[int, ActiveFault] = {}
        self.rules_version = 0
        self.rules: tuple[LinkRule, ...] = ()
        self.node_faults: dict[str, NodeFaultState] = {}  # disk/clock state per affected node
        self.node_faults_version = 0
        self._next_id = 1

    # --- selectors -------------------------------------------------------------------------
    def resolve(self, selector: str) -> list[str]:
        if selector in self.nodes:
            return [selector]
        if selector == "all":
            return list(self.nodes)
        if selector == "random":
            return [self.rng.choice(self.nodes)]
        roles = self._roles()
        leaders = sorted(
            (info.get("term", 0), name)
            for name, info in roles.items()
            if info.get("role") == "leader"
        )
        if selector == "leader":
            if not leaders:
                raise FaultError(None, "no leader known right now (is etcd running and elected?)")
            return [leaders[-1][1]]
        if selector == "random-follower":
            followers = [n for n, info in sorted(roles.items()) if info.get("role") == "follower"]
            if not followers:
                raise FaultError(None, "no follower known right now")
            return [self.rng.choice(followers)]
        if selector in ("minority", "majority"):
            size = (
                (len(self.nodes) - 1) // 2 if selector == "minority" else len(self.nodes) // 2 + 1
            )
            return sorted(self.rng.sample(self.nodes, size))
        raise FaultError(None, f"unknown node or selector {selector!r}")

    def _resolve_many(self, names: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for name in names:
            out.extend(n for n in self.resolve(name) if n not in out)
        return tuple(out)

    # --- start / end -----------------------------------------------------------------------
    def start(
        self, spec: FaultSpec, duration: float | None, now: float, origin: str
    ) -> ActiveFault:
        """Start a fault; raises FaultError (nothing changed) when a selector can't resolve."""
        fid = self._next_id
        rules: tuple[LinkRule, ...] = ()
        nodes: tuple[str, ...] = ()
        if spec.kind is FaultKind.CLEAR:
            self.clear(now, origin)
            nodes = self.nodes
        elif spec.is_network:
            rules = compile_fault(spec, self.nodes, self.rng, self.resolve)
            nodes = tuple(sorted({r.src for r in rules} | {r.dst for r in rules}))
        else:
            nodes = self._resolve_many(spec.targets)
        self._next_id += 1
        fault = ActiveFault(fid, spec, nodes, rules, now + duration if duration else None)
        self.history.record(
            "fault",
            phase="start",
            id=fid,
            kind=spec.kind.value,
            fault=spec.describe(),
            nodes=list(nodes),
            duration_s=duration,
            origin=origin,
        )
        self.log("fault.start", id=fid, fault=spec.describe(), nodes=list(nodes), origin=origin)
        if spec.is_network:
            self.active[fid] = fault
            self._rebuild_rules()
        elif spec.kind is FaultKind.DISK_CORRUPT:
            self._corrupt(nodes)
            if duration:
                self.active[fid] = fault
        elif spec.kind in NODE_KINDS:
            self.active[fid] = fault
            self._rebuild_node_faults()
        elif spec.kind is FaultKind.UPDATE_SERVICE:
            self._service(spec.mode == "up")
            if duration and spec.mode == "down":
                self.active[fid] = fault
        elif spec.kind is not FaultKind.CLEAR:
            self._process_fault(spec.kind, nodes, lose=bool(spec.extra.get("lose_unsynced")))
            if duration:
                self.active[fid] = fault
        return fault

    def end(self, fid: int, now: float, reason: str = "duration over") -> None:
        fault = self.active.pop(fid, None)
        if fault is None:
            return
        if fault.spec.is_network:
            self._rebuild_rules()
        elif fault.spec.kind in NODE_KINDS:
            self._rebuild_node_faults()
        elif fault.spec.kind is FaultKind.UPDATE_SERVICE:
            self._service(True)
        else:
            undo = {
                FaultKind.KILL: FaultKind.RESTART,
                FaultKind.STOP: FaultKind.RESTART,
                FaultKind.PAUSE: FaultKind.RESUME,
            }.get(fault.spec.kind)
            if undo:
                self._process_fault(undo, fault.nodes, only_down=True)
        self.history.record(
            "fault",
            phase="end",
            id=fid,
            kind=fault.spec.kind.value,
            fault=fault.spec.describe(),
            nodes=list(fault.nodes),
            reason=reason,
        )
        self.log("fault.end", id=fid, fault=fault.spec.describe(), reason=reason)

    def expire(self, now: float) -> None:
        for fid, fault in list(self.active.items()):
            if fault.end_mono is not None and fault.end_mono <= now:
                self.end(fid, now)

    def clear(self, now: float, origin: str) -> None:
        """Heal everything: end every active fault, resume paused nodes, start stopped ones."""
        for fid in list(self.active):
            self.end(fid, now, reason="clear")
        self._process_fault(FaultKind.RESUME, self.nodes, only_down=True)
        self._process_fault(FaultKind.RESTART, self.nodes, only_down=True)
        self._service(True)

    def _service(self, up: bool) -> None:
        if self._update_service is not None:
            self._update_service(up)

    def _rebuild_rules(self) -> None:
        self.rules = merge_rules(f.rules for f in self.active.values())
        self.rules_version += 1

    def _rebuild_node_faults(self) -> None:
        self.node_faults = compile_node_faults(
            (f.spec, f.nodes) for f in self.active.values() if f.spec.kind in NODE_KINDS
        )
        self.node_faults_version += 1

    # --- faults on a node's files ------------------------------------------------------------
    def _corrupt(self, nodes: Sequence[str]) -> None:
        for name in nodes:
            hit = corrupt_synced(self.procs[name].data_dir, self.rng)
            if hit is None:
                self.log.warning("disk.corrupt_nothing", target=name, reason="no synced WAL yet")
                continue
            self.history.record(
                "node", node=name, event="disk_corrupted", file=hit[0], offset=hit[1]
            )
            self.log("disk.corrupted", target=name, file=hit[0], offset=hit[1])

    def _lose_unsynced(self, name: str) -> None:
        cuts = lose_unsynced(self.procs[name].data_dir, self.rng)
        lost = [
            {"file": c.file, "synced": c.synced, "size": c.size_before, "cut_at": c.size_after}
            for c in cuts
        ]
        self.history.record("node", node=name, event="lost_unsynced", files=lost)
        self.log("node.lost_unsynced", target=name, files=lost)

    # --- process faults --------------------------------------------------------------------
    def _process_fault(
        self, kind: FaultKind, nodes: Sequence[str], only_down: bool = False, lose: bool = False
    ) -> None:
        for name in nodes:
            proc = self.procs[name]
            if kind is FaultKind.KILL:
                proc.kill()  # waits for the process to be gone: nothing writes behind the cut
                self._node_event(name, "killed")
                if lose:
                    self._lose_unsynced(name)
            elif kind is FaultKind.STOP:
                proc.terminate()
                self._node_event(name, "stopped")
            elif kind is FaultKind.PAUSE and proc.alive and proc.state is not NodeState.PAUSED:
                proc.signal(signal.SIGSTOP)
                proc.state = NodeState.PAUSED
                self._node_event(name, "paused")
            elif kind is FaultKind.RESUME and proc.state is NodeState.PAUSED:
                proc.signal(signal.SIGCONT)
                proc.state = NodeState.UP
                self._node_event(name, "resumed")
            elif kind is FaultKind.RESTART:
                if only_down and proc.alive:
                    continue
                if proc.alive:
                    proc.terminate()
                self._launch(proc)
                self._node_event(name, "restarted")

    def _node_event(self, name: str, event: str) -> None:
        self.history.record("node", node=name, event=event)
        self.log(f"node.{event}", target=name)
