"""What the keyspace answers with: an :class:`Event` holding :class:`NodeView` snapshots.

These mirror etcd's ``Event`` and ``NodeExtern``: immutable pictures of a node taken when the
event happened (a ``ttl`` in an event from the watch history is the ttl it had back then, as in
etcd). They are wire messages so a store snapshot can carry the event history.
"""

from __future__ import annotations

from enum import Enum

from emulator.wire import message


class Action(str, Enum):
    GET = "get"
    CREATE = "create"
    SET = "set"
    UPDATE = "update"
    DELETE = "delete"
    COMPARE_AND_SWAP = "compareAndSwap"
    COMPARE_AND_DELETE = "compareAndDelete"
    EXPIRE = "expire"


# The plain strings, for the hot paths: an enum member's ``.value`` is a descriptor call each time.
GET, CREATE, SET, UPDATE, DELETE = "get", "create", "set", "update", "delete"
COMPARE_AND_SWAP, COMPARE_AND_DELETE, EXPIRE = "compareAndSwap", "compareAndDelete", "expire"
assert [a.value for a in Action] == [
    GET, CREATE, SET, UPDATE, DELETE, COMPARE_AND_SWAP, COMPARE_AND_DELETE, EXPIRE
]  # fmt: skip

# Actions whose body noValueOnSuccess empties (etcd's writeKeyEvent).
VALUE_ACTIONS = frozenset({SET, CREATE, UPDATE, COMPARE_AND_SWAP})
# Actions that remove a node (and so notify watchers below it).
REMOVE_ACTIONS = frozenset({DELETE, COMPARE_AND_DELETE, EXPIRE})


@message("etcd.Node")
class NodeView:
    key: str
    value: str | None  # None for directories and for the node of a delete/expire event
    dir: bool
    expiration: int | None  # unix ns, None when the node has no TTL
    ttl: int  # seconds left when the view was taken (0 when none)
    nodes: tuple[NodeView, ...] | None  # children, for listings; None when not listed
    modified_index: int
    created_index: int


@message("etcd.Event")
class Event:
    action: str  # an Action value
    node: NodeView
    prev_node: NodeView | None
    refresh: bool  # a TTL refresh: kept in the history for waitIndex, never sent to watchers

    @property
    def index(self) -> int:
        """The store index this event happened at (etcd: ``Event.Index``)."""
        return self.node.modified_index

    @property
    def is_created(self) -> bool:
        """A create, or a set of a key that did not exist: HTTP 201 instead of 200."""
        return self.action == CREATE or (self.action == SET and self.prev_node is None)
