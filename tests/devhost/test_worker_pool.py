"""devhost's batching thread pool (every call's outcome reaches its awaiting coroutine) and its
worker process count."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from devhost.errors import StartupError
from devhost.worker_pool import BatchingWorkerPool
from devhost.worker_processes import worker_process_count


def test_a_call_raising_stop_iteration_fails_alone() -> None:
    # A bare next() on an empty iterator is ordinary function code; a Future cannot carry
    # StopIteration, and the results drained with it must still arrive.
    pool = BatchingWorkerPool(2)
    together = threading.Barrier(2)

    def raises() -> None:
        together.wait()
        next(iter([]))

    def fine() -> str:
        together.wait()
        return "ok"

    async def scenario() -> list[object]:
        calls = [pool.run(raises), pool.run(fine)]
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)

    try:
        failed, succeeded = asyncio.run(scenario())
    finally:
        pool.shutdown()
    assert succeeded == "ok"
    assert isinstance(failed, RuntimeError) and isinstance(failed.__cause__, StopIteration)


def test_results_keep_arriving_after_a_failed_call() -> None:
    pool = BatchingWorkerPool(1)

    async def scenario() -> int:
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(pool.run(next, iter([])), 5)
        return await asyncio.wait_for(pool.run(sum, [1, 2, 3]), 5)

    try:
        assert asyncio.run(scenario()) == 6
    finally:
        pool.shutdown()


def test_a_result_drained_after_an_abandoned_call_still_arrives() -> None:
    """A call whose caller gave up (functionTimeout answered 504) finishes in the same batch as
    another call: the other call's result still reaches its caller."""
    pool = BatchingWorkerPool(1)
    started, release = threading.Event(), threading.Event()

    def abandoned_call() -> str:
        started.set()
        release.wait(5)
        return "too late"

    async def scenario() -> int:
        abandoned = pool.run(abandoned_call)
        wanted = pool.run(sum, [1, 2, 3])
        await asyncio.to_thread(started.wait, 5)
        abandoned.cancel()  # its caller answered 504 while it ran
        release.set()
        time.sleep(0.3)  # hold the loop so both results wait in one batch for the next drain
        return await asyncio.wait_for(wanted, 5)

    try:
        assert asyncio.run(scenario()) == 6
    finally:
        pool.shutdown()


@pytest.mark.parametrize(("configured", "count"), [("", 1), ("1", 1), ("10", 10), (" 4 ", 4)])
def test_worker_process_counts_from_one_to_ten_are_accepted(
    monkeypatch: pytest.MonkeyPatch, configured: str, count: int
) -> None:
    """FUNCTIONS_WORKER_PROCESS_COUNT: unset is 1, and 10 (the host's limit) is allowed."""
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", configured)
    assert worker_process_count() == count


@pytest.mark.parametrize("configured", ["0", "-2", "two"])
def test_worker_process_counts_below_one_stop_devhost(
    monkeypatch: pytest.MonkeyPatch, configured: str
) -> None:
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", configured)
    with pytest.raises(StartupError, match="from 1 to 10"):
        worker_process_count()
