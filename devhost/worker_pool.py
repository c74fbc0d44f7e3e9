"""A thread pool for sync function code that hands results back to the event loop in batches.

`loop.run_in_executor` wakes the event loop once per finished call (call_soon_threadsafe →
self-pipe write); under load that wake-up costs more than a trivial function. Here workers append
results to a deque and schedule one drain only when none is pending, so a busy loop collects
many results per wake-up (measured: ~60 µs → ~17 µs per call on 2 cores).
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class BatchingWorkerPool:
    """`await pool.run(fn, *args, **kwargs)` runs fn on one of `threads` worker threads."""

    def __init__(self, threads: int, name: str = "devhost-fn") -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: collections.deque[tuple[asyncio.Future, Any, BaseException | None]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._drain_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future:
        """Schedule fn and return a future of its result (awaitable from the calling loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        future = loop.create_future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            future, fn, args, kwargs = job
            if future.done():
                # Timed out while it waited for a thread, and its caller has answered (a 504):
                # it never runs, as on the host, which recycles the worker after a timeout.
                continue
            try:
                outcome = (future, fn(*args, **kwargs), None)
            except StopIteration as error:
                # A Future refuses StopIteration (it would end the awaiting coroutine's frame
                # instead): as asyncio.to_thread users do, it travels as a RuntimeError.
                failure = RuntimeError(f"{getattr(fn, '__name__', fn)!s} raised StopIteration")
                failure.__cause__ = error
                outcome = (future, None, failure)
            except BaseException as error:  # handed to the awaiting coroutine
                outcome = (future, None, error)
            self._done.append(outcome)
            with self._lock:
                if self._drain_pending:
                    continue
                self._drain_pending = True
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                return  # the loop has closed: nobody is waiting any more

    def _drain(self) -> None:
        # Clear the flag before draining: a result appended after this point schedules a new drain.
        with self._lock:
            self._drain_pending = False
        while self._done:
            future, result, error = self._done.popleft()
            if future.done():  # cancelled, or expired by the caller's timeout
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Stop the workers after the jobs already queued (running calls finish on their own)."""
        for _ in self._threads:
            self._jobs.put(_STOP)
