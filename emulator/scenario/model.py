"""What a scenario file says, as plain frozen values (read by :mod:`.reader`, run by :mod:`.runner`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OP_KINDS = ("read", "write", "cas")


@dataclass(frozen=True)
class Workload:
    keys: int = 5
    clients: int = 10
    rate: float = 100.0  # ops per second, all clients together
    mix: Mapping[str, float] = field(
        default_factory=lambda: {"read": 0.5, "write": 0.3, "cas": 0.2}
    )
    nodes: tuple[str, ...] = ("all",)  # where ops are sent: node names or all/random
    timeout: float = 1.5  # seconds before an op is given up as indeterminate (info)
    quorum_reads: bool = True
    prefix: str = "/scenario"  # keys are <prefix>/k0 ... k<N-1>


@dataclass(frozen=True)
class TimedFault:
    """One fault of a nemesis schedule, ``at`` seconds into its phase, for ``duration``."""

    at: float
    fault: Mapping[str, Any]  # a fault mapping in the vocabulary of emulator.faults
    duration: float | None
    line: int | None = None


@dataclass(frozen=True)
class Nemesis:
    """Faults every ``interval`` (each lasting ``duration``), picked from ``faults``, or ``at``."""

    faults: tuple[Mapping[str, Any], ...] = ()
    interval: float | None = None
    duration: float | None = None
    first: float | None = None  # the first fault's start (default: one interval in)
    pick: str = "cycle"  # cycle | random
    at: tuple[TimedFault, ...] = ()


@dataclass(frozen=True)
class Step:
    """One phase of the scenario: a registered step kind and what its reader made of the args."""

    kind: str
    params: Any
    line: int | None
    text: str  # how the file wrote it, for progress and the report


@dataclass(frozen=True)
class Scenario:
    name: str
    source: Path
    raw_text: str
    cluster_text: str  # the cluster file the run starts with
    cluster_name: str
    node_names: tuple[str, ...]
    seed: int
    time_limit: float
    workload: Workload
    nemesis: Nemesis
    steps: tuple[Step, ...]
    checkers: tuple[str, ...]
    check_time_limit: float = 30.0
    client_urls: Mapping[str, str] = field(default_factory=dict)  # node -> etcd client URL

    def to_json(self) -> dict[str, Any]:
        w = self.workload
        return {
            "scenario": self.name,
            "source": str(self.source),
            "cluster": self.cluster_name,
            "nodes": list(self.node_names),
            "seed": self.seed,
            "time_limit_s": self.time_limit,
            "workload": {
                "keys": [f"{w.prefix}/k{i}" for i in range(w.keys)],
                "clients": w.clients,
                "rate": w.rate,
                "mix": dict(w.mix),
                "nodes": list(w.nodes),
                "timeout_s": w.timeout,
                "quorum_reads": w.quorum_reads,
            },
            "steps": [s.text for s in self.steps],
            "checkers": list(self.checkers),
            "check_time_limit_s": self.check_time_limit,
        }
