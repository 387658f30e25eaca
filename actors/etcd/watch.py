"""Watchers, sans-IO: who waits on which key, and who an event must be delivered to.

A watch first looks in the history (:mod:`actors.etcd.history`); what it finds there is handed
back at once in :attr:`Watcher.events`. A watch that still waits is registered here, and every
change the store applies comes back from :meth:`WatcherHub.notify` as :class:`Notification`
values ``(sink, event)`` for the caller to deliver: nothing here does I/O or calls a callback
except the ``cancelled`` predicate, which :meth:`WatcherHub.prune` asks.

Who is told (etcd's watcherHub): for an event on ``/a/b/c``, watchers on ``/``, ``/a``, ``/a/b``
(if recursive and the key is not hidden below them) and on ``/a/b/c`` itself; when nodes are
removed (delete, compareAndDelete, expire), also the watchers on every removed path, whatever
their flags. A watcher is told only of events at or after its ``since_index``; a one-shot watcher
leaves the hub after its first event, a streaming one stays until cancelled. A watcher is told
once per event (etcd tells a streaming watcher on a deleted key twice; we do not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from actors.etcd.event import Event


class Notification(NamedTuple):
    sink: Any  # what the watch was registered with (the Watcher itself if no sink was given)
    event: Event


@dataclass(eq=False)
class Watcher:
    id: int
    key: str
    recursive: bool
    stream: bool
    since_index: int
    start_index: int  # the store index when the watch began: the response's X-Etcd-Index
    sink: Any = None
    cancelled: Callable[[], bool] | None = None
    events: tuple[Event, ...] = ()  # found in the history: deliver at once
    registered: bool = False  # still in the hub, waiting for live events
    _last_event: int = field(default=0, repr=False)

    @property
    def target(self) -> Any:
        return self if self.sink is None else self.sink

    @property
    def done(self) -> bool:
        """Nothing more will come: a one-shot watch answered from the history, or cancelled."""
        return not self.registered


def is_hidden(watch_path: str, key_path: str) -> bool:
    """Is ``key_path`` hidden from a watcher on ``watch_path`` (a ``_`` component below it)?"""
    if len(watch_path) > len(key_path):
        return False
    rest = key_path[len(watch_path) :]
    return "/_" in ("/" + rest.lstrip("/")) if rest else False


def ancestors(key: str) -> list[str]:
    """``/``, then every directory above ``key``, then ``key`` itself."""
    out = ["/"]
    i = key.find("/", 1)
    while i != -1:
        out.append(key[:i])
        i = key.find("/", i + 1)
    if len(key) > 1:
        out.append(key)
    return out


class WatcherHub:
    def __init__(self) -> None:
        self._by_key: dict[str, list[Watcher]] = {}
        self._by_id: dict[int, Watcher] = {}
        self._next_id = 1

    @property
    def count(self) -> int:
        return len(self._by_id)

    def new_id(self) -> int:
        wid = self._next_id
        self._next_id += 1
        return wid

    def add(self, watcher: Watcher) -> None:
        watcher.registered = True
        self._by_key.setdefault(watcher.key, []).append(watcher)
        self._by_id[watcher.id] = watcher

    def remove(self, watcher: Watcher) -> bool:
        if not watcher.registered:
            return False
        watcher.registered = False
        self._by_id.pop(watcher.id, None)
        bucket = self._by_key.get(watcher.key)
        if bucket is not None:
            bucket.remove(watcher)
            if not bucket:
                del self._by_key[watcher.key]
        return True

    def get(self, watcher_id: int) -> Watcher | None:
        return self._by_id.get(watcher_id)

    def prune(self) -> int:
        """Drop the watchers whose ``cancelled()`` says their client has gone; how many."""
        gone = [w for w in self._by_id.values() if w.cancelled is not None and w.cancelled()]
        for w in gone:
            self.remove(w)
        return len(gone)

    def notify(self, event: Event, removed: list[str] | None = None) -> list[Notification]:
        """Who must hear of ``event``; ``removed`` lists the paths the event took away."""
        if not self._by_key:
            return []
        out: list[Notification] = []
        index = event.index
        key = event.node.key
        if removed:
            for path in removed:
                self._tell(path, event, index, out, deleted=True, hidden=False)
        for path in ancestors(key):
            hidden = path != key and is_hidden(path, key)
            self._tell(path, event, index, out, deleted=False, hidden=hidden)
        return out

    def _tell(
        self,
        path: str,
        event: Event,
        index: int,
        out: list[Notification],
        deleted: bool,
        hidden: bool,
    ) -> None:
        bucket = self._by_key.get(path)
        if not bucket or hidden:
            return
        original = path == event.node.key
        for w in list(bucket):
            if not (w.recursive or original or deleted) or index < w.since_index:
                continue
            if w._last_event == index:
                continue  # already told of this event
            w._last_event = index
            out.append(Notification(w.target, event))
            if not w.stream:
                self.remove(w)
