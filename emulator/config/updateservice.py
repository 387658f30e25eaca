"""The cluster file's ``update-service:`` section: the run's CoreUpdate-like groups and policies.

::

    update-service:
      payload-size: 65536            # bytes of each release's image payload (default 64 KiB)
      groups:                        # alpha, beta and stable always exist (bound to their channel)
        stable:
          channel: stable
          updates-enabled: true
          max-updates-per-period: 2  # grants per period in this group
          period: 1h
          safe-mode: true            # one machine at a time; the first failure stops the rollout
          update-timeout: 1h         # a grant not completed by then no longer counts as running
        canary: {channel: beta}      # a group of its own: nodes join it with coreos.update.group

A node's ``coreos.update.group`` (the Omaha track) names its group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Kind, ProblemLog, YNode

CHANNELS = ("alpha", "beta", "stable")
DEFAULT_PAYLOAD_SIZE = 64 * 1024
MAX_PAYLOAD_SIZE = 64 * 1024 * 1024
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class GroupPolicy:
    updates_enabled: bool = True
    max_updates_per_period: int = 1000
    period_s: float = 3600.0
    safe_mode: bool = True
    update_timeout_s: float = 3600.0


@dataclass(frozen=True)
class GroupSpec:
    name: str
    channel: str
    policy: GroupPolicy = field(default_factory=GroupPolicy)


def default_groups() -> tuple[GroupSpec, ...]:
    return tuple(GroupSpec(c, c) for c in CHANNELS)


@dataclass(frozen=True)
class UpdateServiceConfig:
    groups: tuple[GroupSpec, ...] = field(default_factory=default_groups)
    payload_size: int = DEFAULT_PAYLOAD_SIZE

    def group(self, name: str) -> GroupSpec | None:
        return next((g for g in self.groups if g.name == name), None)


def read_update_service(node: YNode | None, log: ProblemLog) -> UpdateServiceConfig:
    sec = ys.read_section(
        node,
        {
            "payload-size": lambda n: ys.integer(n, minimum=256, maximum=MAX_PAYLOAD_SIZE),
            "groups": lambda n: n,
        },
        log,
    )
    groups = {g.name: g for g in default_groups()}
    gnode = sec.get("groups")
    if gnode is not None and gnode.kind is not Kind.MAP:
        log.error(gnode, f"expected a mapping of group name → policy, got {gnode.describe()}")
    elif gnode is not None:
        for entry in gnode.entries:
            spec = _group(entry.key, entry, groups.get(entry.key), log)
            if spec is not None:
                groups[spec.name] = spec
    return UpdateServiceConfig(
        tuple(groups.values()), sec.get("payload_size", DEFAULT_PAYLOAD_SIZE)
    )


def _channel(node: YNode) -> str:
    return ys.choice(*CHANNELS)(node)


def _group(name: str, entry: ys.Entry, base: GroupSpec | None, log: ProblemLog) -> GroupSpec | None:
    if not _GROUP.match(name):
        log.error(entry, f"{name!r} is not a group name (letters, digits, '.', '_', '-')")
        return None
    sec = ys.read_section(
        entry.node,
        {
            "channel": _channel,
            "updates-enabled": ys.boolean,
            "max-updates-per-period": lambda n: ys.integer(n, minimum=0),
            "period": ys.seconds,
            "safe-mode": ys.boolean,
            "update-timeout": ys.seconds,
        },
        log,
    )
    channel = sec.get("channel", base.channel if base else None)
    if channel is None:
        log.error(entry, f"group {name!r} needs a channel ({', '.join(CHANNELS)})")
        return None
    d = base.policy if base else GroupPolicy()
    policy = GroupPolicy(
        updates_enabled=sec.get("updates_enabled", d.updates_enabled),
        max_updates_per_period=sec.get("max_updates_per_period", d.max_updates_per_period),
        period_s=sec.get("period", d.period_s),
        safe_mode=sec.get("safe_mode", d.safe_mode),
        update_timeout_s=sec.get("update_timeout", d.update_timeout_s),
    )
    return GroupSpec(name, channel, policy)
