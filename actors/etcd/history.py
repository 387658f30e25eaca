"""The event history behind ``?wait=true&waitIndex=N``: the last 1000 events, by store index.

Every change of the store (refreshes included) bumps the store index by one and adds exactly one
event, so the history holds consecutive indexes and an index is found by offset, as in etcd. A
``waitIndex`` older than the oldest event kept is answered with 401 EventIndexCleared; one newer
than the newest event means "wait for it".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from actors.etcd.errors import EVENT_INDEX_CLEARED, EtcdError
from actors.etcd.event import REMOVE_ACTIONS, Event

HISTORY_CAPACITY = 1000


def event_matches(event: Event, key: str, recursive: bool) -> bool:
    """Does ``event`` concern a watch on ``key``? (etcd's history scan test, refreshes excluded)."""
    if event.refresh:
        return False
    node_key = event.node.key
    if node_key == key:
        return True
    if recursive:
        prefix = key if key.endswith("/") else key + "/"
        if node_key.startswith(prefix):
            return True
    prev = event.prev_node
    if event.action in REMOVE_ACTIONS and prev is not None and prev.dir:
        # removing a directory ends every key below it. (etcd compares raw string prefixes, so
        # deleting /foo would also answer a watch on /foobar; we compare whole path components.)
        return key.startswith(prev.key + "/")
    return False


class EventHistory:
    def __init__(self, capacity: int = HISTORY_CAPACITY, events: Iterable[Event] = ()):
        self.capacity = capacity
        self._events: deque[Event] = deque(events, maxlen=capacity)

    @property
    def start_index(self) -> int:
        """Index of the oldest event kept (0 while empty)."""
        return self._events[0].index if self._events else 0

    @property
    def last_index(self) -> int:
        return self._events[-1].index if self._events else 0

    def add(self, event: Event) -> None:
        if self._events and event.index != self._events[-1].index + 1:
            raise ValueError(
                f"history must be consecutive: {event.index} after {self._events[-1].index}"
            )
        self._events.append(event)

    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def scan(
        self, key: str, recursive: bool, index: int, store_index: int, first_only: bool = True
    ) -> list[Event] | EtcdError:
        """Events at or after ``index`` that a watch on ``key`` wants (at most one if
        ``first_only``); [] when none is kept yet; 401 when ``index`` has been cleared."""
        start = self.start_index
        if index < start:
            return EtcdError(
                EVENT_INDEX_CLEARED,
                f"the requested history has been cleared [{start}/{index}]",
                store_index,
            )
        if index > self.last_index:
            return []
        found: list[Event] = []
        events = self._events
        for i in range(index - start, len(events)):
            event = events[i]
            if event_matches(event, key, recursive):
                found.append(event)
                if first_only:
                    break
        return found
