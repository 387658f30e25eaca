"""A node's event loop thread: where its transport, etcd member and client port all run.

One thread for the hot path means a write crosses no thread inside a node: the client port hands
the request to the member, the member hands frames to the transport and replies to the client port,
each by a plain call or a ``call_soon`` on this loop. Other threads (the ticker, the supervisor's
control path, the other actors) reach it with :meth:`NodeLoop.call_threadsafe` or :meth:`run`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (a little less CPU per callback), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class NodeLoop:
    """An asyncio (uvloop) loop running on a daemon thread of its own until :meth:`stop`."""

    def __init__(self, name: str):
        self.name = name
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"loop-{name}", daemon=True)
        self._running = threading.Event()
        self.thread_id: int | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._running.wait(10):
            raise RuntimeError(f"event loop {self.name} did not start")

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def in_loop(self) -> bool:
        return threading.get_ident() == self.thread_id

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread: run ``fn(*args)`` on the loop soon (the cheap path on the loop)."""
        if self.in_loop():
            self.loop.call_soon(fn, *args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def run(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run ``fn(*args)`` on the loop and return its result; runs inline on the loop itself."""
        if self.in_loop():
            return fn(*args)

        async def call() -> T:
            return fn(*args)

        return self.wait(call(), timeout)

    def wait(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the loop and wait for it (from another thread: the loop would
        deadlock waiting on itself)."""
        if self.in_loop():
            coro.close()
            raise RuntimeError(f"waiting on loop {self.name} from its own thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        self.thread_id = threading.get_ident()
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._running.set)
        try:
            self.loop.run_forever()
        finally:
            self._cancel_leftovers()
            self.loop.close()

    def _cancel_leftovers(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
