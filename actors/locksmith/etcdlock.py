"""The semaphore in etcd, over the v2 HTTP API: create once, read, compare-and-swap.

A thin shell over :class:`~actors.locksmith.semaphore.RebootSemaphore` and the project's one v2
client. Like locksmith's ``EtcdLockClient`` + ``Lock.store``: read the value and its
modifiedIndex, apply the operation, write with ``prevIndex``. A lost race (etcd errorCode 101,
"Compare failed") is tried again from a fresh read a few times; a refusal of the semaphore itself
(full, already held, not held) is not, and reaches the caller unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.locksmith.semaphore import RebootSemaphore, semaphore_key
from emulator.etcdctl_client import EtcdError, V2Client

NODE_EXIST = 105  # etcd: prevExist=false on a key that exists
TEST_FAILED = 101  # etcd: prevIndex/prevValue did not match
KEY_NOT_FOUND = 100
CAS_ATTEMPTS = 5


class EtcdLock:
    def __init__(self, client: V2Client, group: str | None = None):
        self.client = client
        self.key = semaphore_key(group)

    def init(self) -> None:
        """Create the semaphore unless it exists (locksmith's ``Init``)."""
        try:
            self.client.set(self.key, RebootSemaphore().to_json(), prev_exist=False)
        except EtcdError as exc:
            if exc.code != NODE_EXIST:
                raise

    def get(self) -> RebootSemaphore:
        """The stored semaphore and its modifiedIndex (created first if missing)."""
        try:
            resp = self.client.get(self.key, quorum=True)
        except EtcdError as exc:
            if exc.code != KEY_NOT_FOUND:
                raise
            self.init()
            resp = self.client.get(self.key, quorum=True)
        return RebootSemaphore.from_json(
            str(resp.node.get("value", "")), int(resp.node.get("modifiedIndex", 0))
        )

    def store(
        self, change: Callable[[RebootSemaphore], RebootSemaphore]
    ) -> tuple[RebootSemaphore, RebootSemaphore]:
        """Apply ``change`` by CAS; returns (before, after). Raises LockError, EtcdError, ..."""
        for attempt in range(CAS_ATTEMPTS):
            before = self.get()
            after = change(before)
            try:
                resp = self.client.set(self.key, after.to_json(), prev_index=before.index)
            except EtcdError as exc:
                if exc.code == TEST_FAILED and attempt < CAS_ATTEMPTS - 1:
                    continue  # someone else changed it between our read and write
                raise
            return before, RebootSemaphore.from_json(
                after.to_json(), int(resp.node.get("modifiedIndex", 0))
            )
        raise AssertionError("unreachable")

    def lock(self, holder: str) -> RebootSemaphore:
        return self.store(lambda s: s.lock(holder))[1]

    def unlock(self, holder: str) -> RebootSemaphore:
        return self.store(lambda s: s.unlock(holder))[1]

    def set_max(self, new_max: int) -> tuple[RebootSemaphore, RebootSemaphore]:
        return self.store(lambda s: s.set_max(new_max))
