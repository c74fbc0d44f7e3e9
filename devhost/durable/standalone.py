"""Serve one DurableEngine over HTTP by itself (for tests, benchmarks and crash drills)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette

from .engine import DurableEngine

T = TypeVar("T")


@contextlib.asynccontextmanager
async def serving(engine: DurableEngine, port: int, host: str = "127.0.0.1") -> AsyncIterator[None]:
    """Start the engine and uvicorn with its routes on host:port; stop both on exit.

    The port is bound first, here: uvicorn answers a port in use with SystemExit from inside its
    task, which escapes the event loop before any `finally` could stop a started engine. An
    OSError before anything has started leaves nothing to clean up.
    """
    sock = socket.create_server((host, port))
    try:
        await engine.start()
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(
        Starlette(routes=engine.routes()), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise why uvicorn could not start
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task
        await engine.stop()


class BackgroundLoop:
    """An asyncio loop on a daemon thread, so synchronous code can run coroutines on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run coro on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
