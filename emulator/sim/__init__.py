"""Deterministic simulation of Raft cores: a seeded network, crashes, and safety checks.

``emulator.simulator`` is the command line; :class:`Simulation` runs one seed.
"""

from emulator.sim.checker import SafetyChecker, SimulationFailure
from emulator.sim.network import NetworkConditions, SimNetwork
from emulator.sim.node import SimNode, SimStorage
from emulator.sim.scenario import SimOptions, SimResult, Simulation
from emulator.sim.statemachine import (
    EtcdStateMachine,
    KvStateMachine,
    MachineKind,
    StateMachine,
)
from emulator.sim.workload import EtcdWorkload, KvWorkload, Workload

__all__ = [
    "EtcdStateMachine",
    "EtcdWorkload",
    "KvStateMachine",
    "KvWorkload",
    "MachineKind",
    "NetworkConditions",
    "SafetyChecker",
    "SimNetwork",
    "SimNode",
    "SimOptions",
    "SimResult",
    "SimStorage",
    "Simulation",
    "SimulationFailure",
    "StateMachine",
    "Workload",
]
