"""A Pykka actor that runs on a node's event loop instead of a thread of its own.

Other code still ``tell``s and ``ask``s it through its ``ActorRef``, from any thread; only the
delivery changes. The inbox is a deque: a message put from the loop's own thread costs an append
and (for the first of a burst) one ``call_soon``; from another thread, one
``call_soon_threadsafe`` wakes the loop for the whole burst queued before the drain runs. The
drain handles each envelope the way Pykka's ``_actor_loop_running`` does (reply, exception,
failure, stop), so the actor keeps Pykka's semantics.

Rules that follow from sharing a loop: a handler must not block for long (it stalls the node's
network and client port with it; the etcd member's WAL fsync is the one wait it takes, and a
loaded leader takes even that on a thread of its own), and must
never ``ask(...).get()`` an actor on the same loop or
``stop(block=True)`` one (the loop would wait on itself) — tell, and take the answer as a message.

This is the one module that uses Pykka 4's private hooks (``_create_actor_inbox``,
``_start_actor_loop``, ``_handle_receive``, ``_handle_failure``, ``_actor_loop_teardown``,
``_stop``). setup.cfg asks for ``pykka>=4.0,<5`` (4.0.0 and 4.5.0 checked): a new major version
may move them, and tests/test_loopactor.py is where that would show.
"""

from __future__ import annotations

import collections
import logging
import sys
from collections.abc import Callable
from typing import Any

from pykka import ActorRegistry

from emulator.nodectx import NodeActor, NodeContext
from emulator.nodeloop import NodeLoop

DRAIN_CAP = 512  # envelopes per drain before yielding to the loop's I/O (the rest go next turn)
_log = logging.getLogger("pykka")


class LoopInbox:
    """Pykka's ``ActorInbox`` (put/get/empty) over a deque, woken on the actor's loop."""

    def __init__(self) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.scheduled = False  # a drain is queued on the loop (one wake-up per burst)
        self._loop: NodeLoop | None = None
        self._drain: Any = None

    def bind(self, loop: NodeLoop, drain: Any) -> None:
        self._loop, self._drain = loop, drain

    def put(self, envelope: Any, /) -> None:
        self.items.append(envelope)
        if self.scheduled or self._loop is None:
            return
        self.scheduled = True
        try:
            self._loop.call_soon(self._drain)
        except RuntimeError:  # the loop closed (node shutting down): nobody will read this
            pass

    def get(self) -> Any:
        return self.items.popleft()

    def empty(self) -> bool:
        return not self.items


class LoopActor(NodeActor):
    """A :class:`~emulator.nodectx.NodeActor` driven by ``loop`` (its own private loop thread
    when None, for tests and tools that run the actor alone)."""

    def __init__(self, ctx: NodeContext, loop: NodeLoop | None = None):
        super().__init__(ctx)
        self._own_loop = loop is None
        self.loop = NodeLoop(self.actor_name) if loop is None else loop
        self._set_up = False

    @staticmethod
    def _create_actor_inbox() -> LoopInbox:
        return LoopInbox()

    def _start_actor_loop(self) -> None:
        if self._own_loop:
            self.loop.start()
        self.actor_inbox.bind(self.loop, self._drain)
        self.loop.call_soon(self._setup)

    def _setup(self) -> None:
        self._actor_loop_setup()  # on_start; a failure there stops the actor (Pykka's rule)
        self._set_up = True
        self._drain()

    def _drain(self) -> None:
        inbox: LoopInbox = self.actor_inbox  # type: ignore[assignment]
        inbox.scheduled = False  # first: a message put from now on schedules another drain
        if not self._set_up:
            return  # _setup drains once on_start has run
        items = inbox.items
        for _ in range(DRAIN_CAP):
            if not items or self.actor_stopped.is_set():
                break
            self._handle_envelope(items.popleft())
        if self.actor_stopped.is_set():
            self._finish()
        elif items and not inbox.scheduled:
            inbox.scheduled = True
            self.loop.loop.call_soon(self._drain)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """On the loop's thread: run ``fn()`` after what is already queued on the loop, as a
        handler runs (an exception fails the actor as a handler's would)."""
        self.loop.loop.call_soon(self._guarded, fn)

    def _guarded(self, fn: Callable[[], None]) -> None:
        if self.actor_stopped.is_set():
            return
        try:
            fn()
        except Exception:
            self._fail(sys.exc_info())
        if self.actor_stopped.is_set():
            self._finish()

    def _fail(self, exc_info: Any) -> None:
        self._handle_failure(*exc_info)  # logs, unregisters, marks the actor stopped
        try:
            self.on_failure(*exc_info)
        except Exception:
            self._handle_failure(*sys.exc_info())

    def _handle_envelope(self, envelope: Any) -> None:
        # Pykka's _actor_loop_running, one envelope at a time
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                _log.info(f"Exception returned from {self} to caller:", exc_info=sys.exc_info())
                envelope.reply_to.set_exception()
            else:
                self._fail(sys.exc_info())
        except BaseException:
            _log.debug(f"{sys.exc_info()[1]!r} in {self}. Stopping all actors.")
            self._stop()
            ActorRegistry.stop_all(block=False)  # blocking here would wait on this very loop

    def _finish(self) -> None:
        self._actor_loop_teardown()  # fail the asks still queued with ActorDeadError
        if self._own_loop:
            self.loop.loop.call_soon(self.loop.loop.stop)
