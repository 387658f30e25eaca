"""fleet's registry over etcd's v2 HTTP API: one snapshot read, and the writes fleet makes.

:func:`decode_tree` is pure: the answer of one recursive GET of ``/_coreos.com/fleet`` turned into
a :class:`Snapshot` (machines, unit files, jobs, unit states, the engine lease). :class:`Registry`
does the I/O through the project's :class:`~emulator.etcdctl_client.V2Client`, with the same
conditions fleet's registry uses (prevExist, prevValue, prevIndex, TTLs), so etcd's answers —
including its failures — reach fleet as they would on a real machine.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from actors.fleet import records as r
from actors.fleet.records import MachineState, UnitState
from actors.unitfile import UnitFile, UnitFileError, parse_unit
from emulator.etcdctl_client import EtcdError, V2Client

KEY_NOT_FOUND, TEST_FAILED, NODE_EXIST = 100, 101, 105


@dataclass(frozen=True)
class JobRecord:
    name: str
    unit_hash: str
    target_state: str = r.INACTIVE
    target: str = ""  # scheduled machine
    heartbeat: str = ""  # job-state: the machine that launched it

    def current_state(self, states: dict[tuple[str, str], UnitState]) -> str:
        """fleet's ``determineJobState``: inactive, loaded (state reported), launched."""
        if not self.target or (self.name, self.target) not in states:
            return r.INACTIVE
        return r.LAUNCHED if self.heartbeat == self.target else r.LOADED


@dataclass(frozen=True)
class Lease:
    machine_id: str
    version: int
    index: int
    ttl: int


@dataclass
class Snapshot:
    index: int = 0
    machines: dict[str, MachineState] = field(default_factory=dict)
    units: dict[str, UnitFile] = field(default_factory=dict)  # hash → unit file
    jobs: dict[str, JobRecord] = field(default_factory=dict)  # name → job (sorted by name)
    states: dict[tuple[str, str], UnitState] = field(default_factory=dict)  # (name, machine)
    lease: Lease | None = None
    engine_version: int = 0
    problems: list[str] = field(default_factory=list)  # records that could not be read

    def unit_of(self, name: str) -> UnitFile | None:
        job = self.jobs.get(name)
        return None if job is None else self.units.get(job.unit_hash)


def _children(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["key"].rsplit("/", 1)[-1]: n for n in node.get("nodes") or []}


def decode_tree(root: dict[str, Any], index: int = 0) -> Snapshot:
    """The node of ``GET /_coreos.com/fleet?recursive=true`` → a :class:`Snapshot`."""
    snap = Snapshot(index=index)
    top = _children(root)
    for mid, mdir in sorted(_children(top.get("machines", {})).items()):
        leaves = _children(mdir)
        if "object" not in leaves:
            continue
        try:
            ms = MachineState.from_go(json.loads(leaves["object"].get("value", "")))
        except (ValueError, AttributeError) as exc:
            snap.problems.append(f"machines/{mid}/object: {exc}")
            continue
        dynamic = {k: n.get("value", "") for k, n in _children(leaves.get("metadata", {})).items()}
        if dynamic:  # fleet's mergeMetadata: "" deletes a key
            merged = {**ms.metadata, **dynamic}
            ms = MachineState(
                ms.id, ms.public_ip, {k: v for k, v in merged.items() if v}, ms.version
            )
        if ms.id:
            snap.machines[ms.id] = ms
    for h, node in _children(top.get("unit", {})).items():
        try:
            snap.units[h] = parse_unit(
                json.loads(node.get("value", ""))["Raw"], f"unit/{h}", keep_continuations=True
            )
        except (ValueError, KeyError, TypeError, UnitFileError) as exc:
            snap.problems.append(f"unit/{h}: {exc}")
    for name, jdir in sorted(_children(top.get("job", {})).items()):
        leaves = _children(jdir)
        if "object" not in leaves:
            continue
        try:
            _, unit_hash = r.decode_job(leaves["object"].get("value", ""))
        except (ValueError, KeyError, TypeError) as exc:
            snap.problems.append(f"job/{name}/object: {exc}")
            continue
        ts = leaves.get("target-state", {}).get("value", "")
        snap.jobs[name] = JobRecord(
            name=name,
            unit_hash=unit_hash,
            target_state=ts if ts in r.JOB_STATES else r.INACTIVE,
            target=leaves.get("target", {}).get("value", ""),
            heartbeat=leaves.get("job-state", {}).get("value", ""),
        )
    for name, sdir in _children(top.get("states", {})).items():
        for mid, node in _children(sdir).items():
            try:
                snap.states[(name, mid)] = UnitState.decode(name, mid, node.get("value", ""))
            except (ValueError, AttributeError) as exc:
                snap.problems.append(f"states/{name}/{mid}: {exc}")
    lease = _children(top.get("lease", {})).get(r.ENGINE_LEASE)
    if lease is not None:
        mid, version = r.decode_lease(lease.get("value", ""))
        snap.lease = Lease(
            mid, version, int(lease.get("modifiedIndex", 0)), int(lease.get("ttl", 0))
        )
    version = _children(top.get("engine", {})).get("version")
    if version is not None:
        try:
            snap.engine_version = int(version.get("value", "0"))
        except ValueError:
            snap.problems.append("engine/version: not a number")
    return snap


