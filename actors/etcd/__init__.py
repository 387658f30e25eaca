"""etcd: the v2 keyspace (the Raft state machine) and the v2 HTTP API, as sans-IO cores.

- :mod:`~actors.etcd.store` — :class:`KeyStore`: ``apply(request, raft_index)``, ``get``,
  ``watch``, ``snapshot``/``restore``; :mod:`~actors.etcd.commands` — the replicated
  :class:`V2Request`; :mod:`~actors.etcd.errors` — :class:`EtcdError` and etcd's codes.
- :mod:`~actors.etcd.v2api` — parse ``/v2/keys`` requests and render answers byte for byte.
"""

from actors.etcd.commands import Method, V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.event import Action, Event, NodeView
from actors.etcd.store import ApplyResult, KeyStore
from actors.etcd.watch import Notification, Watcher

__all__ = [
    "Action",
    "ApplyResult",
    "EtcdError",
    "Event",
    "KeyStore",
    "Method",
    "NodeView",
    "Notification",
    "V2Request",
    "Watcher",
]
