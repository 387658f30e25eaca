"""Cluster files: the nodes, their addresses and ports, per-node cloud-config, scheduled faults.

Theory of operation. :func:`parse_cluster_config` reads the file into a located tree
(:mod:`.yamlsource`) and walks it section by section, logging every problem and carrying on with
a default where a value was bad, so one run lists all errors in file order. Each node's cloud-config
is the default one deep-merged with that node's overrides (the tree keeps each value's own line),
read with ``$private_ipv4``/``$public_ipv4`` set to the node's address, then completed with what
the emulator knows (etcd2 name and URLs, fleet public-ip and etcd servers, the cluster token, the
initial cluster). A problem found once per node (a bad value in the shared cloud-config) is
reported once. Only when no error was found is a :class:`ClusterConfig` built.

How nodes get addresses and ports is in :mod:`.addressing`; the ``faults:`` list is read by
:mod:`.faultschedule`. Their public names are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from emulator.config import yamlsource as ys
from emulator.config.addressing import (
    CLIENT_PORT,
    DEFAULT_SUBNET,
    LOOPBACK,
    PORT_STRIDE,
    Addresses,
    NetworkMode,
    read_network,
)
from emulator.config.cloudconfig import CloudConfig, Places, cloud_config_tree, read_cloud_config
from emulator.config.faultschedule import FaultEntry, read_faults
from emulator.config.images import read_images
from emulator.config.updateservice import UpdateServiceConfig, read_update_service
from emulator.config.yamlsource import Kind, Loc, Problem, ProblemLog, YNode
from emulator.faults import SELECTORS

__all__ = [
    "CLIENT_PORT", "DEFAULT_NAME", "DEFAULT_NODES", "DEFAULT_SEED", "DEFAULT_SUBNET", "LOOPBACK",
    "PORT_STRIDE", "Addresses", "ClusterConfig", "FaultEntry", "NetworkMode", "NodeSpec",
    "load_cluster_config", "parse_cluster_config",
]  # fmt: skip

DEFAULT_NAME = "coreemu"
DEFAULT_SEED = 1
DEFAULT_NODES = 3
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class NodeSpec:
    name: str
    index: int  # 1-based
    address: str
    client_port: int
    peer_port: int
    cloud_config: CloudConfig

    @property
    def client_url(self) -> str:
        return f"http://{self.address}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.address}:{self.peer_port}"

    @property
    def peer_endpoint(self) -> str:
        """Where the node's ZeroMQ peer socket binds/connects."""
        return f"tcp://{self.address}:{self.peer_port}"

    @property
    def is_member(self) -> bool:
        """An etcd (Raft) member, not an etcd proxy."""
        return self.cloud_config.etcd2.is_member


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    token: str
    seed: int
    mode: NetworkMode
    subnet: str | None
    port_base: int | None
    nodes: tuple[NodeSpec, ...]
    faults: tuple[FaultEntry, ...]
    initial_cluster: Mapping[str, str]  # etcd2 name → peer URL, members only
    warnings: tuple[Problem, ...]
    source: Path
    raw_text: str
    update_service: UpdateServiceConfig = UpdateServiceConfig()  # the update-service: section
    images: Mapping[str, str] = field(default_factory=dict)  # images: name → command (docker)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(
            f"no node {name!r} in cluster {self.name!r} (nodes: {', '.join(self.node_names)})"
        )

    def describe(self) -> str:
        """A short human summary: the cluster, one line per node, the fault schedule."""
        where = (
            self.subnet
            if self.mode is NetworkMode.SUBNET
            else f"127.0.0.1 from port {self.port_base}"
        )
        lines = [
            f"cluster {self.name} (token {self.token}, seed {self.seed}): {len(self.nodes)} nodes, {self.mode.value} {where}"
        ]
        for n in self.nodes:
            cc = n.cloud_config
            role = "member" if n.is_member else f"proxy({cc.etcd2.proxy.value})"
            meta = ",".join(f"{k}={v}" for k, v in cc.fleet.metadata.items()) or "-"
            up = cc.update
            lines.append(f"  {n.name:<10} {n.client_url:<26} peer :{n.peer_port:<5} etcd {role:<15} "
                         f"metadata {meta}  update {up.group}/{up.reboot_strategy.value}")  # fmt: skip
        if self.faults:
            lines.append(f"faults ({len(self.faults)}):")
            for f in self.faults:
                span = f" for {f.duration:g}s" if f.duration is not None else ""
                lines.append(f"  at {f.at:g}s{span}: {f.spec.describe()}")
        else:
            lines.append("faults: none")
        return "\n".join(lines)


