"""The cloud-config model: what a CoreOS machine reads at boot, as frozen dataclasses.

Key names mirror coreos-cloudinit (``config/*.go``) with hyphens turned to underscores; defaults
are CoreOS's. :mod:`.cloudconfig` reads a located YAML tree into these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from emulator.config.coreosformats import (
    decode_content,
    go_duration,
    parse_initial_cluster,
    window_start,
)


class RebootStrategy(str, Enum):
    ETCD_LOCK = "etcd-lock"
    REBOOT = "reboot"
    OFF = "off"
    BEST_EFFORT = "best-effort"  # CoreOS's default: etcd-lock if etcd is configured, else reboot


class ProxyMode(str, Enum):
    OFF = "off"
    ON = "on"
    READONLY = "readonly"


class ClusterState(str, Enum):
    NEW = "new"
    EXISTING = "existing"


class UnitCommand(str, Enum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    RELOAD = "reload"
    TRY_RESTART = "try-restart"
    RELOAD_OR_RESTART = "reload-or-restart"
    RELOAD_OR_TRY_RESTART = "reload-or-try-restart"


def _values(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(m.value for m in enum)


@dataclass(frozen=True)
class Etcd2Options:
    name: str | None = None
    discovery: str | None = None
    initial_cluster: str | None = None  # "core-01=http://127.0.10.1:2380,core-02=…"
    initial_cluster_token: str | None = None
    initial_cluster_state: ClusterState = ClusterState.NEW
    advertise_client_urls: tuple[str, ...] = ()
    initial_advertise_peer_urls: tuple[str, ...] = ()
    listen_client_urls: tuple[str, ...] = ()
    listen_peer_urls: tuple[str, ...] = ()
    heartbeat_interval: int = 100  # ms
    election_timeout: int = 1000  # ms
    snapshot_count: int = 10000
    proxy: ProxyMode = ProxyMode.OFF
    proxy_refresh_interval: int = 30000  # ms: how often a proxy re-reads the member list
    data_dir: str | None = None

    @property
    def is_member(self) -> bool:
        """A Raft member; proxies (``proxy: on|readonly``) only forward."""
        return self.proxy is ProxyMode.OFF

    def initial_cluster_members(self) -> dict[str, str]:
        """``initial-cluster`` as name → peer URL (a name's first URL when it lists several)."""
        return parse_initial_cluster(self.initial_cluster or "")


@dataclass(frozen=True)
class FleetOptions:
    public_ip: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    agent_ttl: float = 30.0  # seconds
    engine_reconcile_interval: float = 2.0  # seconds
    disable_engine: bool = False  # this machine's fleet never runs the engine
    etcd_servers: tuple[str, ...] = ()
    verbosity: int = 0


@dataclass(frozen=True)
class UpdateOptions:
    reboot_strategy: RebootStrategy = RebootStrategy.BEST_EFFORT
    group: str = "stable"
    server: str | None = None
    # emulator extras (a real machine reads its version from /usr/share/coreos/release):
    os_version: str = "1.0.0"  # what USR-A of a new node's disk holds
    check_interval: float = 45.0  # seconds between update checks (update_engine: 45 min ± fuzz)
    healthy_after: float = 10.0  # seconds up before the booted slot is marked good


@dataclass(frozen=True)
class LocksmithOptions:
    window_start: str | None = None  # "Thu 04:00" or "04:00"
    window_length: str | None = None  # "1h30m"
    group: str | None = None
    endpoint: str | None = None

    @property
    def window_length_seconds(self) -> float | None:
        return None if self.window_length is None else go_duration(self.window_length)

    @property
    def window_start_parts(self) -> tuple[int | None, int, int] | None:
        """(weekday 0=Mon … 6=Sun or None for every day, hour, minute)."""
        return None if self.window_start is None else window_start(self.window_start)


@dataclass(frozen=True)
class DropIn:
    name: str
    content: str = ""


@dataclass(frozen=True)
class Unit:
    name: str
    command: UnitCommand | None = None
    content: str | None = None
    enable: bool = False
    runtime: bool = False
    mask: bool = False
    drop_ins: tuple[DropIn, ...] = ()


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str = ""
    permissions: str | None = None  # as written, e.g. "0644"
    owner: str | None = None
    encoding: str | None = None  # base64|b64|gz|gzip|gz+base64|… as coreos-cloudinit

    @property
    def mode(self) -> int:
        return int(self.permissions, 8) if self.permissions else 0o644

    def data(self) -> bytes:
        """The file's bytes, decoded per ``encoding``."""
        return decode_content(self.content, self.encoding)


@dataclass(frozen=True)
class CloudConfig:
    hostname: str | None = None
    ssh_authorized_keys: tuple[str, ...] = ()
    write_files: tuple[WriteFile, ...] = ()
    etcd2: Etcd2Options = field(default_factory=Etcd2Options)
    fleet: FleetOptions = field(default_factory=FleetOptions)
    update: UpdateOptions = field(default_factory=UpdateOptions)
    locksmith: LocksmithOptions = field(default_factory=LocksmithOptions)
    units: tuple[Unit, ...] = ()

    def unit(self, name: str) -> Unit | None:
        return next((u for u in self.units if u.name == name), None)
