"""State machines the simulator drives: a protocol, a small key-value store and etcd's keyspace.

``apply`` may return a canonical text of what the entry did (its answer to the client); the
simulator checks that every node applying the same index gets the same text. ``snapshot`` is
also what the simulator compares to check that nodes at the same applied index hold the same
state, so it must be deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from actors.etcd.commands import V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.node import Node, clean_path
from actors.etcd.store import ApplyResult, KeyStore
from actors.etcd.v2json import event_dict
from actors.raft.entries import Entry, EntryKind
from emulator import wire


class MachineKind(str, Enum):
    """Which state machine (and client workload) a simulation runs."""

    KV = "kv"
    ETCD = "etcd"


class StateMachine(Protocol):
    def apply(self, entry: Entry) -> str | None: ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


class KvStateMachine:
    """Commands are ``b"key=value"``; records every command it applied, in order.

    Empty entries (a new leader's no-op) and conf changes are not commands.
    """

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sequence: list[bytes] = []

    def apply(self, entry: Entry) -> str | None:
        if entry.kind != EntryKind.NORMAL or not entry.data:
            return None
        key, _, value = entry.data.partition(b"=")
        self.data[key] = value
        self.sequence.append(entry.data)
        return None  # the applied-entry check already covers a plain assignment

    def snapshot(self) -> bytes:
        return wire.pack((self.data, tuple(self.sequence)))

    def restore(self, data: bytes) -> None:
        kv, sequence = wire.unpack(data)
        self.data = dict(kv)
        self.sequence = list(sequence)


class BadCommand(ValueError):
    """A committed entry that is not a packed :class:`V2Request`."""


class EtcdStateMachine:
    """etcd's v2 keyspace: entries are ``wire.pack(V2Request)``, as the etcd member proposes.

    Snapshots are :meth:`KeyStore.snapshot` bytes, exactly what a member puts in a Raft
    snapshot. ``applied`` counts the requests applied since this machine started or restored.
    """

    def __init__(self) -> None:
        self.store = KeyStore()
        self.applied = 0

    def apply(self, entry: Entry) -> str | None:
        if entry.kind != EntryKind.NORMAL or not entry.data:
            return None
        req = wire.unpack(entry.data)
        if not isinstance(req, V2Request):
            raise BadCommand(f"entry {entry.index} holds a {type(req).__name__}")
        self.applied += 1
        return describe_result(entry.index, self.store.apply(req, entry.index))

    def snapshot(self) -> bytes:
        return self.store.snapshot()

    def restore(self, data: bytes) -> None:
        self.store.restore(data)

    def peek(self, path: str) -> Node | None:
        """What a client reading this member would see at ``path`` (no stats counted, so
        members' snapshots stay comparable)."""
        try:
            return self.store.tree.lookup(clean_path(path), self.store.index)
        except EtcdError:
            return None


MACHINES: dict[MachineKind, Callable[[], StateMachine]] = {
    MachineKind.KV: KvStateMachine,
    MachineKind.ETCD: EtcdStateMachine,
}


def describe_result(index: int, result: ApplyResult) -> str:
    """One line of JSON: the entry's answer (event or error), X-Etcd-Index and expirations."""
    out: dict[str, object] = {"index": index, "id": result.request_id}
    out["etcdIndex"] = result.etcd_index
    if result.event is not None:
        out["event"] = event_dict(result.event)
        out["refresh"] = result.event.refresh
    if result.error is not None:
        out["error"] = result.error.to_dict()
    if result.expired:
        out["expired"] = [event_dict(e) for e in result.expired]
    return json.dumps(out, separators=(",", ":"))
