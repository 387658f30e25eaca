"""Reading a cloud-config: the located YAML tree in, a :class:`CloudConfig` and problems out.

Key names and accepted values mirror coreos-cloudinit (``config/*.go``): ``hostname``,
``ssh_authorized_keys``, ``write_files``, and under ``coreos``: ``etcd2``, ``fleet``, ``update``,
``locksmith``, ``units`` (with ``drop-ins``). Hyphen and underscore spellings are one key.
Keys CoreOS knows but the emulator does not model (TLS files, ``flannel``, ``users`` …) and keys
nobody knows are warnings; wrong types and bad values are errors. ``$private_ipv4`` and
``$public_ipv4`` are substituted in every text, as coreos-cloudinit does before parsing.

Checks borrowed from the programs that would read the values: etcd refuses an election timeout
under 5x the heartbeat interval or over 50 s, and ``discovery`` together with ``initial-cluster``;
locksmithd wants a reboot window's start and length together.

The model is in :mod:`.cloudmodel` and the value formats in :mod:`.coreosformats`; both are
re-exported here, so ``emulator.config.cloudconfig`` still offers every name it did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.config import yamlsource as ys
from emulator.config.cloudmodel import (
    CloudConfig,
    ClusterState,
    DropIn,
    Etcd2Options,
    FleetOptions,
    LocksmithOptions,
    ProxyMode,
    RebootStrategy,
    Unit,
    UnitCommand,
    UpdateOptions,
    WriteFile,
)
from emulator.config.coreosformats import (
    ENCODINGS,
    absolute_path,
    check_url,
    decode_content,
    go_duration,
    hostname,
    initial_cluster_text,
    ip_address,
    metadata_pairs,
    os_version,
    parse_initial_cluster,
    permissions,
    window_start,
)
from emulator.config.yamlsource import Entry, Kind, Loc, ProblemLog, YNode
from emulator.discovery_registry import DiscoveryError, parse_discovery

__all__ = [
    "CLOUD_CONFIG_HEADER", "ENCODINGS", "MAX_ELECTION_MS", "CloudConfig", "ClusterState",
    "DropIn", "Etcd2Options", "FleetOptions", "LocksmithOptions", "Places", "ProxyMode",
    "RebootStrategy", "Unit", "UnitCommand", "UpdateOptions", "WriteFile", "absolute_path",
    "check_url", "cloud_config_tree", "decode_content", "duration_seconds", "go_duration",
    "hostname", "initial_cluster_text", "ip_address", "metadata_pairs", "parse_cloud_config",
    "parse_initial_cluster", "permissions", "read_cloud_config", "window_start",
]  # fmt: skip

CLOUD_CONFIG_HEADER = "#cloud-config"
MAX_ELECTION_MS = 50000  # etcd's maxElectionMs

_TOP_NOT_EMULATED = ("users", "manage_etc_hosts")
_COREOS_NOT_EMULATED = ("etcd", "flannel", "oem")
_ETCD2_NOT_EMULATED = (
    "ca-file", "cert-file", "client-cert-auth", "cors", "debug", "discovery-fallback",
    "discovery-srv", "discovery-proxy", "enable-pprof", "force-new-cluster", "key-file",
    "log-package-levels", "max-snapshots", "max-wals", "peer-ca-file", "peer-cert-file",
    "peer-key-file", "peer-client-cert-auth", "peer-trusted-ca-file", "proxy-dial-timeout",
    "proxy-failure-wait", "proxy-read-timeout", "proxy-write-timeout",
    "strict-reconfig-check", "trusted-ca-file", "wal-dir",
)  # fmt: skip
_FLEET_NOT_EMULATED = ("etcd-cafile", "etcd-certfile", "etcd-keyfile", "etcd-request-timeout")
_LOCKSMITH_NOT_EMULATED = (
    "etcd-cafile", "etcd-certfile", "etcd-keyfile", "etcd-username", "etcd-password",
)  # fmt: skip
_UNIT_SUFFIXES = (
    ".service", ".socket", ".timer", ".target", ".mount", ".automount", ".path", ".slice",
    ".scope", ".swap", ".device", ".network", ".netdev", ".link",
)  # fmt: skip


def cloud_config_tree(node: YNode | None, log: ProblemLog) -> YNode | None:
    """The tree of a ``cloud-config:`` value: a ``#cloud-config`` text block or a mapping."""
    if node is None or node.is_null:
        return None
    if node.kind is Kind.MAP:
        return node
    if node.kind is Kind.SCALAR and isinstance(node.value, str):
        first = node.value.split("\n", 1)[0].rstrip("\r")
        if first != CLOUD_CONFIG_HEADER:
            log.error(node, f"a cloud-config text must start with the line {CLOUD_CONFIG_HEADER!r}")
        tree = ys.parse_embedded(node, log)
        if tree is not None and tree.kind is not Kind.MAP:
            log.error(tree, f"a cloud-config is a mapping, got {tree.describe()}")
            return None
        return tree
    log.error(node, f"expected a '#cloud-config' text block or a mapping, got {node.describe()}")
    return None


