"""Language worker processes: FUNCTIONS_WORKER_PROCESS_COUNT, as the Functions host reads it.

The host runs Python functions in worker processes, one by default and up to 10 with
FUNCTIONS_WORKER_PROCESS_COUNT, and spreads invocations over them. devhost by default runs
functions in its own process; with a count above 1 it starts that many workers
(`python -m devhost.language_worker`) and each HTTP invocation goes to the one with the fewest
in flight. Functions then share more than one core: one Python process holds one GIL.

devhost itself keeps serving HTTP, the durable engine (orchestrators and activities), timers and
blob triggers. A worker that dies is logged and started again; the invocations it had in flight
answer 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from devhost.errors import StartupError
from devhost.worker_protocol import READY, Invocation, Outcome, WorkerConfig, encode, read_message

logger = logging.getLogger("devhost.workers")

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
MAX_WORKER_PROCESSES = 10  # the host's limit
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


class WorkerGone(Exception):
    """The worker process ended before it answered."""


def worker_process_count() -> int:
    """FUNCTIONS_WORKER_PROCESS_COUNT (1 to 10), else 1: functions run in devhost itself."""
    configured = os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "").strip()
    if not configured:
        return 1
    if not configured.isdigit() or not 1 <= int(configured) <= MAX_WORKER_PROCESSES:
        limit = MAX_WORKER_PROCESSES
        raise StartupError(
            f"FUNCTIONS_WORKER_PROCESS_COUNT must be a number from 1 to {limit}, not {configured!r}"
        )
    return int(configured)


class WorkerProcess:
    """One worker child and its socket: `await start()`, `invoke()`, `await stop()`."""

    def __init__(self, index: int, config: WorkerConfig) -> None:
        self.index = index
        self._config = config
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        self._reading: asyncio.Task[None] | None = None
        self.gone = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self) -> None:
        """Start the child, hand it the config and wait until it has imported the app."""
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        command = [sys.executable, "-m", "devhost.language_worker", "--fd", str(fd)]
        # devhost's working directory (the app's folder), where relative settings point, and
        # devhost's own package importable from there.
        path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        self._process = subprocess.Popen(command, env=env, pass_fds=(fd,))
        theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        self._writer.write(encode(self._config))
        try:
            said = await asyncio.wait_for(read_message(reader), START_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError) as error:
            await self.stop()
            raise StartupError(
                f"language worker {self.index} did not start; see its log above"
            ) from error
        assert said == READY, said
        self.gone.clear()
        self._reading = asyncio.create_task(self._read_outcomes(reader))

    def invoke(self, invocation: Invocation) -> asyncio.Future[Outcome]:
        """Send invocation; the future resolves with its outcome, or WorkerGone."""
        future = asyncio.get_running_loop().create_future()
        if self.gone.is_set() or self._writer is None:
            future.set_exception(WorkerGone())
            return future
        self._pending[invocation.id] = future
        self._writer.write(encode(invocation))
        return future

    async def _read_outcomes(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                outcome: Outcome = await read_message(reader)
                future = self._pending.pop(outcome.id, None)
                if future is not None and not future.done():  # done: timed out already
                    future.set_result(outcome)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.gone.set()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(WorkerGone())

    async def stop(self) -> None:
        """Close the socket (the worker exits on its own), then wait for the process."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reading is not None:
            await asyncio.gather(self._reading, return_exceptions=True)
        process = self._process
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


class WorkerGroup:
    """The workers of one devhost; each invocation goes to the one with the fewest in flight."""

    def __init__(self, count: int, config: WorkerConfig) -> None:
        self.workers = [WorkerProcess(index, config) for index in range(count)]
        self._ids = itertools.count()
        self._turns = itertools.count()

    async def start(self) -> None:
        await asyncio.gather(*(worker.start() for worker in self.workers))

    def invoke(
        self, *, method: str, path: str, url: str, query: str, headers: dict[str, str], body: bytes
    ) -> asyncio.Future[Outcome]:
        # The fewest in flight; ties go round, so a quiet devhost still uses every worker.
        turn = next(self._turns) % len(self.workers)
        worker = min(self.workers[turn:] + self.workers[:turn], key=_load)
        invocation = Invocation(next(self._ids), method, path, url, query, headers, body)
        return worker.invoke(invocation)

    async def supervise(self, stopping: asyncio.Event) -> None:
        """Start a worker again whenever one dies, until devhost stops."""
        while not stopping.is_set():
            waits = [asyncio.create_task(worker.gone.wait()) for worker in self.workers]
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait([*waits, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            for task in (*waits, stop_wait):
                task.cancel()
            if stopping.is_set():
                return
            for worker in self.workers:
                if worker.gone.is_set():
                    await self._restart(worker)

    async def _restart(self, worker: WorkerProcess) -> None:
        logger.error("language worker %s (pid %s) exited; starting it again", worker.index,
                     worker.pid)  # fmt: skip
        await worker.stop()
        try:
            await worker.start()
        except StartupError:
            logger.exception("language worker %s could not be started again", worker.index)
            await asyncio.sleep(1)  # the next turn of supervise() tries again

    async def stop(self) -> None:
        await asyncio.gather(*(worker.stop() for worker in self.workers))


def _load(worker: WorkerProcess) -> tuple[bool, int]:
    # A worker that is gone only takes invocations when every one is (they then fail fast).
    return worker.gone.is_set(), worker.in_flight
