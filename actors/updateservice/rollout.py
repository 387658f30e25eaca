"""The update service's rules, pure: publishing and promoting releases, answering Omaha requests.

Theory of operation (after CoreUpdate and Nebraska). A node's Omaha track names its *group*; a
group follows one *channel*; a channel points at its latest *release*. When a node asks for an
update and its group's release is newer than what it runs, the group's *policy* decides:

* ``updates_enabled`` false, or the rollout ``stopped`` by safe mode: no update (on hold);
* at most ``max_updates_per_period`` grants in the group within any ``period``;
* a machine that failed a version is never offered that version again;
* safe mode: one machine of the group updates at a time (from its grant until it reports the new
  version running), and the first failure stops the group's rollout (CoreUpdate/Nebraska);
* a grant still in progress is offered again (the same answer), so a node that restarts its
  download is not counted twice; after ``update_timeout`` it no longer counts as in progress.

Events move the instance along: 13 download started, 14 finished, 3 success (installed; or, sent
from the granted version after the node marked its boot good, complete), 3 with errorcode
(error). A node that rebooted
(new boot id) after installing but still runs the old version rolled back: an error too, even
if it never said so.

Every function takes ``now`` (seconds) and changes only the :class:`ServiceState` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from actors.update.codes import EventResult, EventType
from actors.update.omaha import APP_ID, Event, Package, Request, Response, Update
from actors.updateservice.state import (
    IN_PROGRESS,
    MAX_GRANTS,
    Grant,
    Instance,
    InstanceStatus,
    Release,
    ServiceState,
    StateError,
    check_version,
    newer,
)
from emulator.config.updateservice import CHANNELS

# release → (codebase URL, package): the shell builds and caches the signed payloads
PackageFor = Callable[[Release], tuple[str, Package]]


@dataclass(frozen=True)
class Decision:
    """What the service told an instance and why (for logs and history)."""

    machine_id: str
    group: str
    offered: str | None = None  # version offered in this answer
    new_grant: bool = False  # the offer is a new grant (not a repeat of one in progress)
    reason: str = ""


# --- releases -----------------------------------------------------------------------------------
def publish(
    state: ServiceState,
    channel: str,
    version: str,
    now: float,
    *,
    broken_boot: bool = False,
    bad_signature: bool = False,
    corrupt: bool = False,
) -> Release:
    if channel not in CHANNELS:
        raise StateError(f"unknown channel {channel!r} (channels: {', '.join(CHANNELS)})")
    check_version(version)
    if sum((broken_boot, bad_signature, corrupt)) > 1:
        raise StateError("give at most one of --broken-boot, --bad-signature, --corrupt")
    current = state.release_of(channel)
    if current is not None and not newer(version, current.version):
        raise StateError(
            f"{channel} is at {current.version}; a new release must be newer than that"
        )
    rid = f"{channel}-{version}"
    n = 1
    while rid in state.releases:  # the same version published again elsewhere
        n += 1
        rid = f"{channel}-{version}-{n}"
    release = Release(
        rid, channel, version, f"{rid}-{int(now)}", now, broken_boot, bad_signature, corrupt
    )
    state.releases[rid] = release
    state.channels[channel] = rid
    state.note(now, "release.published", release=rid, channel=channel, version=version,
               faults=release.faults)  # fmt: skip
    return release


def promote(state: ServiceState, source: str, target: str, now: float) -> Release:
    for name in (source, target):
        if name not in CHANNELS:
            raise StateError(f"unknown channel {name!r} (channels: {', '.join(CHANNELS)})")
    if source == target:
        raise StateError("promote from one channel to another")
    release = state.release_of(source)
    if release is None:
        raise StateError(f"{source} has no release to promote")
    current = state.release_of(target)
    if current is not None and not newer(release.version, current.version):
        raise StateError(f"{target} is at {current.version}, not older than {release.version}")
    state.channels[target] = release.id
    state.note(now, "release.promoted", release=release.id, channel=target, source=source)
    return release


def set_policy(state: ServiceState, group: str, now: float, **changes: object) -> None:
    """Change a group's policy; ``resume=True`` restarts a rollout safe mode stopped."""
    g = state.groups.get(group)
    if g is None:
        raise StateError(f"unknown group {group!r} (groups: {', '.join(state.groups)})")
    checks = {
        "updates_enabled": lambda v: isinstance(v, bool),
        "safe_mode": lambda v: isinstance(v, bool),
        "max_updates_per_period": lambda v: isinstance(v, int) and not isinstance(v, bool)
        and v >= 0,
        "period_s": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
        "update_timeout_s": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
        and v > 0,
        "resume": lambda v: v is True,
    }  # fmt: skip
    for key, value in changes.items():
        if key not in checks:
            raise StateError(f"unknown policy field {key!r} (fields: {', '.join(checks)})")
        if not checks[key](value):
            raise StateError(f"bad value {value!r} for {key}")
    for key, value in changes.items():
        if key == "resume":
            g.stopped = None
        else:
            setattr(g, key, value)
    state.note(now, "group.changed", group=group, changes=dict(changes))


