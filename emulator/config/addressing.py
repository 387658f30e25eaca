"""How nodes are addressed: loopback addresses from a subnet, or one address and port offsets.

``subnet`` mode gives node i (1-based) the address subnet+i and etcd's own ports (2379 client,
2380 peer); ``port-offset`` mode puts every node on 127.0.0.1 with client port base + 10*(i-1)
and peer port client+1. Nodes bind loopback addresses only, so a subnet must lie in 127.0.0.0/8.
"""

from __future__ import annotations

import ipaddress
from enum import Enum

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import Loc, ProblemLog

DEFAULT_SUBNET = "127.0.10.0/24"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
CLIENT_PORT = 2379  # the peer port is always the client port + 1 (2380)
PORT_STRIDE = 10  # port-offset mode: node i's ports are base + 10*(i-1) and that + 1


class NetworkMode(str, Enum):
    SUBNET = "subnet"
    PORT_OFFSET = "port-offset"


Addresses = list[tuple[str, int]]  # (address, client port) per node
# (mode, subnet, port base, addresses: None when the network section is broken)
Addressing = tuple[NetworkMode, str | None, int | None, Addresses | None]


def read_network(
    net: ys.Section, count: int, nodes_where: ys.Entry | None, log: ProblemLog
) -> Addressing:
    """How nodes are addressed; ``addresses`` is None when the network section is broken."""
    subnet_e, offset_e = net.where("subnet"), net.where("port_offset")
    if subnet_e is not None and offset_e is not None:
        log.error(offset_e, "give subnet or port-offset, not both")
    if offset_e is not None and subnet_e is None:
        base = net.get("port_offset")
        if base is None:
            return NetworkMode.PORT_OFFSET, None, None, None
        top = base + PORT_STRIDE * (count - 1) + 1
        if base < 1024:
            log.error(offset_e.node, f"port {base} needs root; use 1024 or above")
        elif top > 65535:
            log.error(
                offset_e.node,
                f"{count} nodes from port {base} need ports up to {top}, beyond 65535",
            )
        ports = [base + PORT_STRIDE * i for i in range(count)]
        return NetworkMode.PORT_OFFSET, None, base, [("127.0.0.1", p) for p in ports]
    text = net.get("subnet", DEFAULT_SUBNET if subnet_e is None else None)
    if text is None:
        return NetworkMode.SUBNET, None, None, None
    where = subnet_e.node if subnet_e is not None else Loc(None, "network.subnet")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        log.error(where, f"{text!r} is not a subnet like 127.0.10.0/24 ({exc})")
        return NetworkMode.SUBNET, text, None, None
    if network.version != 4 or not network.subnet_of(LOOPBACK):
        log.error(where, f"{text} is not inside 127.0.0.0/8: nodes bind loopback addresses only")
        return NetworkMode.SUBNET, text, None, None
    room = max(network.num_addresses - 2, 0)  # .1 … one below broadcast
    if count > room:
        blame = where if subnet_e is not None else (nodes_where.node if nodes_where else where)
        log.error(blame, f"{text} has room for {room} nodes, the cluster has {count}")
        return NetworkMode.SUBNET, text, None, None
    base_ip = network.network_address
    return (
        NetworkMode.SUBNET,
        text,
        None,
        [(str(base_ip + i), CLIENT_PORT) for i in range(1, count + 1)],
    )
