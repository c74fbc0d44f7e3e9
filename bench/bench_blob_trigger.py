"""Blob trigger latency: upload end → function start, at devhost's default poll interval."""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.storage.blob import BlobServiceClient

from devhost.blob_triggers import DEFAULT_CONNECTION, BlobTriggerWatcher

UPLOADS = 20
# Generous per-blob wait: a missed trigger shows up as a failure, not a hang.
_TIMEOUT_S = 10.0


async def _run_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def _measure(connection: str, container: str) -> list[float]:
    """Upload blobs one at a time; return each upload-end → function-start delay in ms."""
    started: dict[str, float] = {}
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path=f"{container}/{{name}}", connection=DEFAULT_CONNECTION)
    def on_upload(blob: func.InputStream) -> None:
        started.setdefault(blob.name or "", time.perf_counter())

    watcher = BlobTriggerWatcher(app.get_functions(), connection, run_sync=_run_sync)
    client = BlobServiceClient.from_connection_string(connection).get_container_client(container)
    await asyncio.to_thread(client.create_container)
    poller = asyncio.create_task(watcher.run())
    delays: list[float] = []
    try:
        for index in range(UPLOADS):
            name = f"photo-{index:02d}.jpg"
            await asyncio.to_thread(client.upload_blob, name, os.urandom(64 * 1024))
            uploaded = time.perf_counter()
            deadline = uploaded + _TIMEOUT_S
            while f"{container}/{name}" not in started:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"blob trigger did not fire for {name} in {_TIMEOUT_S}s")
                await asyncio.sleep(0.005)
            delays.append((started[f"{container}/{name}"] - uploaded) * 1000)
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        await asyncio.to_thread(client.delete_container)
    return delays


def run() -> list[dict]:
    """One row: p95 of upload → trigger latency over 20 sequential uploads."""
    connection = os.environ[DEFAULT_CONNECTION]
    delays = asyncio.run(_measure(connection, f"bench{uuid.uuid4().hex[:12]}"))
    p95 = sorted(delays)[math.ceil(0.95 * len(delays)) - 1]
    return [
        {
            "area": "devhost",
            "name": "blob upload → trigger invoked p95",
            "value": round(p95, 1),
            "unit": "ms",
            "goal": "< 1500 ms",
            "floor": None,
            "floor_name": None,
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
