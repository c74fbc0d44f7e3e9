"""`python -m devhost.language_worker --fd N`: one language worker process of devhost.

With FUNCTIONS_WORKER_PROCESS_COUNT above 1 the Functions host starts that many Python worker
processes and spreads invocations over them; devhost does the same for HTTP functions (see
worker_processes.py). A worker imports the app, reads invocations from the socket it inherited,
runs each as devhost would in its own process (sync functions on a thread pool, async ones on
its loop) and writes back the response. It exits when the socket closes, so it never outlives
devhost; Ctrl-C in the terminal reaches devhost, which stops its workers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import socket
import sys
from pathlib import Path

import azure.functions as func

from devhost.http_front import response_headers, worker_thread_count
from devhost.routing import RouteMatch, Router, build_request
from devhost.timeouts import FunctionTimedOut, within_function_timeout
from devhost.worker_indexing import check_indexable
from devhost.worker_pool import BatchingWorkerPool
from devhost.worker_protocol import (
    READY,
    Invocation,
    Outcome,
    WorkerConfig,
    encode,
    read_message,
)

logger = logging.getLogger("devhost.worker")


class Worker:
    """Runs invocations for one app and writes their outcomes to `writer`."""

    def __init__(
        self, router: Router, writer: asyncio.StreamWriter, function_timeout_s: float | None
    ) -> None:
        self._router = router
        self._writer = writer
        self._timeout = function_timeout_s
        self._pool = BatchingWorkerPool(worker_thread_count(), name="devhost-worker-fn")
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, invocation: Invocation) -> None:
        task = asyncio.create_task(self._run(invocation))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _run(self, invocation: Invocation) -> None:
        try:
            found = self._router.match(invocation.method, invocation.path)
            request = build_request(
                invocation.method,
                invocation.url,
                headers=invocation.headers,
                body=invocation.body,
                route_params=found.params,
                query=invocation.query,
            )
            # Timed out here as in devhost's own process, so a call still waiting for a thread
            # when functionTimeout passes never runs after devhost answered 504.
            response = await within_function_timeout(self._call(found, request), self._timeout)
            outcome = Outcome(
                invocation.id,
                response.status_code,
                tuple(response_headers(response)),
                response.get_body() or b"",
            )
        except FunctionTimedOut:
            outcome = Outcome(invocation.id, timed_out=True)
        except Exception:
            logger.exception("function for %s %s raised", invocation.method, invocation.path)
            outcome = Outcome(invocation.id, failed=True)
        self._writer.write(encode(outcome))

    async def _call(self, found: RouteMatch, request: func.HttpRequest) -> func.HttpResponse:
        if found.route.is_async:
            return await self._router.call_async(found, request)
        return await self._pool.run(self._router.call_sync, found, request)


async def serve(connection: socket.socket) -> None:
    """Import the app the host names, say READY, then run invocations until the socket closes."""
    from devhost.server import load_app  # the host's own way of importing the app

    reader, writer = await asyncio.open_connection(sock=connection)
    config: WorkerConfig = await read_message(reader)
    app = load_app(config.app_ref, Path(config.app_dir))
    durable = config.durable_client_json
    functions = app.get_functions()
    check_indexable(functions)
    router = Router(
        functions,
        route_prefix=config.route_prefix,
        durable_client_json=(lambda: durable) if durable is not None else None,
    )
    worker = Worker(router, writer, config.function_timeout_s)
    gc.freeze()  # as devhost does: the app and SDKs live until exit
    writer.write(encode(READY))
    while True:
        try:
            invocation = await read_message(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # devhost closed the socket or is gone
        worker.start(invocation)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devhost.language_worker",
        description="Run one of devhost's language worker processes (devhost starts these).",
    )
    parser.add_argument("--fd", type=int, required=True, help="the inherited socket to devhost")
    args = parser.parse_args(argv)
    # Ctrl-C reaches the whole process group, and so does a SIGTERM sent to the group (`timeout`,
    # a CI runner cancelling a job): devhost drains its requests in flight for both, then stops
    # its workers by closing the socket, so a worker that died on the signal would fail them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from devhost.server import GIL_SWITCH_INTERVAL_S
    from shared.logs import configure_json_logging

    configure_json_logging()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    from devhost.dev_stack import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(socket.socket(fileno=args.fd)))


if __name__ == "__main__":
    main()
