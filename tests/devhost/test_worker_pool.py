"""devhost's batching thread pool: every call's outcome reaches its awaiting coroutine."""

from __future__ import annotations

import asyncio
import threading

import pytest

from devhost.worker_pool import BatchingWorkerPool


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