def parse_cloud_config(
    text: str,
    *,
    file: str = "<cloud-config>",
    substitutions: Mapping[str, str] | None = None,
    log: ProblemLog | None = None,
) -> CloudConfig:
    """Parse a user-data text (first line ``#cloud-config``).

    Without ``log``, raises :class:`ConfigErrors` on errors; with it, records problems there."""
    own = log is None
    log = log or ProblemLog(file)
    if text.split("\n", 1)[0].rstrip("\r") != CLOUD_CONFIG_HEADER:
        log.error(
            Loc(1, ""), f"a cloud-config text must start with the line {CLOUD_CONFIG_HEADER!r}"
        )
    tree = ys.parse_yaml(text, log)
    if tree is not None and tree.kind is not Kind.MAP:
        log.error(tree, f"a cloud-config is a mapping, got {tree.describe()}")
        tree = None
    cc, _ = read_cloud_config(tree, log, substitutions=substitutions)
    if own:
        log.raise_if_errors()
    return cc


Places = dict[str, Entry]  # "etcd2.name" → the entry that set it (for checks across nodes)


def read_cloud_config(
    tree: YNode | None, log: ProblemLog, *, substitutions: Mapping[str, str] | None = None
) -> tuple[CloudConfig, Places]:
    """Build a CloudConfig from a located tree; problems go to ``log``, defaults fill the gaps."""
    return _Reading(log, substitutions or {}).cloud_config(tree)


def duration_seconds(node: YNode) -> float:
    """fleet's durations: ``30s``, ``500ms``, a number of seconds, or a Go duration (``1m30s``)."""
    try:
        return ys.seconds(node)
    except ValueError as exc:
        try:
            value = go_duration(ys.text(node))
        except ValueError:
            raise exc from None
        if value <= 0:
            raise ValueError(f"must be more than zero, got {node.raw}") from None
        return value


_STAND_INS = {"private_ipv4": "192.0.2.1", "public_ipv4": "192.0.2.2"}  # TEST-NET-1 addresses