def ttl_seconds(seconds: float) -> int:
    """etcd v2 TTLs are whole seconds; never round a short TTL down to none."""
    return max(1, math.ceil(seconds))


class Registry:
    """fleet's reads and writes, each one etcd v2 request (blocking: call from your own thread)."""

    def __init__(self, client: V2Client):
        self.client = client

    def snapshot(self) -> Snapshot:
        try:
            resp = self.client.get(r.PREFIX, recursive=True, sort=True)
        except EtcdError as exc:
            if exc.code == KEY_NOT_FOUND:
                return Snapshot(index=exc.index)
            raise
        return decode_tree(resp.node, resp.index)

    # --- machines -------------------------------------------------------------------------
    def heartbeat_machine(self, ms: MachineState, ttl: float) -> None:
        key, value = r.machine_key(ms.id), ms.encode()
        try:
            self.client.set(key, value, ttl=ttl_seconds(ttl), prev_exist=True)
        except EtcdError as exc:
            if exc.code != KEY_NOT_FOUND:
                raise
            self.client.set(key, value, ttl=ttl_seconds(ttl), prev_exist=False)

    def set_machine_metadata(self, machine_id: str, key: str, value: str) -> None:
        """Dynamic metadata (``machines/<id>/metadata/<key>``); "" removes the key."""
        self.client.set(f"{r.PREFIX}/machines/{machine_id}/metadata/{key}", value)

    def remove_machine(self, machine_id: str) -> None:
        self._delete(r.machine_key(machine_id))

    # --- units and jobs -------------------------------------------------------------------
    def create_unit(self, name: str, unit: UnitFile, target_state: str = r.INACTIVE) -> str:
        """Store the unit file (content-addressed) and its job; returns the unit hash."""
        unit_hash = r.unit_hash(unit)
        try:
            self.client.set(r.unit_key(unit_hash), r.encode_unit(unit), prev_exist=False)
        except EtcdError as exc:
            if exc.code != NODE_EXIST:  # the same unit file is already stored
                raise
        self.client.set(r.job_key(name, "object"), r.encode_job(name, unit_hash))
        self.set_target_state(name, target_state)
        return unit_hash

    def set_target_state(self, name: str, state: str) -> None:
        self.client.set(r.job_key(name, "target-state"), state)

    def destroy_unit(self, name: str) -> bool:
        """Remove the job (the unit file stays, as in fleet); False when there was none."""
        return self._delete(r.job_key(name), recursive=True)

    def schedule(self, name: str, machine_id: str) -> None:
        self.client.set(r.job_key(name, "target"), machine_id, prev_exist=False)

    def unschedule(self, name: str, machine_id: str) -> None:
        try:
            self.client.delete(r.job_key(name, "target"), prev_value=machine_id)
        except EtcdError as exc:
            if exc.code != KEY_NOT_FOUND:
                raise

    def job_heartbeat(self, name: str, machine_id: str, ttl: float) -> None:
        self.client.set(r.job_key(name, "job-state"), machine_id, ttl=ttl_seconds(ttl))

    def clear_job_heartbeat(self, name: str, machine_id: str) -> None:
        try:
            self.client.delete(r.job_key(name, "job-state"), prev_value=machine_id)
        except EtcdError as exc:
            if exc.code not in (KEY_NOT_FOUND, TEST_FAILED):
                raise

    # --- unit states ----------------------------------------------------------------------
    def save_state(self, state: UnitState, machine: MachineState, ttl: float) -> None:
        value = state.encode(machine)
        self.client.set(r.legacy_state_key(state.name), value, ttl=ttl_seconds(ttl))
        self.client.set(r.state_key(state.name, state.machine_id), value, ttl=ttl_seconds(ttl))

    def remove_state(self, name: str, machine_id: str) -> None:
        self._delete(r.state_key(name, machine_id))

    # --- engine lease and version ---------------------------------------------------------
    def ensure_engine_version(self, have: int) -> bool:
        """Bring ``engine/version`` up to ours; False when the cluster runs a newer engine."""
        if have > r.ENGINE_VERSION:
            return False
        if have < r.ENGINE_VERSION:
            try:
                if have:
                    self.client.set(r.ENGINE_VERSION_KEY, "1", prev_value=str(have))
                else:
                    self.client.set(r.ENGINE_VERSION_KEY, "1", prev_exist=False)
            except EtcdError as exc:
                if exc.code not in (TEST_FAILED, NODE_EXIST):
                    raise
        return True

    def get_lease(self) -> Lease | None:
        try:
            resp = self.client.get(r.lease_key())
        except EtcdError as exc:
            if exc.code == KEY_NOT_FOUND:
                return None
            raise
        return self._lease(resp.node)

    def acquire_lease(self, machine_id: str, ttl: float) -> Lease | None:
        try:
            resp = self.client.set(
                r.lease_key(), r.encode_lease(machine_id), ttl=ttl_seconds(ttl), prev_exist=False
            )
        except EtcdError as exc:
            if exc.code == NODE_EXIST:
                return None
            raise
        return self._lease(resp.node)

    def renew_lease(self, lease: Lease, ttl: float) -> Lease | None:
        """None when the lease changed hands (or expired) since ``lease``."""
        try:
            resp = self.client.set(
                r.lease_key(),
                r.encode_lease(lease.machine_id, lease.version),
                ttl=ttl_seconds(ttl),
                prev_index=lease.index,
            )
        except EtcdError as exc:
            if exc.code in (KEY_NOT_FOUND, TEST_FAILED):
                return None
            raise
        return self._lease(resp.node)

    def release_lease(self, lease: Lease) -> None:
        try:
            self.client.delete(r.lease_key(), prev_index=lease.index)
        except EtcdError as exc:
            if exc.code not in (KEY_NOT_FOUND, TEST_FAILED):
                raise

    @staticmethod
    def _lease(node: dict[str, Any]) -> Lease:
        mid, version = r.decode_lease(node.get("value", ""))
        return Lease(mid, version, int(node.get("modifiedIndex", 0)), int(node.get("ttl", 0)))

    def _delete(self, key: str, recursive: bool = False) -> bool:
        try:
            self.client.delete(key, recursive=recursive)
        except EtcdError as exc:
            if exc.code == KEY_NOT_FOUND:
                return False
            raise
        return True
