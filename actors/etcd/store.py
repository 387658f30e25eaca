"""The etcd v2 keyspace: the Raft state machine behind ``/v2/keys`` (etcd's ``v2store``).

Theory of operation. Every member applies the same :class:`V2Request` list in log order with
:meth:`KeyStore.apply`; nothing in it reads a clock (the request carries the proposer's
``time_ns`` and the absolute ``expiration``), so every member holds the same tree, the same
indexes and the same event history, and answers alike.

The *store index* (``X-Etcd-Index``, ``createdIndex``, ``modifiedIndex``) is etcd's own counter,
not the Raft index: it grows by one for each change that succeeds (set, create, update,
compareAndSwap, delete, compareAndDelete, each expired key, and TTL refreshes) and stays put for
failed writes, reads, quorum reads and SYNCs that expire nothing. Each change adds exactly one
event to the history, which is what makes ``waitIndex`` lookups a matter of offsets.

A failed write changes nothing but the failure counter, and its error carries the store index.
TTL expiry happens only when a SYNC entry applies (the leader proposes one periodically with its
clock): every member expires the same keys at the same log position, producing ``expire`` events.
Reads on a member between expiry time and the next SYNC still see the key, with ttl <= 0, as in
etcd.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.etcd import errors as E
from actors.etcd import event as ev
from actors.etcd import stats as S
from actors.etcd.commands import Method, V2Request
from actors.etcd.errors import EtcdError
from actors.etcd.event import Event, NodeView
from actors.etcd.history import HISTORY_CAPACITY, EventHistory
from actors.etcd.node import MIN_EXPIRE_NS, PERMANENT, Node, clean_path, compare_failure, split_path
from actors.etcd.snapshot import decode_snapshot, encode_snapshot
from actors.etcd.stats import StoreStats
from actors.etcd.tree import ROOT, Tree
from actors.etcd.watch import Notification, Watcher, WatcherHub


@dataclass(slots=True)  # one per applied entry on every member: a frozen __init__ costs 3x
class ApplyResult:
    request_id: str
    event: Event | None  # None for a failed write or a SYNC
    error: EtcdError | None
    notifications: tuple[Notification, ...]  # (sink, event) pairs for waiting watchers
    etcd_index: int  # the store index after this entry: the answer's X-Etcd-Index
    expired: tuple[Event, ...] = ()  # a SYNC's expire events

    @property
    def result(self) -> Event | EtcdError | None:
        return self.error if self.error is not None else self.event


class KeyStore:
    def __init__(self, history_capacity: int = HISTORY_CAPACITY):
        self.tree = Tree()
        self.index = 0  # etcd's CurrentIndex
        self.raft_index = 0  # the last log index applied
        self.history = EventHistory(history_capacity)
        self.hub = WatcherHub()
        self.counters = StoreStats()
        self._notes: list[Notification] = []

    # --- reads (local, never through the log) ----------------------------------------------
    def get(
        self, path: str, recursive: bool = False, sorted: bool = False, now_ns: int = 0
    ) -> Event | EtcdError:
        """A GET: the node (a directory lists its children); ttl computed at ``now_ns``."""
        try:
            node = self._lookup(clean_path(path))
        except EtcdError as err:
            self.counters.inc(S.GET_FAIL)
            return err
        self.counters.inc(S.GET_SUCCESS)
        return Event(ev.GET, node.listing(now_ns, recursive, sorted), None, False)

    def watch(
        self,
        path: str,
        recursive: bool = False,
        stream: bool = False,
        since_index: int = 0,
        sink: Any = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Watcher | EtcdError:
        """Start a watch. ``since_index`` 0 means "from the next change".

        Events already in the history come back in ``Watcher.events`` (one for a one-shot
        watch, which then is done; all of them for a stream). A watch that must wait is
        registered; its events come back from :meth:`apply` as ``(sink, event)`` pairs.
        401 if ``since_index`` is older than the history keeps.
        """
        key = clean_path(path)
        since = since_index or self.index + 1
        found = self.history.scan(key, recursive, since, self.index, first_only=not stream)
        if isinstance(found, EtcdError):
            return found
        watcher = Watcher(
            self.hub.new_id(),
            key,
            recursive,
            stream,
            since,
            self.index,
            sink,
            cancelled,
            tuple(found),
        )
        if found and not stream:
            return watcher
        if stream:
            watcher.since_index = max(since, self.index + 1)  # the history covered the rest
        self.hub.add(watcher)
        return watcher

    def cancel_watch(self, watcher: Watcher | int) -> bool:
        """Forget a waiting watcher (its client went away); False if it was not waiting."""
        if isinstance(watcher, int):
            found = self.hub.get(watcher)
            if found is None:
                return False
            watcher = found
        return self.hub.remove(watcher)

    def prune_watchers(self) -> int:
        """Drop watchers whose ``cancelled()`` is true; returns how many."""
        return self.hub.prune()

    def has_expiring_keys(self) -> bool:
        """Does any node have a TTL? (etcd's leader proposes SYNC only then.)"""
        return len(self.tree.expiry) > 0

    def next_expiry_ns(self) -> int | None:
        """When the soonest TTL runs out (unix ns), None if no node has a TTL."""
        return self.tree.expiry.next_expiry()

    def stats(self) -> dict[str, int]:
        """The ``/v2/stats/store`` object (counters in etcd's order, then ``watchers``)."""
        return self.counters.to_dict(self.hub.count)

    # --- the state machine ---------------------------------------------------------------------
    def apply(self, req: V2Request, raft_index: int) -> ApplyResult:
        """Apply one committed request; errors leave the tree and the index unchanged."""
        self.raft_index = raft_index
        self._notes = []
        event: Event | None = None
        error: EtcdError | None = None
        expired: tuple[Event, ...] = ()
        try:
            method = req.method
            if method == Method.PUT:
                event = self._put(req)
            elif method == Method.POST:
                event = self._counted(S.CREATE_SUCCESS, S.CREATE_FAIL, self._create, req, True)
            elif method == Method.DELETE:
                event = self._delete_request(req)
            elif method == Method.QGET:
                got = self.get(req.path, req.recursive, req.sorted, req.time_ns)
                if isinstance(got, EtcdError):
                    raise got
                event = got
            elif method == Method.SYNC:
                expired = tuple(self._expire(req.time_ns))
            else:
                raise EtcdError(E.RAFT_INTERNAL, "etcdserver: unknown method", self.index)
        except EtcdError as err:
            error = err
        notes, self._notes = tuple(self._notes), []
        return ApplyResult(req.id, event, error, notes, self.index, expired)

    def _counted(self, ok: str, fail: str, op: Callable[..., Event], *args: Any) -> Event:
        try:
            event = op(*args)
        except EtcdError:
            self.counters.inc(fail)
            raise
        self.counters.inc(ok)
        return event

    def _put(self, req: V2Request) -> Event:
        compare = req.prev_index > 0 or req.prev_value != ""
        if req.prev_exist is not None:
            if not req.prev_exist:
                return self._counted(S.CREATE_SUCCESS, S.CREATE_FAIL, self._create, req, False)
            if not compare:
                return self._counted(S.UPDATE_SUCCESS, S.UPDATE_FAIL, self._update, req)
        if compare:
            return self._counted(S.CAS_SUCCESS, S.CAS_FAIL, self._compare_and_swap, req)
        return self._counted(S.SET_SUCCESS, S.SET_FAIL, self._set, req)

    def _delete_request(self, req: V2Request) -> Event:
        if req.prev_index > 0 or req.prev_value != "":
            return self._counted(S.CAD_SUCCESS, S.CAD_FAIL, self._compare_and_delete, req)
        return self._counted(S.DELETE_SUCCESS, S.DELETE_FAIL, self._delete, req)

    # --- the operations (etcd's store.go, one by one) -------------------------------------------
    def _set(self, req: V2Request) -> Event:
        path = clean_path(req.path)
        value = req.value
        try:
            prev = self._lookup(path)
        except EtcdError as err:
            if err.code != E.KEY_NOT_FOUND or req.refresh:
                raise
            prev = None
        if req.refresh and prev is not None:
            value = prev.value
        event = self._internal_create(
            path, req.dir, value, True, req.expiration, ev.SET, req.time_ns, found=prev
        )
        self._record(event, refresh=req.refresh)
        return event

    def _create(self, req: V2Request, unique: bool) -> Event:
        path = req.path
        if unique:
            path = f"{path}/{self.index + 1:020d}"
        event = self._internal_create(
            clean_path(path),
            req.dir,
            req.value,
            False,
            req.expiration,
            ev.CREATE,
            req.time_ns,
        )
        self._record(event)
        return event

    def _internal_create(
        self,
        path: str,
        is_dir: bool,
        value: str,
        replace: bool,
        expire_ns: int,
        action: str,
        now: int,
        found: Node | None = None,
    ) -> Event:
        """etcd's ``internalCreate``; ``found`` is the node at ``path`` if the caller looked it
        up already (a set over a key: no second walk)."""
        cur = self.index
        nxt = cur + 1
        if path == ROOT:
            raise EtcdError(E.ROOT_READ_ONLY, ROOT, cur)
        if expire_ns < MIN_EXPIRE_NS:
            expire_ns = PERMANENT
        if found is not None and found.parent is not None:
            parent, name, existing = found.parent, found.name, found
        else:
            dir_name, name = split_path(path)
            try:
                parent = self.tree.make_dirs(dir_name, nxt, cur)
            except EtcdError:
                self.counters.inc(S.SET_FAIL)  # etcd counts a walk failure as a failed set too
                raise
            assert parent.children is not None
            existing = parent.children.get(name)
        prev_view: NodeView | None = None
        if existing is not None:
            if not replace:
                raise EtcdError(E.NODE_EXIST, path, cur)
            if existing.is_dir:
                raise EtcdError(E.NOT_FILE, path, cur)
            prev_view = existing.repr(now)
            self.tree.detach(existing)
        node = Node(path, nxt, parent, expire_ns, "" if is_dir else value, is_dir)
        self.tree.attach(parent, name, node)
        self.index = nxt
        return Event(action, node.repr(now), prev_view, False)

    def _update(self, req: V2Request) -> Event:
        path = clean_path(req.path)
        cur = self.index
        if path == ROOT:
            raise EtcdError(E.ROOT_READ_ONLY, ROOT, cur)
        node = self._lookup(path)
        value = req.value
        if node.is_dir and value:
            raise EtcdError(E.NOT_FILE, path, cur)
        if req.refresh:
            value = node.value
        nxt = cur + 1
        now = req.time_ns
        prev_view = node.repr(now)
        if not node.is_dir:  # etcd leaves a directory's modifiedIndex as it was
            node.value = value
            node.modified_index = nxt
        self.tree.set_ttl(node, req.expiration)
        view = node.repr(now)
        event = Event(
            ev.UPDATE,
            NodeView(
                path,
                view.value,
                node.is_dir,
                view.expiration,
                view.ttl,
                None,
                nxt,
                node.created_index,
            ),
            prev_view,
            False,
        )
        self.index = nxt
        self._record(event, refresh=req.refresh)
        return event

    def _compare_and_swap(self, req: V2Request) -> Event:
        path = clean_path(req.path)
        if path == ROOT:
            raise EtcdError(E.ROOT_READ_ONLY, ROOT, self.index)
        node = self._lookup(path)
        self._compare(node, path, req.prev_value, req.prev_index)
        value = node.value if req.refresh else req.value
        self.index += 1
        prev_view = node.repr(req.time_ns)
        node.value = value
        node.modified_index = self.index
        self.tree.set_ttl(node, req.expiration)
        event = Event(ev.COMPARE_AND_SWAP, node.repr(req.time_ns), prev_view, False)
        self._record(event, refresh=req.refresh)
        return event

    def _delete(self, req: V2Request) -> Event:
        path = clean_path(req.path)
        cur = self.index
        if path == ROOT:
            raise EtcdError(E.ROOT_READ_ONLY, ROOT, cur)
        recursive = req.recursive
        node = self._lookup(path)
        if node.children is not None:
            if not (req.dir or recursive):
                raise EtcdError(E.NOT_FILE, path, cur)
            if node.children and not recursive:
                raise EtcdError(E.DIR_NOT_EMPTY, path, cur)
        nxt = cur + 1
        view = NodeView(path, None, node.is_dir, None, 0, None, nxt, node.created_index)
        event = Event(ev.DELETE, view, node.repr(req.time_ns), False)
        removed = self.tree.detach(node)
        self.index = nxt
        self._record(event, removed=removed)
        return event

    def _compare_and_delete(self, req: V2Request) -> Event:
        path = clean_path(req.path)
        node = self._lookup(path)
        # (etcd has no root check here: the root is a directory, and its path trims to "")
        self._compare(node, "" if path == ROOT else path, req.prev_value, req.prev_index)
        self.index += 1
        view = NodeView(path, None, False, None, 0, None, self.index, node.created_index)
        event = Event(ev.COMPARE_AND_DELETE, view, node.repr(req.time_ns), False)
        removed = self.tree.detach(node)
        self._record(event, removed=removed)
        return event

    def _expire(self, cutoff_ns: int) -> list[Event]:
        """etcd's DeleteExpiredKeys: every node whose expiry is <= cutoff, soonest first."""
        events: list[Event] = []
        while (node := self.tree.expiry.pop_due(cutoff_ns)) is not None:
            self.index += 1
            view = NodeView(
                node.path, None, node.is_dir, None, 0, None, self.index, node.created_index
            )
            event = Event(ev.EXPIRE, view, node.repr(cutoff_ns), False)
            removed = self.tree.detach(node)
            self.counters.inc(S.EXPIRE_COUNT)
            self._record(event, removed=removed)
            events.append(event)
        return events

    # --- helpers ---------------------------------------------------------------------------------
    def _record(
        self, event: Event, refresh: bool = False, removed: list[str] | None = None
    ) -> None:
        """Add ``event`` to the history and collect who must hear of it (a refresh: nobody)."""
        if refresh:
            event = Event(event.action, event.node, event.prev_node, True)
            self.history.add(event)
            return
        self.history.add(event)
        self._notes.extend(self.hub.notify(event, removed))

    def _lookup(self, path: str) -> Node:
        return self.tree.lookup(path, self.index)

    def _compare(self, node: Node, cause_path: str, prev_value: str, prev_index: int) -> None:
        if node.is_dir:
            raise EtcdError(E.NOT_FILE, cause_path, self.index)
        cause = compare_failure(node, prev_value, prev_index)
        if cause is not None:
            raise EtcdError(E.TEST_FAILED, cause, self.index)

    # --- snapshots -------------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole store (tree, index, history, counters) for a Raft snapshot. Watchers are
        local to this member and not included."""
        return encode_snapshot(
            self.tree.root, self.index, self.raft_index, self.counters, self.history
        )

    def restore(self, data: bytes) -> None:
        """Replace the state with a :meth:`snapshot`; waiting watchers stay (as in etcd)."""
        state = decode_snapshot(data, self.history.capacity)
        self.tree = Tree(state.root)
        self.index = state.index
        self.raft_index = state.raft_index
        self.counters = state.stats
        self.history = state.history

    def __repr__(self) -> str:
        return f"KeyStore(index={self.index}, raft_index={self.raft_index})"
