"""``start_locksmith(node)``: the node's part entry for locksmith (see ``PARTS`` in emulator.node).

Settings come from the node's cloud-config as on CoreOS: ``coreos.update.reboot-strategy`` and
``coreos.locksmith`` (window-start, window-length, group, endpoint). etcd is the node's own client
URL unless ``coreos.locksmith.endpoint`` names others (comma-separated).
"""

from __future__ import annotations

import time
from typing import Any

from actors.locksmith.core import LocksmithCore
from actors.locksmith.daemon import Locksmith
from actors.locksmith.etcdlock import EtcdLock
from actors.locksmith.window import RebootWindow, WindowError
from emulator.etcdctl_client import V2Client

ETCD_TIMEOUT_S = 2.0  # short: a call that hangs in a partition delays the next decision


class LocksmithPart:
    def __init__(self, ref: Any):
        self.ref = ref

    def stop(self) -> None:
        self.ref.stop(timeout=3)


def start_locksmith(node: Any) -> LocksmithPart:
    from emulator.node import REBOOT_EXIT_CODE  # (emulator.node imports the parts lazily)

    cc = node.spec.cloud_config
    log = node.ctx.actor_log("locksmith")
    try:
        window = RebootWindow.parse(cc.locksmith.window_start, cc.locksmith.window_length)
    except WindowError as exc:  # the config check refuses these; keep running without a window
        log.error("locksmith.bad_window", error=str(exc))
        window = None
    update_engine = getattr(node, "update_engine", None)
    core = LocksmithCore(
        cc.update.reboot_strategy,
        window,
        started=time.monotonic(),
        needs_boot_good=update_engine is not None,
    )
    lock = None
    if core.uses_etcd:
        endpoints = [e.strip() for e in (cc.locksmith.endpoint or "").split(",") if e.strip()]
        client = V2Client(endpoints or [node.spec.client_url], timeout=ETCD_TIMEOUT_S)
        lock = EtcdLock(client, cc.locksmith.group)
    ref = Locksmith.start(
        node.ctx,
        core,
        lock,
        update_engine,
        lambda: node.request_stop(REBOOT_EXIT_CODE),
        cc.locksmith.group,
    )
    return LocksmithPart(ref)