def load_cluster_config(path: str | Path, *, seed: int | None = None) -> ClusterConfig:
    """Read and check a cluster file; ``seed`` overrides the file's. Raises ConfigErrors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ys.ConfigErrors(
            [Problem(str(path), None, "", f"cannot read the file: {exc}")]
        ) from None
    return parse_cluster_config(text, source=path, seed=seed)


def parse_cluster_config(
    text: str, *, source: str | Path = "<string>", seed: int | None = None
) -> ClusterConfig:
    """Check a cluster file's text; raises :class:`ConfigErrors` listing every error found."""
    log = ProblemLog(str(source))
    tree = ys.parse_yaml(text, log)
    if tree is not None and tree.kind is not Kind.MAP:
        log.error(tree, f"a cluster file is a mapping (cluster:, nodes:, …), got {tree.describe()}")
    if tree is None or tree.kind is not Kind.MAP:
        log.raise_if_errors()
    return _ClusterReading(log, tree).build(text, Path(source), seed)


_PASS = lambda n: n  # noqa: E731  (keep the node; a later step reads it)


class _ClusterReading:
    def __init__(self, log: ProblemLog, tree: YNode):
        self.log = log
        self.tree = tree
        self.url_misses: dict[tuple[int | None, str], tuple[ys.Entry, list[str]]] = {}

    def build(self, text: str, source: Path, seed: int | None) -> ClusterConfig:
        log = self.log
        top = ys.read_section(self.tree, {
            "cluster": lambda n: self._checked_name(ys.text(n), _CLUSTER_NAME, "cluster name"),
            "token": lambda n: ys.nonempty(ys.text(n)), "seed": lambda n: ys.integer(n, minimum=0),
            "network": _PASS, "nodes": _PASS, "cloud-config": _PASS, "overrides": _PASS, "faults": _PASS,
            "update-service": _PASS, "images": _PASS,
        }, log)  # fmt: skip
        name = top.get("cluster", DEFAULT_NAME)
        token = top.get("token", f"{name}-token")
        net = ys.read_section(
            top.get("network"), {"subnet": ys.text, "port-offset": ys.integer}, log
        )
        names, per_node = self._nodes(top.get("nodes"))
        count = len(names) if names is not None else DEFAULT_NODES
        mode, subnet, base, addresses = read_network(net, count, top.where("nodes"), log)
        default = cloud_config_tree(top.get("cloud_config"), log)
        self._overrides(top.get("overrides"), names, per_node)
        nodes = []
        for i, node_name in enumerate(names or ()):
            address, client = addresses[i] if addresses else ("127.0.0.1", CLIENT_PORT)
            tree = default or ys.empty_map(None, "cloud-config")
            for extra in per_node.get(node_name, ()):
                tree = ys.merge(tree, extra)
            subs = {"private_ipv4": address, "public_ipv4": address}
            cc, places = read_cloud_config(tree, log, substitutions=subs)
            spec = NodeSpec(node_name, i + 1, address, client, client + 1, cc)
            self._check_urls(spec, places)
            nodes.append((spec, places))
        if names is None:  # no node list to walk: still check the cloud-configs once each
            for tree in [default, *(t for trees in per_node.values() for t in trees)]:
                read_cloud_config(
                    tree,
                    log,
                    substitutions={"private_ipv4": "127.0.0.1", "public_ipv4": "127.0.0.1"},
                )
        self._warn_url_misses()
        initial = self._initial_cluster(nodes)
        nodes_final = tuple(_complete(n, token, initial) for n, _ in nodes)
        faults = read_faults(top.get("faults"), names, log)
        update_service = read_update_service(top.get("update_service"), log)
        images = read_images(top.get("images"), log)
        log.raise_if_errors()
        return ClusterConfig(
            name=name, token=token, seed=seed if seed is not None else top.get("seed", DEFAULT_SEED),
            mode=mode, subnet=subnet, port_base=base, nodes=nodes_final, faults=tuple(faults),
            initial_cluster=initial, warnings=tuple(log.warnings), source=source, raw_text=text,
            update_service=update_service, images=images,
        )  # fmt: skip

    @staticmethod
    def _checked_name(value: str, pattern: re.Pattern[str], what: str) -> str:
        if not pattern.match(value):
            raise ValueError(
                f"{value!r} is not a valid {what} (letters, digits, hyphens; up to 63)"
            )
        return value

    # nodes: a count, a list of names, or a list of {name:, cloud-config:}
    def _nodes(self, node: YNode | None) -> tuple[list[str] | None, dict[str, list[YNode]]]:
        per_node: dict[str, list[YNode]] = {}
        if node is None or node.is_null:
            return [_default_name(i, DEFAULT_NODES) for i in range(1, DEFAULT_NODES + 1)], per_node
        if node.kind is Kind.SCALAR:
            try:
                count = ys.integer(node, minimum=1)
            except ValueError as exc:
                self.log.error(
                    node,
                    f"{exc} (nodes is a count, a list of names or of {{name:, cloud-config:}})",
                )
                return None, per_node
            return [_default_name(i, count) for i in range(1, count + 1)], per_node
        if node.kind is not Kind.SEQ or not node.items:
            self.log.error(node, f"expected a node count or a list of nodes, got {node.describe()}")
            return None, per_node
        names: list[str] = []
        first_line: dict[str, int | None] = {}
        for item in node.items:
            name_node, extra = item, None
            if item.kind is Kind.MAP:
                sec = ys.read_section(item, {"name": _PASS, "cloud-config": _PASS}, self.log)
                name_node = sec.get("name")
                if name_node is None:
                    self.log.error(item, "'name' is required")
                    continue
                extra = cloud_config_tree(sec.get("cloud_config"), self.log)
            try:
                name = self._checked_name(ys.text(name_node), _NAME, "node name")
                if name in SELECTORS:
                    raise ValueError(
                        f"{name!r} is reserved for fault targets ({', '.join(SELECTORS)})"
                    )
            except ValueError as exc:
                self.log.error(name_node, str(exc))
                continue
            if name in first_line:
                self.log.error(
                    name_node, f"node {name!r} is listed twice (first at line {first_line[name]})"
                )
                continue
            first_line[name] = name_node.line
            names.append(name)
            if extra is not None:
                per_node.setdefault(name, []).append(extra)
        return names, per_node

    def _overrides(
        self, node: YNode | None, names: list[str] | None, per_node: dict[str, list[YNode]]
    ) -> None:
        if node is None or node.is_null:
            return
        if node.kind is not Kind.MAP:
            self.log.error(
                node,
                f"expected a mapping of node name → {{cloud-config: …}}, got {node.describe()}",
            )
            return
        for entry in node.entries:
            if names is not None and entry.key not in names:
                self.log.error(
                    entry, f"override for unknown node {entry.key!r} (nodes: {', '.join(names)})"
                )
                continue
            sec = ys.read_section(entry.node, {"cloud-config": _PASS}, self.log)
            tree = cloud_config_tree(sec.get("cloud_config"), self.log)
            if tree is not None:
                per_node.setdefault(entry.key, []).append(tree)

    def _check_urls(self, spec: NodeSpec, places: Places) -> None:
        """Collect nodes whose advertised URLs miss their own (one warning per entry, later)."""
        etcd2 = spec.cloud_config.etcd2
        for key, urls, own in (
            ("advertise_client_urls", etcd2.advertise_client_urls, spec.client_url),
            ("initial_advertise_peer_urls", etcd2.initial_advertise_peer_urls, spec.peer_url),
        ):
            where = places.get(f"etcd2.{key}")
            if where is not None and own not in urls:
                self.url_misses.setdefault((where.line, where.path), (where, []))[1].append(own)

    def _warn_url_misses(self) -> None:
        for where, owns in self.url_misses.values():
            self.log.warning(
                where, f"no URL here reaches the node itself; the emulator uses {', '.join(owns)}"
            )

    def _initial_cluster(self, nodes: list[tuple[NodeSpec, Places]]) -> dict[str, str]:
        members = [(n, p) for n, p in nodes if n.is_member]
        if nodes and not members:
            where = nodes[0][1].get("etcd2.proxy") or Loc(None, "cloud-config")
            self.log.error(where, "every node is an etcd proxy; etcd needs at least one member")
            return {}
        by_name: dict[str, list[tuple[NodeSpec, Places]]] = {}
        for n, p in members:
            by_name.setdefault(n.cloud_config.etcd2.name or n.name, []).append((n, p))
        for own, group in by_name.items():
            if len(group) > 1:
                where = group[1][1].get("etcd2.name") or Loc(None, "cloud-config")
                holders = ", ".join(n.name for n, _ in group)
                self.log.error(
                    where, f"etcd2 name {own!r} is given to {holders}; each member needs its own"
                )
        explicit = [(n, p) for n, p in members if n.cloud_config.etcd2.initial_cluster]
        if not explicit:
            return {n.cloud_config.etcd2.name or n.name: n.peer_url for n, _ in members}
        first, first_places = explicit[0]
        text = first.cloud_config.etcd2.initial_cluster
        for n, p in explicit[1:]:
            if n.cloud_config.etcd2.initial_cluster != text:
                self.log.error(
                    p["etcd2.initial_cluster"],
                    f"initial-cluster of {n.name} differs from {first.name}'s; members must agree",
                )
        initial = first.cloud_config.etcd2.initial_cluster_members()
        for n, p in members:
            own = n.cloud_config.etcd2.name or n.name
            if own not in initial:
                where = p.get("etcd2.initial_cluster") or first_places["etcd2.initial_cluster"]
                self.log.error(
                    where,
                    f"member {own!r} ({n.name}) is not in initial-cluster; etcd would not start",
                )
        return initial


