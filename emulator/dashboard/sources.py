"""What the dashboard reads from the nodes themselves, through the APIs a user would ask.

etcd's ``/v2/stats/store`` (read and write counters) and keyspace, and fleet's API v1
(``machines``, ``state``): small GETs on loopback through the project's own etcd client
(``emulator.etcdctl_client``), with a short timeout, ``None`` when a node does not answer — a
node that is paused or partitioned must not stall the page.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from emulator.etcdctl_client import ClientError, ClusterError, EtcdError, V2Client, http_request

TIMEOUT_S = 0.5


def get_json(url: str, timeout: float = TIMEOUT_S) -> Any:
    try:
        reply = http_request(url, timeout=timeout, body_timeout=timeout)
        return json.loads(reply.body) if reply.status == 200 else None
    except (OSError, http.client.HTTPException, ClientError, ValueError):
        return None


def fetch_store_stats(client_url: str) -> dict[str, Any] | None:
    data = get_json(f"{client_url}/v2/stats/store")
    return data if isinstance(data, dict) else None


def fetch_keys(client_url: str) -> dict[str, Any] | None:
    """The whole v2 keyspace as a tree (what ``etcdctl ls -r /`` reads), for counting keys."""
    try:
        return V2Client([client_url], timeout=1.0).get("/", recursive=True).node
    except (ClusterError, ClientError, EtcdError):
        return None


def fetch_update_service(url: str) -> dict[str, Any] | None:
    """The update service's whole state (channels, releases, groups, instances) as it serves it."""
    data = get_json(f"{url.rstrip('/')}/api/v1/status")
    return data if isinstance(data, dict) else None


def fleet_api_url(node: Mapping[str, Any]) -> str | None:
    """Where a node serves fleet's API v1 (the rule of ``actors.fleet.api.api_port``)."""
    from actors.fleet.api import API_PORT, PORT_OFFSET_SHIFT

    client = urlsplit(node.get("client_url") or "")
    if not client.hostname or client.port is None:
        return None
    port = client.port + PORT_OFFSET_SHIFT if client.hostname == "127.0.0.1" else API_PORT
    return f"http://{client.hostname}:{port}/fleet/v1"


def _all_pages(url: str, key: str) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = []
    token = ""
    for _ in range(50):  # 100 a page: enough for any emulated cluster
        page = get_json(f"{url}?nextPageToken={token}" if token else url)
        if not isinstance(page, dict):
            return None
        items.extend(i for i in page.get(key, []) if isinstance(i, dict))
        token = page.get("nextPageToken") or ""
        if not token:
            break
    return items


def fetch_fleet(node: Mapping[str, Any]) -> tuple[list[dict], list[dict]] | None:
    """(machines, unit states) from one node's fleet API, or None if it does not answer."""
    base = fleet_api_url(node)
    if base is None:
        return None
    machines = _all_pages(f"{base}/machines", "machines")
    states = _all_pages(f"{base}/state", "states") if machines is not None else None
    if machines is None or states is None:
        return None
    return machines, states
