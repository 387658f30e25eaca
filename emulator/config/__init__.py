"""Cluster config files and the cloud-config inside them.

from emulator.config import load_cluster_config, ConfigErrors
try:
    cfg = load_cluster_config("configs/cluster.yaml", seed=7)
except ConfigErrors as exc:
    print(exc)            # file:line: key.path: message — one line per error
cfg.node("core-02").cloud_config.update.reboot_strategy   # RebootStrategy.ETCD_LOCK
"""

from emulator.config.cloudconfig import (
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
    parse_cloud_config,
)
from emulator.config.cluster import (
    ClusterConfig,
    FaultEntry,
    NetworkMode,
    NodeSpec,
    load_cluster_config,
    parse_cluster_config,
)
from emulator.config.yamlsource import ConfigErrors, Problem, Severity

__all__ = [
    "CloudConfig",
    "ClusterConfig",
    "ClusterState",
    "ConfigErrors",
    "DropIn",
    "Etcd2Options",
    "FaultEntry",
    "FleetOptions",
    "LocksmithOptions",
    "NetworkMode",
    "NodeSpec",
    "Problem",
    "ProxyMode",
    "RebootStrategy",
    "Severity",
    "Unit",
    "UnitCommand",
    "UpdateOptions",
    "WriteFile",
    "load_cluster_config",
    "parse_cloud_config",
    "parse_cluster_config",
]