# --- Omaha --------------------------------------------------------------------------------------
def handle_request(
    state: ServiceState, req: Request, now: float, package_for: PackageFor
) -> tuple[Response, Decision]:
    if req.app_id.lower() != APP_ID.lower():
        return Response(app_id=req.app_id, app_status="error-unknownApplication"), Decision(
            req.machine_id, req.track, reason=f"unknown application {req.app_id}"
        )
    if not req.machine_id:
        return Response(app_status="error-invalidRequest"), Decision(
            "", req.track, reason="no machine id"
        )
    inst, rebooted = _checked_in(state, req, now)
    for ev in req.events:
        _event(state, inst, ev, req.version, now)
    _reconcile(state, inst, req.version, rebooted, now)
    update_status = update = None
    decision = Decision(inst.machine_id, inst.group)
    if req.update_check:
        update, decision = _update_check(state, inst, now, package_for)
        update_status = "ok" if update is not None else "noupdate"
    response = Response(
        update_status=update_status, update=update, ping=req.ping, event_acks=len(req.events)
    )
    return response, decision


def _checked_in(state: ServiceState, req: Request, now: float) -> tuple[Instance, bool]:
    """The instance, created or refreshed; and whether it rebooted since it last checked in."""
    inst = state.instances.get(req.machine_id)
    if inst is None:
        inst = Instance(req.machine_id, req.track, req.version, first_seen=now)
        state.instances[req.machine_id] = inst
    rebooted = bool(inst.boot_id) and req.boot_id != inst.boot_id
    inst.group, inst.version, inst.boot_id, inst.last_check = (
        req.track, req.version, req.boot_id, now
    )  # fmt: skip
    return inst, rebooted


def _event(state: ServiceState, inst: Instance, ev: Event, version: str, now: float) -> None:
    code = f" errorcode={ev.error_code}" if ev.error_code is not None else ""
    inst.last_event = f"type={ev.type} result={ev.result}{code}"
    inst.last_event_at = now
    if ev.result == EventResult.ERROR:
        _failed(state, inst, ev.error_code, now, f"event {ev.type} error {ev.error_code}")
        return
    if inst.status is InstanceStatus.ERROR:
        return  # a late success report does not undo a failure
    if ev.type == EventType.UPDATE_DOWNLOAD_STARTED:
        inst.status = InstanceStatus.DOWNLOADING
    elif ev.type == EventType.UPDATE_DOWNLOAD_FINISHED:
        inst.status = InstanceStatus.DOWNLOADED
    elif ev.type == EventType.UPDATE_COMPLETE:
        if inst.target_version is not None and version == inst.target_version:
            if inst.status is not InstanceStatus.COMPLETE:
                _completed(state, inst, now)  # rebooted into it, and its boot proved good
        else:
            inst.status = InstanceStatus.INSTALLED