def _default_name(i: int, count: int) -> str:
    return f"core-{i:0{max(2, len(str(count)))}d}"


def _complete(node: NodeSpec, token: str, initial: Mapping[str, str]) -> NodeSpec:
    """Fill what CoreOS would work out at boot with what the emulator knows about the node."""
    cc = node.cloud_config
    e, f = cc.etcd2, cc.fleet
    etcd2 = replace(
        e,
        name=e.name or node.name,
        initial_cluster=e.initial_cluster or ",".join(f"{k}={v}" for k, v in initial.items()),
        initial_cluster_token=e.initial_cluster_token or token,
        advertise_client_urls=e.advertise_client_urls or (node.client_url,),
        initial_advertise_peer_urls=e.initial_advertise_peer_urls or (node.peer_url,),
        listen_client_urls=e.listen_client_urls or (node.client_url,),
        listen_peer_urls=e.listen_peer_urls or (node.peer_url,),
    )
    fleet = replace(
        f, public_ip=f.public_ip or node.address, etcd_servers=f.etcd_servers or (node.client_url,)
    )
    locksmith = replace(cc.locksmith, endpoint=cc.locksmith.endpoint or node.client_url)
    cc = replace(
        cc, hostname=cc.hostname or node.name, etcd2=etcd2, fleet=fleet, locksmith=locksmith
    )
    return replace(node, cloud_config=cc)
