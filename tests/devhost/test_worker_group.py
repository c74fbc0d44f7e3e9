"""devhost's language worker processes from the host's side: WorkerGroup and WorkerProcess.

Real `python -m devhost.language_worker` children serve the fixture app
(tests/devhost/fixture_host); these tests drive the group directly, without an HTTP front, to
pin what a caller of `invoke` sees: answers matched to their own call, a late answer for a call
devhost already timed out, a dead worker passed over and restarted alone, a worker that cannot
import the app, async functions beside busy threads.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from devhost.errors import StartupError
from devhost.timeouts import FunctionTimedOut
from devhost.worker_processes import WorkerGroup, WorkerProcess
from devhost.worker_protocol import Invocation, Outcome, WorkerConfig
from tests.devhost.devhost_process import FIXTURE_DIR

T = TypeVar("T")

CONFIG = WorkerConfig(
    app_ref="server_fixture_app:app",
    app_dir=str(FIXTURE_DIR),
    route_prefix="api",
    durable_client_json=None,
)


def within(awaitable: Awaitable[T], seconds: float = 20) -> Awaitable[T]:
    """A guard against a hang: a call matched to the wrong answer would wait forever."""
    return asyncio.wait_for(awaitable, seconds)


def get(path: str, invocation_id: int = 0) -> Invocation:
    """A GET of the fixture app's `path` (with its query), as devhost hands it to a worker."""
    route, _, query = path.partition("?")
    return Invocation(invocation_id, "GET", route, f"http://127.0.0.1{path}", query, {}, b"")


def group_get(group: WorkerGroup, path: str) -> asyncio.Future[Outcome]:
    route, _, query = path.partition("?")
    url = f"http://127.0.0.1{path}"
    return group.invoke(method="GET", path=route, url=url, query=query, headers={}, body=b"")


@asynccontextmanager
async def running(group: WorkerGroup) -> AsyncIterator[WorkerGroup]:
    try:
        await within(group.start(), 60)
        yield group
    finally:
        await within(group.stop(), 30)


async def killed(worker: WorkerProcess) -> None:
    """SIGKILL the worker process and wait until its host side has noticed."""
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    await within(worker.gone.wait())


def test_outcomes_reach_their_own_invocation_when_they_finish_out_of_order() -> None:
    """Each call gets its own id and its own answer: a quick call behind a slow one on the same
    worker is not handed the slow one's answer, nor the slow one the quick one's."""

    async def scenario() -> tuple[Outcome, Outcome]:
        async with running(WorkerGroup(1, CONFIG)) as group:
            slow = group_get(group, "/api/slow?s=1")
            quick = group_get(group, "/api/echo/5/x")
            return await within(asyncio.gather(slow, quick))

    slow, quick = asyncio.run(scenario())
    assert (slow.status, slow.body) == (200, b"slow done")
    assert quick.status == 207 and json.loads(quick.body)["route"] == {"id": "5", "rest": "x"}


def test_a_late_outcome_for_a_call_devhost_timed_out_leaves_the_worker_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker's answer for a call devhost already answered 504 (its Deadlines failed the
    future) is dropped: it does not end the reader, which would fail every other call on that
    worker with WorkerGone."""
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "1")  # the worker runs calls in order

    async def scenario() -> Outcome:
        async with running(WorkerGroup(1, CONFIG)) as group:
            timed_out = group_get(group, "/api/slow?s=0.3")
            timed_out.set_exception(FunctionTimedOut())  # as devhost's Deadlines sweep does
            assert isinstance(timed_out.exception(), FunctionTimedOut)
            after = group_get(group, "/api/pid")  # runs after the slow call, so answers later
            outcome = await within(after)
            assert not group.workers[0].gone.is_set()
            return outcome

    outcome = asyncio.run(scenario())
    assert outcome.status == 200 and not outcome.failed


def test_an_async_function_in_a_worker_is_not_held_up_by_busy_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Async functions run on the worker's event loop, not its thread pool: with the only
    thread busy past functionTimeout, an async function still answers."""
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "1")
    config = WorkerConfig(CONFIG.app_ref, CONFIG.app_dir, "api", None, function_timeout_s=1.0)

    async def scenario() -> tuple[Outcome, Outcome]:
        async with running(WorkerGroup(1, config)) as group:
            busy = group_get(group, "/api/slow?s=2")  # holds the thread past functionTimeout
            hello = group_get(group, "/api/async-hello")
            return await within(asyncio.gather(busy, hello))

    busy, hello = asyncio.run(scenario())
    assert busy.timed_out
    assert (hello.status, hello.body, hello.timed_out) == (200, b"hello from async", False)


def test_calls_go_to_the_living_worker_while_another_is_gone() -> None:
    """With one worker dead and not yet restarted, every call goes to the other one."""

    async def scenario() -> list[Outcome]:
        async with running(WorkerGroup(2, CONFIG)) as group:
            await killed(group.workers[0])  # supervise() is not running: it stays gone
            return [await within(group_get(group, "/api/pid")) for _ in range(4)]

    outcomes = asyncio.run(scenario())
    assert {outcome.status for outcome in outcomes} == {200}
    assert len({outcome.body for outcome in outcomes}) == 1


def test_only_the_worker_that_died_is_started_again() -> None:
    """The supervisor restarts the worker that died and leaves a living one, and the calls it
    is running, alone."""

    async def scenario() -> tuple[int | None, int | None, int | None, int | None]:
        stopping = asyncio.Event()
        async with running(WorkerGroup(2, CONFIG)) as group:
            supervising = asyncio.create_task(group.supervise(stopping))
            first, second = group.workers
            first_pid, second_pid = first.pid, second.pid
            await killed(second)  # supervise() restarts the workers in order: second is last

            async def restarted() -> None:
                while second.pid == second_pid or second.gone.is_set():
                    await asyncio.sleep(0.05)
                await within(second.invoke(get("/api/pid", 99)))  # it answers: started

            await within(restarted(), 60)
            stopping.set()
            await within(supervising)
            return first_pid, first.pid, second_pid, second.pid

    first_before, first_after, second_before, second_after = asyncio.run(scenario())
    assert second_after != second_before
    assert first_after == first_before


def test_a_worker_that_cannot_import_the_app_is_a_startup_error() -> None:
    """A worker that exits before READY (the app does not import) stops devhost with a
    StartupError naming the worker, not a bare IncompleteReadError."""
    broken = WorkerConfig("no_such_module_here:app", str(FIXTURE_DIR), "api", None)

    async def scenario() -> None:
        with pytest.raises(StartupError, match="language worker 0 did not start"):
            await within(WorkerProcess(0, broken).start(), 60)

    asyncio.run(scenario())