def _reconcile(
    state: ServiceState, inst: Instance, version: str, rebooted: bool, now: float
) -> None:
    """What the reported version says about a grant in progress.

    Running the granted version is not yet success: the update completes with event 3 once the
    node marked its boot good (so safe mode waits for a proven boot). Rebooting back into the old
    version after installing is a failure, even unreported."""
    if inst.status not in IN_PROGRESS or inst.target_version is None:
        return
    if inst.status is InstanceStatus.INSTALLED and rebooted and version != inst.target_version:
        _failed(state, inst, None, now, f"rebooted back into {version}")


def _completed(state: ServiceState, inst: Instance, now: float) -> None:
    inst.status = InstanceStatus.COMPLETE
    inst.updates += 1
    inst.error_code = None
    state.note(now, "instance.complete", machine_id=inst.machine_id, group=inst.group,
               version=inst.target_version)  # fmt: skip


def _failed(state: ServiceState, inst: Instance, code: int | None, now: float, why: str) -> None:
    failed = inst.target_version
    inst.status = InstanceStatus.ERROR
    inst.error_code = code
    if failed is not None:
        inst.failed_version = failed
    state.note(now, "instance.error", machine_id=inst.machine_id, group=inst.group,
               version=failed, error_code=code, why=why)  # fmt: skip
    group = state.groups.get(inst.group)
    if failed is not None and group is not None and group.safe_mode and group.stopped is None:
        group.stopped = f"safe mode: {inst.machine_id[:12]} failed to update to {failed} ({why})"
        state.note(now, "group.stopped", group=group.name, why=group.stopped)


def _updating(
    state: ServiceState, group: str, other_than: str, now: float, timeout: float
) -> list[str]:
    """Machines of ``group`` with a grant in progress (not complete, failed or timed out)."""
    return sorted(
        i.machine_id
        for i in state.instances.values()
        if i.group == group
        and i.machine_id != other_than
        and i.status in IN_PROGRESS
        and i.granted_at is not None
        and now - i.granted_at < timeout
    )


def _update_check(
    state: ServiceState, inst: Instance, now: float, package_for: PackageFor
) -> tuple[Update | None, Decision]:
    def no(reason: str, hold: bool = False) -> tuple[None, Decision]:
        if hold and inst.status not in IN_PROGRESS and inst.status is not InstanceStatus.ERROR:
            inst.status = InstanceStatus.ON_HOLD
        return None, Decision(inst.machine_id, inst.group, reason=reason)

    group = state.groups.get(inst.group)
    if group is None:
        return no(f"unknown group {inst.group!r}")
    release = state.release_of(group.channel)
    if release is None or not newer(release.version, inst.version):
        if inst.status is InstanceStatus.ON_HOLD:
            inst.status = InstanceStatus.UNDEFINED
        return no("up to date")
    if inst.failed_version == release.version:
        return no(f"failed {release.version} before")
    in_progress = (
        inst.status in IN_PROGRESS
        and inst.target_version == release.version
        and inst.granted_at is not None
        and now - inst.granted_at < group.update_timeout_s
    )
    if not in_progress:
        if not group.updates_enabled:
            return no("updates disabled for the group", hold=True)
        if group.stopped:
            return no(group.stopped, hold=True)
        busy = _updating(state, group.name, inst.machine_id, now, group.update_timeout_s)
        if group.safe_mode and busy:
            return no(f"safe mode: one update at a time ({busy[0][:12]} is updating)", hold=True)
        recent = [g for g in state.grants if g.group == group.name and now - g.at < group.period_s]
        if len(recent) >= group.max_updates_per_period:
            return no(
                f"{len(recent)} updates in the last {group.period_s:g}s "
                f"(max {group.max_updates_per_period})",
                hold=True,
            )
        inst.status = InstanceStatus.GRANTED
        inst.target_version, inst.release_id, inst.granted_at = release.version, release.id, now
        inst.error_code = None
        state.grants.append(Grant(group.name, inst.machine_id, release.version, now))
        del state.grants[:-MAX_GRANTS]
        state.note(now, "instance.granted", machine_id=inst.machine_id, group=group.name,
                   version=release.version, release=release.id)  # fmt: skip
    codebase, package = package_for(release)
    update = Update(release.version, (codebase,), package)
    return update, Decision(
        inst.machine_id, inst.group, offered=release.version, new_grant=not in_progress
    )
