"""A stand-in for fleet's registry in unit tests of the client and API rules (no etcd)."""

from __future__ import annotations

from actors.fleet import records as r
from actors.fleet.registry import JobRecord, Snapshot

OPTS = [{"section": "Service", "name": "ExecStart", "value": "/bin/true"}]


class FakeRegistry:
    """The registry's writes recorded on a snapshot (a stand-in for etcd in this unit test)."""

    def __init__(self):
        self.snap = Snapshot()
        self.writes = []

    def snapshot(self):
        return self.snap

    def create_unit(self, name, unit, target_state=r.INACTIVE):
        h = r.unit_hash(unit)
        self.snap.units[h] = unit
        self.snap.jobs[name] = JobRecord(name, h, target_state)
        self.writes.append(("create", name, target_state))

    def set_target_state(self, name, state):
        old = self.snap.jobs[name]
        self.snap.jobs[name] = JobRecord(name, old.unit_hash, state, old.target, old.heartbeat)
        self.writes.append(("target-state", name, state))

    def destroy_unit(self, name):
        self.writes.append(("destroy", name))
        return self.snap.jobs.pop(name, None) is not None

    def set_machine_metadata(self, machine_id, key, value):
        self.writes.append(("metadata", machine_id, key, value))
