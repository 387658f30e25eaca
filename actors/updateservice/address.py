"""Where the run's own update service listens: a pure function of the cluster config.

update_engine on every node and the supervisor that starts the service both derive the URL from
the config, so nothing has to be passed around at run time.

* subnet mode: the last host address of the run's subnet (``.254`` in a /24), which nodes do not
  use unless the subnet is full, on :data:`SUBNET_PORT`.
* port-offset mode: 127.0.0.1 on the first port past the nodes' port blocks (each node owns
  ``base + 10*(i-1)`` … ``+9``), so two runs with different port bases do not collide.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from emulator.config.addressing import DEFAULT_SUBNET, PORT_STRIDE, NetworkMode

if TYPE_CHECKING:
    from emulator.config import ClusterConfig

SUBNET_PORT = 8000  # Nebraska's default port
OMAHA_PATH = "/v1/update/"  # CoreOS's update path (public.update.core-os.net/v1/update/)
PORT_OFFSET_SLOT = 8  # in the block after the last node's: base + 10*count + 8
INFO_FILE = "update-service.json"  # in the run dir: the running service's pid and URL


def update_service_host_port(cfg: ClusterConfig) -> tuple[str, int]:
    """(address, port) the update service binds."""
    if cfg.mode is NetworkMode.PORT_OFFSET and cfg.port_base is not None:
        port = cfg.port_base + PORT_STRIDE * len(cfg.nodes) + PORT_OFFSET_SLOT
        if port > 65535:  # a base near the top: use the slot below the first node instead
            port = cfg.port_base - 2
        return "127.0.0.1", port
    network = ipaddress.ip_network(cfg.subnet or DEFAULT_SUBNET, strict=False)
    last = network.broadcast_address - 1
    used = {n.address for n in cfg.nodes}
    if str(last) in used:  # a full subnet: share the first node's address on another port
        return cfg.nodes[0].address, SUBNET_PORT
    return str(last), SUBNET_PORT


def update_service_base(cfg: ClusterConfig) -> str:
    """``http://host:port`` of the update service (status page at ``/``)."""
    host, port = update_service_host_port(cfg)
    return f"http://{host}:{port}"


def update_service_url(cfg: ClusterConfig) -> str:
    """The Omaha endpoint update_engine posts to, e.g. ``http://127.0.10.254:8000/v1/update/``."""
    return update_service_base(cfg) + OMAHA_PATH
