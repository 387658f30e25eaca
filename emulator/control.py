"""Control messages: supervisor ↔ node (over the node's peer port) and run.py ↔ supervisor.

Control traffic is never subject to network faults: it is how faults are set and how status is
read. On the peer port it arrives with source ``_supervisor`` and destination actor ``control``.
"""

from __future__ import annotations

from typing import Any

from emulator.disk import DiskFaults
from emulator.netrules import LinkRule
from emulator.nodeclock import ClockFaults
from emulator.wire import message

SUPERVISOR = "_supervisor"
CONTROL_ACTOR = "control"


# --- supervisor → node -------------------------------------------------------------------------
@message("ctl.NodeStatusRequest")
class NodeStatusRequest:
    seq: int


@message("ctl.NodeStatusReply")
class NodeStatusReply:
    seq: int
    status: dict[
        str, Any
    ]  # name, pid, ready, uptime_s, peers, rejected_frames, and per-part sections


@message("ctl.SetLinkRules")
class SetLinkRules:
    version: int
    rules: tuple[LinkRule, ...]


@message("ctl.SetClock")
class SetClock:
    """Clock faults: tick rate factor (1.0 normal, 2.0 a node whose clock runs fast)."""

    rate: float


@message("ctl.SetNodeFaults")
class SetNodeFaults:
    """Disk and clock faults for one node, whole and versioned like the link rules (sent to the
    node's ``faults`` actor, :class:`emulator.nodefaults.NodeFaultPort`)."""

    version: int
    disk: DiskFaults
    clock: ClockFaults


# --- run.py → supervisor ------------------------------------------------------------------------
@message("ctl.ClusterStatusQuery")
class ClusterStatusQuery:
    pass


@message("ctl.ClusterStatus")
class ClusterStatus:
    report: dict[str, Any]


@message("ctl.FaultCommand")
class FaultCommand:
    fault: dict[str, Any]  # the fault mapping, as in a config's faults: entry (no `at`)
    duration_s: float | None
    origin: str = "run.py fault"  # who asked, as history.jsonl records it ("dashboard" ...)


@message("ctl.FaultStarted")
class FaultStarted:
    fault_id: int
    description: str
    nodes: tuple[str, ...]


@message("ctl.Shutdown")
class Shutdown:
    pass


@message("ctl.Ack")
class Ack:
    text: str


@message("ctl.Failure")
class Failure:
    error: str
