"""DevHost: runs a Function app (default `function_app:app`) the way the Functions host would.

One asyncio loop hosts: the HTTP front on :7071 (functions, durable client webhooks, the dev
identity's JWKS, `POST /admin/functions/{name}` for timers), the durable engine, blob-trigger
polling and timer schedules. The Web PubSub hub on :7072 runs in a child process, as the Azure
service is separate from the Functions host (devhost/hub_process.py). With
FUNCTIONS_WORKER_PROCESS_COUNT above 1, HTTP functions run in language worker processes
(devhost/worker_processes.py). Everything talks to real local services (Postgres, Azurite)
through the real Azure SDKs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from devhost.blob_triggers import BlobTriggerWatcher
from devhost.errors import StartupError
from devhost.host_config import HostConfig, read_host_json
from devhost.http_front import ASGIApp, HttpFront, Receive, Scope, Send, send_bytes, send_problem
from devhost.hub_process import HubProcess
from devhost.identity import JWKS_PATH, DevIdentity
from devhost.kestrel_parsing import KestrelParsingProtocol
from devhost.routing import Router
from devhost.timer_triggers import TableScheduleStatus, TimerScheduler
from devhost.worker_indexing import check_indexable
from devhost.worker_processes import WorkerGroup, worker_process_count
from devhost.worker_protocol import WorkerConfig

logger = logging.getLogger("devhost")

DURABLE_TRIGGERS = {"orchestrationTrigger", "activityTrigger", "entityTrigger"}
DURABLE_PREFIX = "/runtime/webhooks/durabletask/"
ADMIN_PREFIX = "/admin/functions/"
GRACEFUL_SHUTDOWN_S = 3


@dataclass(frozen=True)
class DevHostOptions:
    app_ref: str = "function_app:app"
    app_dir: Path = Path(".")
    bind: str = "127.0.0.1"
    port: int = 7071
    pubsub_port: int | None = 7072
    data_dir: Path = Path(".local/dev")


def load_app(app_ref: str, app_dir: Path) -> Any:
    """Import `module:attribute` from app_dir, as the worker imports function_app.py."""
    module_name, _, attribute = app_ref.partition(":")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    return getattr(importlib.import_module(module_name), attribute or "app")


def webpubsub_access_key(connection: str) -> str | None:
    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    return parts.get("AccessKey")


def dev_identity(data_dir: Path) -> DevIdentity | None:
    """The dev signing key under data_dir, for the issuer/audience in the app settings."""
    issuer, audience = os.environ.get("AUTH_ISSUER"), os.environ.get("AUTH_AUDIENCE")
    if not issuer or not audience:
        return None
    return DevIdentity(
        issuer=issuer, audience=audience, key_path=data_dir / "identity" / "signing-key.pem"
    )


def _json_app(document: dict[str, Any]) -> ASGIApp:
    body = json.dumps(document).encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, [(b"content-type", b"application/json")], body)

    return app


def _admin_app(timers: TimerScheduler) -> ASGIApp:
    """`POST /admin/functions/{name}` fires a timer now, like the host's admin API."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"][len(ADMIN_PREFIX) :].strip("/")
        if scope["method"] != "POST":
            path = scope["path"]
            await send_problem(send, 405, "Method not allowed", "Use POST", path, allow="POST")
            return
        try:
            timers.start(name)  # 202 at once: the host's admin API runs the function after
        except KeyError:
            await send_problem(send, 404, "Not found", f"No timer function {name}", scope["path"])
            return
        await send_bytes(send, 202, [], b"")

    return app


async def _close_durable_client_session() -> None:
    """The durable SDK keeps one aiohttp session per process for its client; the worker closes
    it at shutdown, and so must we, or aiohttp complains while the interpreter exits."""
    from azure.durable_functions.models.utils import http_utils

    await http_utils._close_session()


GIL_SWITCH_INTERVAL_S = 0.0005


