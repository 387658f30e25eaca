"""The keyspace as bytes, for Raft snapshots: tree, store index, counters and event history.

The tree travels flat, parents before children in insertion order, so a restored store lists
children in the same order and its encoding is byte-for-byte the same as the original's. The
history travels too (etcd keeps it in its snapshots), so ``waitIndex`` works the same on a member
that caught up from a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.etcd.event import Event
from actors.etcd.history import EventHistory
from actors.etcd.node import Node, split_path
from actors.etcd.stats import COUNTERS, StoreStats
from emulator import wire
from emulator.wire import message

SNAPSHOT_VERSION = 1


@message("etcd.StoreSnapshot")
class StoreSnapshot:
    version: int
    index: int
    raft_index: int
    counters: tuple[int, ...]
    history: tuple[Event, ...]
    # (path, created_index, modified_index, expire_ns, is_dir, value), parents first
    nodes: tuple[tuple[str, int, int, int, bool, str], ...]


@dataclass
class RestoredState:
    root: Node
    index: int
    raft_index: int
    stats: StoreStats
    history: EventHistory


class SnapshotError(ValueError):
    """The bytes are not a keyspace snapshot this version can read."""


def encode_snapshot(
    root: Node, index: int, raft_index: int, stats: StoreStats, history: EventHistory
) -> bytes:
    nodes = tuple(
        (n.path, n.created_index, n.modified_index, n.expire_ns, n.is_dir, n.value)
        for n in root.walk()
        if n is not root
    )
    return wire.pack(
        StoreSnapshot(SNAPSHOT_VERSION, index, raft_index, stats.values(), history.events(), nodes)
    )


def decode_snapshot(data: bytes, history_capacity: int) -> RestoredState:
    root = Node("/", 0, None, is_dir=True)
    if not data:  # an empty snapshot is the empty store
        return RestoredState(root, 0, 0, StoreStats(), EventHistory(history_capacity))
    try:
        snap = wire.unpack(data)
    except wire.WireError as exc:
        raise SnapshotError(f"keyspace snapshot: {exc}") from None
    if not isinstance(snap, StoreSnapshot):
        raise SnapshotError(f"keyspace snapshot: got {type(snap).__name__}")
    if snap.version != SNAPSHOT_VERSION:
        raise SnapshotError(
            f"keyspace snapshot version {snap.version}, expected {SNAPSHOT_VERSION}"
        )
    if len(snap.counters) != len(COUNTERS):
        raise SnapshotError("keyspace snapshot: wrong number of counters")
    dirs: dict[str, Node] = {"/": root}
    for path, created, modified, expire_ns, is_dir, value in snap.nodes:
        parent_path, name = split_path(path)
        parent = dirs.get(parent_path.rstrip("/") or "/")
        if parent is None or parent.children is None or not name:
            raise SnapshotError(f"keyspace snapshot: {path} comes before its directory")
        node = Node(path, created, parent, expire_ns, value, is_dir)
        node.modified_index = modified
        parent.children[name] = node
        if is_dir:
            dirs[path] = node
    history = EventHistory(history_capacity, snap.history[-history_capacity:])
    return RestoredState(root, snap.index, snap.raft_index, StoreStats(snap.counters), history)
