"""The update service's data: channels, releases, groups with their policy, instances.

Plain dataclasses with a JSON form (``to_json``/``from_json``) so the service can write its state
to the run dir after each change and a restarted service carries on where it stopped. The rules
that change this data are in :mod:`actors.updateservice.rollout`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from emulator.config.updateservice import CHANNELS, GroupPolicy, UpdateServiceConfig

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,3}([-+][0-9A-Za-z.]{1,20})?$")
MAX_GRANTS = 2000  # grant records kept for max-updates-per-period (the oldest are dropped)
MAX_EVENTS = 200  # recent service events kept for the status page


class StateError(ValueError):
    """A request the service refuses (bad version, unknown channel ...); nothing changed."""


class InstanceStatus(str, Enum):
    UNDEFINED = "undefined"  # checked in, nothing granted (or up to date)
    GRANTED = "update-granted"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    INSTALLED = "installed"  # waiting for its reboot
    COMPLETE = "complete"  # rebooted into the granted version
    ERROR = "error"
    ON_HOLD = "on-hold"  # wants the release, the group's policy holds it back


IN_PROGRESS = frozenset(
    {
        InstanceStatus.GRANTED,
        InstanceStatus.DOWNLOADING,
        InstanceStatus.DOWNLOADED,
        InstanceStatus.INSTALLED,
    }
)


def check_version(text: str) -> str:
    if not _VERSION.match(text) or len(text) > 32:
        raise StateError(f"{text!r} is not a version like 1.1.0 (digits and dots, up to 32 bytes)")
    return text


def version_key(text: str) -> tuple[tuple[int, ...], str]:
    """Order versions numerically: 1.10.0 > 1.9.2; a suffix sorts after none (1.2.0-rc1 < …)."""
    m = re.match(r"^([0-9.]+)(.*)$", text)
    nums = tuple(int(p) for p in m.group(1).split(".") if p) if m else ()
    suffix = m.group(2) if m else text
    return nums, "~" if not suffix else suffix  # "~" sorts after any suffix text


def newer(candidate: str, current: str) -> bool:
    return version_key(candidate) > version_key(current)


@dataclass
class Release:
    id: str  # "stable-1.1.0" (a number appended if republished)
    channel: str  # where it was published (its image says so)
    version: str
    build_id: str
    published_at: float
    broken_boot: bool = False
    bad_signature: bool = False
    corrupt: bool = False

    @property
    def faults(self) -> list[str]:
        names = ("broken_boot", "bad_signature", "corrupt")
        return [n.replace("_", "-") for n in names if getattr(self, n)]


@dataclass
class Group:
    name: str
    channel: str
    updates_enabled: bool = True
    max_updates_per_period: int = 1000
    period_s: float = 3600.0
    safe_mode: bool = True
    update_timeout_s: float = 3600.0
    stopped: str | None = None  # why safe mode stopped the rollout; None: rolling

    @classmethod
    def from_policy(cls, name: str, channel: str, policy: GroupPolicy) -> Group:
        return cls(name, channel, **asdict(policy))


@dataclass
class Instance:
    machine_id: str
    group: str
    version: str
    boot_id: str = ""
    status: InstanceStatus = InstanceStatus.UNDEFINED
    first_seen: float = 0.0
    last_check: float = 0.0
    last_event: str = ""
    last_event_at: float = 0.0
    target_version: str | None = None  # the version granted
    release_id: str | None = None
    granted_at: float | None = None
    error_code: int | None = None
    failed_version: str | None = None  # never offered again to this machine
    updates: int = 0  # completed updates


@dataclass
class Grant:
    group: str
    machine_id: str
    version: str
    at: float


@dataclass
class ServiceState:
    channels: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(CHANNELS))
    releases: dict[str, Release] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: UpdateServiceConfig) -> ServiceState:
        state = cls()
        state.apply_config(cfg)
        return state

    def apply_config(self, cfg: UpdateServiceConfig) -> None:
        """Groups from the config; a group already known keeps its state (stopped, changes)."""
        for spec in cfg.groups:
            if spec.name not in self.groups:
                self.groups[spec.name] = Group.from_policy(spec.name, spec.channel, spec.policy)

    def release_of(self, channel: str) -> Release | None:
        rid = self.channels.get(channel)
        return self.releases.get(rid) if rid else None

    @property
    def last_seq(self) -> int:
        return self.events[-1]["seq"] if self.events else 0

    def note(self, now: float, kind: str, **fields_: Any) -> dict[str, Any]:
        """Remember a service event (numbered, so the shell can pass on each one once)."""
        entry = {"seq": self.last_seq + 1, "at": now, "event": kind, **fields_}
        self.events.append(entry)
        del self.events[:-MAX_EVENTS]
        return entry

    # --- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "channels": dict(self.channels),
            "releases": {k: asdict(v) for k, v in self.releases.items()},
            "groups": {k: asdict(v) for k, v in self.groups.items()},
            "instances": {
                k: {**asdict(v), "status": v.status.value} for k, v in self.instances.items()
            },
            "grants": [asdict(g) for g in self.grants],
            "events": list(self.events),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceState:
        """Raises StateError for a document this code did not write."""
        try:
            if data.get("format") != 1:
                raise StateError(f"unknown state format {data.get('format')!r}")
            state = cls(channels={c: None for c in CHANNELS} | dict(data["channels"]))
            state.releases = {k: _make(Release, v) for k, v in data["releases"].items()}
            state.groups = {k: _make(Group, v) for k, v in data["groups"].items()}
            for k, v in data["instances"].items():
                inst = _make(Instance, v)
                inst.status = InstanceStatus(v["status"])
                state.instances[k] = inst
            state.grants = [_make(Grant, g) for g in data["grants"]]
            state.events = list(data.get("events", []))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"not an update service state: {exc}") from None
        return state


def _make(kind: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in values.items() if k in names})
