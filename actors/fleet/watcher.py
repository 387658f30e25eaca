"""A long-poll watch of fleet's prefix in etcd, in its own thread, that wakes the fleet actors.

The watch blocks inside an HTTP request, so it cannot run in an actor. Each change is passed to
the listeners' filters; a listener that cares gets one ``Wake`` told to its actor — and no second
one until the actor has taken the first (``Wake.taken``), so a burst of changes costs one round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.fleet.records import PREFIX
from emulator.etcdctl_client import ClientError, ClusterError, EtcdError, V2Client

EVENT_INDEX_CLEARED = 401
RETRY_S = 1.0  # after etcd could not be reached: try again (the periodic rounds go on meanwhile)


@dataclass
class Wake:
    """Told to an actor when fleet's registry changed; the actor calls ``taken()`` first."""

    pending: threading.Event = field(default_factory=threading.Event, repr=False)

    def taken(self) -> None:
        self.pending.clear()


@dataclass
class _Listener:
    ref: Any
    wants: Callable[[str, str], bool]  # (action, key relative to the prefix) → wake?
    wake: Wake = field(default_factory=Wake)


class RegistryWatcher(threading.Thread):
    def __init__(self, client: V2Client, log: Any):
        super().__init__(name="fleet-watch", daemon=True)  # daemon: a long poll cannot be cut
        self.client = client
        self.log = log
        self._listeners: list[_Listener] = []
        self._stopping = threading.Event()

    def listen(self, ref: Any, wants: Callable[[str, str], bool]) -> None:
        self._listeners.append(_Listener(ref, wants))

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        index: int | None = None
        while not self._stopping.is_set():
            try:
                if index is None:
                    index = self._current_index() + 1
                resp = self.client.wait(PREFIX, index, recursive=True)
                if resp is None:
                    continue
                index = int(resp.node.get("modifiedIndex", index)) + 1
                self._notify(resp.action, str(resp.node.get("key", "")))
            except EtcdError as exc:
                if exc.code == EVENT_INDEX_CLEARED:  # fell behind: start over, wake everyone
                    index = None
                    self._notify("resync", "")
                else:
                    self._stopping.wait(RETRY_S)
            except (ClusterError, ClientError, OSError) as exc:
                self.log.debug("fleet.watch_failed", error=str(exc))
                index = None
                self._stopping.wait(RETRY_S)

    def _current_index(self) -> int:
        try:
            return self.client.get(PREFIX).index
        except EtcdError as exc:
            return exc.index

    def _notify(self, action: str, key: str) -> None:
        rel = key[len(PREFIX) + 1 :] if key.startswith(PREFIX + "/") else key
        for listener in self._listeners:
            if action != "resync" and not listener.wants(action, rel):
                continue
            if listener.wake.pending.is_set():
                continue  # the actor has not taken the last one yet
            listener.wake.pending.set()
            try:
                listener.ref.tell(listener.wake)
            except Exception:  # the actor stopped: nothing left to wake
                listener.wake.pending.clear()