class _Reading:
    def __init__(self, log: ProblemLog, subs: Mapping[str, str]):
        self.log = log
        self.subs = subs
        self.places: Places = {}

    # scalar readers: substitute $private_ipv4 …, but name the value as written in messages
    def text(self, node: YNode) -> str:
        return ys.substitute(ys.text(node), self.subs)

    def _check(self, raw: str, check: Callable[[str], Any]) -> str:
        """Check ``raw`` with stand-in addresses, so a message reads the same for every node."""
        try:
            check(ys.substitute(raw, {k: _STAND_INS.get(k, v) for k, v in self.subs.items()}))
        except ValueError as exc:
            message = str(exc)
            for name, stand_in in _STAND_INS.items():
                message = message.replace(stand_in, f"${name}")
            raise ValueError(message) from None
        return ys.substitute(raw, self.subs)

    def checked(self, check: Callable[[str], Any]) -> ys.Reader:
        return lambda node: self._check(ys.text(node), check)

    def urls(self, node: YNode, *, need_port: bool = False) -> tuple[str, ...]:
        """URLs as etcd takes them: ``"http://a:2379,http://b:2379"`` or a YAML list."""
        urls: list[str] = []
        for part in node.items if node.kind is Kind.SEQ else (node,):
            try:
                for raw in ys.text(part).split(","):
                    urls.append(
                        self._check(raw.strip(), lambda u: check_url(u, need_port=need_port))
                    )
            except ValueError as exc:
                raise ys.LocatedError(part, str(exc)) from None
        return tuple(urls)

    def metadata(self, node: YNode) -> dict[str, str]:
        """``"k=v,k2=v2"`` or a YAML mapping."""
        if node.kind is Kind.MAP:
            return {e.key: self.text(e.node) for e in node.entries}
        return metadata_pairs(self._check(ys.text(node), metadata_pairs))

    def listen_urls(self, node: YNode) -> tuple[str, ...]:
        return self.urls(node, need_port=True)

    def section(
        self,
        name: str,
        node: YNode | None,
        readers: Mapping[str, ys.Reader],
        ignored: tuple[str, ...] = (),
    ) -> ys.Section:
        sec = ys.read_section(node, readers, self.log, not_emulated=ignored)
        for key, entry in sec.entries.items():
            self.places[f"{name}.{key}"] = entry
        return sec

    def cloud_config(self, tree: YNode | None) -> tuple[CloudConfig, Places]:
        top = self.section("", tree, {
            "hostname": self.checked(hostname),
            "ssh_authorized_keys": lambda n: tuple(ys.substitute(k, self.subs) for k in ys.text_list(n)),
            "write_files": self.write_files,
            "coreos": lambda n: n,
        }, _TOP_NOT_EMULATED)  # fmt: skip
        coreos = self.section("coreos", top.get("coreos"), {
            "etcd2": lambda n: n, "fleet": lambda n: n, "update": lambda n: n,
            "locksmith": lambda n: n, "units": self.units,
        }, _COREOS_NOT_EMULATED)  # fmt: skip
        cc = CloudConfig(
            hostname=top.get("hostname"),
            ssh_authorized_keys=top.get("ssh_authorized_keys", ()),
            write_files=top.get("write_files", ()),
            etcd2=self.etcd2(coreos.get("etcd2")),
            fleet=self.fleet(coreos.get("fleet")),
            update=self.update(coreos.get("update")),
            locksmith=self.locksmith(coreos.get("locksmith")),
            units=coreos.get("units", ()),
        )
        return cc, self.places

    def etcd2(self, node: YNode | None) -> Etcd2Options:
        millis = ys.millis
        sec = self.section("etcd2", node, {
            "name": self.text, "discovery": self.text,
            "initial-cluster": self.checked(initial_cluster_text),
            "initial-cluster-token": self.text,
            "initial-cluster-state": ys.enum_reader(ClusterState),
            "advertise-client-urls": self.urls, "initial-advertise-peer-urls": self.urls,
            "listen-client-urls": self.listen_urls, "listen-peer-urls": self.listen_urls,
            "heartbeat-interval": millis, "election-timeout": millis,
            "snapshot-count": lambda n: ys.integer(n, minimum=1),
            "proxy": ys.enum_reader(ProxyMode), "data-dir": self.text,
            "proxy-refresh-interval": millis,
        }, _ETCD2_NOT_EMULATED)  # fmt: skip
        opts = Etcd2Options(**sec.values)
        hb, el = opts.heartbeat_interval, opts.election_timeout
        where = sec.where("election_timeout") or sec.where("heartbeat_interval")
        if where is not None and 5 * hb > el:
            self.log.error(
                where.node,
                f"election-timeout ({el} ms) must be at least 5 times heartbeat-interval ({hb} ms), as etcd requires",
            )
        if sec.where("election_timeout") is not None and el > MAX_ELECTION_MS:
            self.log.error(
                sec.where("election_timeout").node,
                f"election-timeout ({el} ms) is too long for etcd (at most {MAX_ELECTION_MS} ms)",
            )
        if opts.discovery:
            try:
                parse_discovery(opts.discovery)
            except DiscoveryError as exc:
                self.log.error(sec.where("discovery"), str(exc))
        if opts.discovery and opts.initial_cluster:
            self.log.error(
                sec.where("discovery"),
                "discovery and initial-cluster are both set; etcd takes one bootstrap method",
            )
        return opts

    def fleet(self, node: YNode | None) -> FleetOptions:
        sec = self.section("fleet", node, {
            "public-ip": self.checked(ip_address),
            "metadata": self.metadata,
            "agent-ttl": duration_seconds, "engine-reconcile-interval": duration_seconds,
            "disable-engine": ys.boolean,
            "etcd-servers": self.urls,
            "verbosity": lambda n: ys.integer(n, minimum=0),
        }, _FLEET_NOT_EMULATED)  # fmt: skip
        return FleetOptions(**sec.values)

    def update(self, node: YNode | None) -> UpdateOptions:
        sec = self.section("update", node, {
            "reboot-strategy": ys.enum_reader(RebootStrategy),
            "group": lambda n: ys.nonempty(self.text(n)), "server": self.text,
            "os-version": self.checked(os_version), "check-interval": duration_seconds,
            "healthy-after": duration_seconds,
        })  # fmt: skip
        return UpdateOptions(**sec.values)

    def locksmith(self, node: YNode | None) -> LocksmithOptions:
        sec = self.section("locksmith", node, {
            "window-start": self.checked(window_start),
            "window-length": self.checked(go_duration),
            "group": self.text, "endpoint": self.text,
        }, _LOCKSMITH_NOT_EMULATED)  # fmt: skip
        start, length = sec.where("window_start"), sec.where("window_length")
        if (start is None) != (length is None):
            given = start or length
            self.log.error(given, "locksmith needs window-start and window-length together")
        return LocksmithOptions(**sec.values)

    def _items(self, node: YNode, what: str) -> list[YNode]:
        if node.kind is not Kind.SEQ:
            raise ValueError(f"expected a list of {what}, got {node.describe()}")
        return list(node.items)

    def _present(self, sec: ys.Section, item: YNode, key: str) -> bool:
        """Was ``key`` given? (Logs it as required if not; a bad value was logged already.)"""
        if sec.where(key) is None or sec.where(key).node.is_null:
            if item.kind is Kind.MAP:
                self.log.error(item, f"{key!r} is required")
            return False
        return True

    def units(self, node: YNode) -> tuple[Unit, ...]:
        units: list[Unit] = []
        seen: dict[str, YNode] = {}
        for item in self._items(node, "units"):
            sec = ys.read_section(item, {
                "name": self.text, "command": ys.enum_reader(UnitCommand), "content": self.text,
                "enable": ys.boolean, "runtime": ys.boolean, "mask": ys.boolean,
                "drop-ins": self.drop_ins,
            }, self.log)  # fmt: skip
            if not self._present(sec, item, "name"):
                continue
            name = sec.get("name", "")
            if "name" in sec.values and not name.endswith(_UNIT_SUFFIXES):
                self.log.error(
                    sec.where("name").node, f"{name!r} is not a unit name (like etcd2.service)"
                )
            elif name in seen:
                first = seen[name].line
                self.log.warning(
                    sec.where("name"),
                    f"unit {name!r} listed twice (first at line {first}); systemd gets both",
                )
            seen.setdefault(name, item)
            units.append(Unit(**{"name": name, **sec.values}))
        return tuple(units)

    def drop_ins(self, node: YNode) -> tuple[DropIn, ...]:
        drops = []
        for item in self._items(node, "drop-ins"):
            sec = ys.read_section(item, {"name": self.text, "content": self.text}, self.log)
            if self._present(sec, item, "name"):
                if not sec.get("name", "").endswith(".conf"):
                    self.log.warning(sec.where("name"), "systemd reads only drop-ins named *.conf")
                drops.append(DropIn(**{"name": "", **sec.values}))
        return tuple(drops)

    def write_files(self, node: YNode) -> tuple[WriteFile, ...]:
        files = []
        for item in self._items(node, "files"):
            sec = ys.read_section(item, {
                "path": self.checked(absolute_path), "content": self.text,
                "permissions": lambda n: ys.checked(ys.text(n), permissions),
                "owner": self.text, "encoding": ys.choice(*ENCODINGS),
            }, self.log)  # fmt: skip
            if not self._present(sec, item, "path"):
                continue
            wf = WriteFile(**{"path": "", **sec.values})
            try:
                wf.data()
            except ValueError as exc:
                self.log.error(sec.where("content") or item, str(exc))
            files.append(wf)
        return tuple(files)
