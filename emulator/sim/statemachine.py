"""State machines the simulator drives: a protocol and a small key-value store."""

from __future__ import annotations

from typing import Protocol

from actors.raft.entries import Entry, EntryKind
from emulator import wire


class StateMachine(Protocol):
    def apply(self, entry: Entry) -> None: ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


class KvStateMachine:
    """Commands are ``b"key=value"``; records every command it applied, in order.

    Empty entries (a new leader's no-op) and conf changes are not commands.
    """

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sequence: list[bytes] = []

    def apply(self, entry: Entry) -> None:
        if entry.kind != EntryKind.NORMAL or not entry.data:
            return
        key, _, value = entry.data.partition(b"=")
        self.data[key] = value
        self.sequence.append(entry.data)

    def snapshot(self) -> bytes:
        return wire.pack((self.data, tuple(self.sequence)))

    def restore(self, data: bytes) -> None:
        kv, sequence = wire.unpack(data)
        self.data = dict(kv)
        self.sequence = list(sequence)
