"""Which nodes have a TTL, soonest first: the store's ``ttlKeyHeap``.

A heap with lazy deletion: changing or dropping a node's TTL only updates :attr:`_live`; stale
heap entries are skipped when they reach the top, and the heap is rebuilt when they pile up
(a lease refreshed every few seconds must not grow it forever). Ties on the expiry time are
broken by path, so every member expires keys in the same order.
"""

from __future__ import annotations

import heapq

from actors.etcd.node import PERMANENT, Node


class ExpiryQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[int, str, int, Node]] = []
        self._live: dict[Node, int] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def set(self, node: Node) -> None:
        """Track ``node`` at its current ``expire_ns`` (or stop tracking it if permanent)."""
        if node.expire_ns == PERMANENT:
            self._live.pop(node, None)
            return
        if self._live.get(node) == node.expire_ns:
            return
        self._live[node] = node.expire_ns
        self._seq += 1
        heapq.heappush(self._heap, (node.expire_ns, node.path, self._seq, node))
        if len(self._heap) > 2 * len(self._live) + 64:
            self._rebuild()

    def discard(self, node: Node) -> None:
        self._live.pop(node, None)

    def _valid(self, entry: tuple[int, str, int, Node]) -> bool:
        return self._live.get(entry[3]) == entry[0]

    def _rebuild(self) -> None:
        self._heap = [e for e in self._heap if self._valid(e)]
        heapq.heapify(self._heap)

    def next_expiry(self) -> int | None:
        """The soonest expiry time (unix ns), or None when no node has a TTL."""
        heap = self._heap
        while heap and not self._valid(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, cutoff_ns: int) -> Node | None:
        """The next node whose time is up at ``cutoff_ns`` (expiry <= cutoff), untracked."""
        soonest = self.next_expiry()
        if soonest is None or soonest > cutoff_ns:
            return None
        node = heapq.heappop(self._heap)[3]
        del self._live[node]
        return node

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()