class DevHost:
    """Owns the servers and background loops for one app; `await run()` until stopped."""

    def __init__(self, options: DevHostOptions) -> None:
        self.options = options
        self.config: HostConfig = read_host_json(options.app_dir / "host.json")
        self.app = load_app(options.app_ref, options.app_dir)
        # get_functions() may run once per app object (notes/durable-protocol.md).
        self.functions = self.app.get_functions()
        check_indexable(self.functions)
        self.base_url = f"http://127.0.0.1:{options.port}"
        self.identity = dev_identity(options.data_dir)
        self.engine = self._durable_engine()
        self.router = Router(
            self.functions,
            route_prefix=self.config.route_prefix,
            durable_client_json=self.engine.client_binding_json if self.engine else None,
        )
        self.workers = self._worker_group()
        self.front = HttpFront(
            self.router, function_timeout_s=self.config.function_timeout_s, workers=self.workers
        )
        self.timers = TimerScheduler(
            self.functions,
            run_sync=self.run_sync,
            function_timeout_s=self.config.function_timeout_s,
            status_store=self._timer_status(),
            durable_client_json=self.engine.client_binding_json if self.engine else None,
        )
        self.blobs = self._blob_watcher()
        self.front.extra_routes = self._extra_routes()
        self._stopping = asyncio.Event()

    def _kinds(self) -> set[str]:
        return {f.get_trigger().get_binding_name() for f in self.functions}

    def _durable_engine(self) -> Any:
        needs_client = any('"durableClient"' in f.get_function_json() for f in self.functions)
        if not (self._kinds() & DURABLE_TRIGGERS or needs_client):
            return None
        from devhost.durable import DurableEngine

        return DurableEngine(
            functions=self.functions,
            storage_connection=os.environ["AzureWebJobsStorage"],
            hub_name=self.config.durable_hub_name,
            base_url=self.base_url,
            max_concurrent_activities=self.config.max_concurrent_activities,
        )

    def _worker_group(self) -> WorkerGroup | None:
        count = worker_process_count()
        if count == 1:
            return None  # functions run in this process, as before the setting existed
        config = WorkerConfig(
            app_ref=self.options.app_ref,
            app_dir=str(self.options.app_dir),
            route_prefix=self.config.route_prefix,
            durable_client_json=self.engine.client_binding_json() if self.engine else None,
            function_timeout_s=self.config.function_timeout_s,
        )
        return WorkerGroup(count, config)

    def _timer_status(self) -> TableScheduleStatus | None:
        if "timerTrigger" not in self._kinds():
            return None
        return TableScheduleStatus(os.environ["AzureWebJobsStorage"])

    def _blob_watcher(self) -> BlobTriggerWatcher | None:
        if "blobTrigger" not in self._kinds():
            return None
        return BlobTriggerWatcher(
            self.functions,
            os.environ["AzureWebJobsStorage"],
            run_sync=self.run_sync,
            function_timeout_s=self.config.function_timeout_s,
        )

    def _extra_routes(self) -> dict[str, ASGIApp]:
        routes: dict[str, ASGIApp] = {ADMIN_PREFIX: _admin_app(self.timers)}
        if self.identity is not None:
            routes[JWKS_PATH] = _json_app(self.identity.jwks())
        if self.engine is not None:
            from starlette.applications import Starlette

            routes[DURABLE_PREFIX] = Starlette(routes=self.engine.routes())
        return routes

    async def run_sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run sync function code in the worker thread pool (never on the event loop)."""
        return await self.front.pool.run(fn, *args, **kwargs)

    def _front_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.front,
            host=self.options.bind,
            port=self.options.port,
            log_level="warning",
            # Our JSON logging is set up already; uvicorn's own set-up (dictConfig) would close
            # its handler, and lines would wait in memory until exit.
            log_config=None,
            access_log=False,
            lifespan="off",
            loop="none",
            # devhost reads X-Forwarded-* itself (tenancy rules); uvicorn must not rewrite them.
            proxy_headers=False,
            ws="none",
            http=KestrelParsingProtocol,
            # Ctrl-C gives requests in flight this long, not functionTimeout (minutes).
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        server = uvicorn.Server(config)
        # We handle signals ourselves (see run_dev).
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        return server

    def _hub_process(self) -> HubProcess | None:
        key = webpubsub_access_key(os.environ.get("WEBPUBSUB_CONNECTION", ""))
        if self.options.pubsub_port is None or key is None:
            return None
        return HubProcess(key, port=self.options.pubsub_port, bind=self.options.bind)

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Start everything, call on_ready, and serve until stop() (or SIGINT/SIGTERM)."""
        hub = self._hub_process()
        try:
            if hub is not None:
                hub.start()  # the child imports its modules while ours start up
            if self.workers is not None:
                await self.workers.start()
            await self._serve(hub, on_ready)
        finally:
            if self.workers is not None:
                await self.workers.stop()
            if hub is not None:
                await asyncio.to_thread(hub.stop)

    async def _serve(self, hub: HubProcess | None, on_ready: Callable[[], None] | None) -> None:
        server = self._front_server()
        background: list[asyncio.Task[Any]] = []
        if self.engine is not None:
            await self.engine.start()
        if hub is not None:
            await hub.ready()  # so whoever sees the API answer can also reach the hub
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                await serving  # surfaces the bind error
                raise StartupError(f"the HTTP front could not listen on port {self.options.port}")
            await asyncio.sleep(0.01)
        background.append(asyncio.create_task(self.timers.run()))
        if hub is not None:
            background.append(asyncio.create_task(hub.supervise(self._stopping)))
        if self.blobs is not None:
            background.append(asyncio.create_task(self.blobs.run()))
        if self.workers is not None:
            background.append(asyncio.create_task(self.workers.supervise(self._stopping)))
        # Everything loaded so far (the app, the SDKs) lives until exit: keep it out of the
        # collector's way, so collections triggered by request garbage stay short.
        gc.freeze()
        # One process runs every function thread and the durable engine. A thread back from
        # the database waits for the GIL until the running thread's switch interval ends (5 ms
        # by default); an order makes ~20 round trips, so shorter turns keep I/O-bound work
        # moving (measured: orders/s +30%, trivial and cached reads unchanged).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        if on_ready:
            on_ready()
        await self._stopping.wait()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        if self.engine is not None:
            await self.engine.stop()
            await _close_durable_client_session()
        self.front.pool.shutdown()

    def stop(self) -> None:
        self._stopping.set()
