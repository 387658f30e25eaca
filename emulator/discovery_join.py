"""etcd discovery, the node's side: the join a node does at boot (register, wait for the cluster
to fill, learn whether it is a member or a proxy), as CoreOS's etcd2 does. The service it talks to
is :mod:`emulator.discovery` (the supervisor's), or any URL the cloud-config names.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emulator.discovery_registry import (
    Bootstrap,
    DiscoveryError,
    LiteralDiscovery,
    decide,
    parse_discovery,
    registration_value,
)
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError, V2Client

ENV_URL = "COREEMU_DISCOVERY_URL"
ENV_PUBLIC = "COREEMU_DISCOVERY_PUBLIC"  # where the run serves discovery.etcd.io URLs
RUN_FILE = "discovery.json"  # in the run dir, written by the supervisor
NODE_FILE = "etcd-discovery.json"  # in a node's data dir, written once discovery decided
WAIT_POLL_S = 1.0  # a node's long-poll on the registry; it re-checks after each
PROGRESS_LOG_S = 5.0
KEY_NOT_FOUND, NODE_EXIST = 100, 105  # etcd's error codes


class DiscoveryStopped(RuntimeError):
    """The node was asked to stop while it waited for discovery."""


def discovery_url(text: str, run_dir: Path | None) -> str:
    """The URL a node's ``discovery`` value stands for (``auto`` resolved)."""
    found = parse_discovery(text)
    if isinstance(found, LiteralDiscovery) and not found.public:
        return found.url.split("?", 1)[0]
    env, key = (
        (ENV_PUBLIC, "public_base")
        if isinstance(found, LiteralDiscovery)
        else (ENV_URL, "auto_url")
    )
    url = os.environ.get(env)
    if not url and run_dir is not None and (run_dir / RUN_FILE).is_file():
        url = json.loads((run_dir / RUN_FILE).read_text()).get(key)
    if url and isinstance(found, LiteralDiscovery):
        return f"{url}/{found.token}"
    if not url:
        raise DiscoveryError(
            f"discovery: {text} needs the run's discovery service: start the node from "
            f"run.py up, set {ENV_URL}, or give the URL itself in the cloud-config"
        )
    return url


class DiscoveryJoin:
    """One node's join: register, wait for the cluster to fill, learn its role (etcd's order)."""

    def __init__(
        self, url: str, name: str, peer_urls: tuple[str, ...], self_id: str | None, log: Any
    ):
        self.url = url.rstrip("/")
        self.name, self.peer_urls, self.self_id = name, peer_urls, self_id
        self.log = log
        self.registered = False
        # as etcd's discovery does: the URL's path is the token's key, with no /v2/keys before it
        parts = urlsplit(self.url)
        base = f"{parts.scheme}://{parts.netloc}"
        self.key = parts.path
        self.client = V2Client([base], keys_prefix="")
        self.poller = V2Client([base], timeout=WAIT_POLL_S, keys_prefix="")

    def run(self, stop: threading.Event) -> Bootstrap:
        backoff, last_log = 0.2, 0.0
        while not stop.is_set():
            try:
                size, regs, index = self._check()
                decided = decide(regs, size, self.self_id, self.url)
                if decided is not None:
                    return decided
                if self.self_id is not None and not self.registered:
                    self._register()
                    continue
                if time.monotonic() - last_log >= PROGRESS_LOG_S:
                    last_log = time.monotonic()
                    self.log("discovery.waiting", url=self.url, found=len(regs), size=size)
                self._wait(index)
                backoff = 0.2
            except (ClusterError, ClientError, EtcdError, OSError, ValueError) as exc:
                if isinstance(exc, DiscoveryError):
                    raise
                self.log("discovery.retry", level="warning", url=self.url, error=str(exc).strip())
                stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)
        raise DiscoveryStopped(f"stopped while waiting for discovery at {self.url}")

    def _check(self) -> tuple[int, list[tuple[str, str, int]], int]:
        try:
            size = str(self.client.get(f"{self.key}/_config/size").node.get("value", ""))
            listing = self.client.get(self.key)
        except EtcdError as exc:
            if exc.code == KEY_NOT_FOUND:
                raise DiscoveryError(
                    f"discovery: no cluster size at {self.url} (unknown token?)"
                ) from None
            raise DiscoveryError(f"discovery: cannot read {self.url}: {exc}") from None
        if not size.isdigit():
            raise DiscoveryError(f"discovery: bad size {size!r} at {self.url}")
        regs = [
            (n["key"].rsplit("/", 1)[-1], n.get("value", ""), n["createdIndex"])
            for n in listing.node.get("nodes", ())
            if not n.get("dir")
        ]
        return int(size), regs, listing.index

    def _register(self) -> None:
        value = registration_value(self.name, self.peer_urls)
        mine = f"{self.key}/{self.self_id}"
        try:
            self.client.set(mine, value, prev_exist=False)
        except EtcdError as exc:
            if exc.code != NODE_EXIST:
                raise DiscoveryError(
                    f"discovery: registering at {self.url} failed: {exc}"
                ) from None
            # registered before: fine if it was us (a crash before deciding)
            if self.client.get(mine).node.get("value") != value:
                raise DiscoveryError(
                    f"discovery: member id {self.self_id} is taken at {self.url}"
                ) from None
        self.registered = True
        self.log("discovery.registered", url=self.url, id=self.self_id, value=value)

    def _wait(self, index: int) -> None:
        """Long-poll for a change after ``index``, for at most WAIT_POLL_S (then re-check)."""
        query = {"wait": "true", "recursive": "true", "waitIndex": str(index + 1)}
        try:
            self.poller.request("GET", self.poller.keys_path(self.key), query)
        except ClusterError as exc:
            if not exc.timed_out:
                raise


def resolve_bootstrap(
    cfg: Any, spec: Any, data_dir: Path, log: Any, stop: threading.Event
) -> Bootstrap | None:
    """The node's etcd role from discovery, or None when its cloud-config does not use it."""
    etcd2 = spec.cloud_config.etcd2
    if not etcd2.discovery:
        return None
    saved = data_dir / NODE_FILE
    if saved.is_file():
        bootstrap = Bootstrap.from_json(json.loads(saved.read_text()))
        log("discovery.reused", role=bootstrap.role.value, file=str(saved))
        return bootstrap
    from actors.etcd.admin import member_id

    run_dir = Path(cfg.source).parent if getattr(cfg, "source", None) else None
    url = discovery_url(etcd2.discovery, run_dir)
    name = etcd2.name or spec.name
    token = etcd2.initial_cluster_token or cfg.token
    is_proxy = etcd2.proxy.value != "off"
    self_id = None if is_proxy else member_id(name, token)
    peer_urls = tuple(etcd2.initial_advertise_peer_urls) or (spec.peer_url,)
    bootstrap = DiscoveryJoin(url, name, peer_urls, self_id, log).run(stop)
    tmp = saved.with_suffix(".tmp")
    tmp.write_text(json.dumps(bootstrap.to_json(), indent=2))
    os.replace(tmp, saved)
    log(
        "discovery.decided",
        role=bootstrap.role.value,
        members=[p.name for p in bootstrap.members],
        url=url,
    )
    return bootstrap
