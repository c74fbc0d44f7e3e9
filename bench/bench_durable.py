"""Durable engine: a 3-activity sequence and a 100-activity fan-out, start → Completed.

Measured through the client API on a running engine (Azurite tables, uvicorn), with the real
`DurableOrchestrationClient` starting each instance and polling get_status until it completes.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import azure.durable_functions as df
from azure.durable_functions.models.utils import http_utils

from bench.report import Row, median, row
from devhost.durable import DurableEngine
from devhost.durable.standalone import serving
from devhost.services import free_port

SEQUENCE_RUNS = 15
FAN_OUT_RUNS = 5
FAN_OUT_WIDTH = 100
_POLL_S = 0.002
_TIMEOUT_S = 30.0

app = df.DFApp()


@app.activity_trigger(input_name="value")
def bench_increment(value: int) -> int:
    """A trivial activity."""
    return value + 1


@app.orchestration_trigger(context_name="context")
def bench_sequence(context: df.DurableOrchestrationContext):
    """Three activities in a row."""
    value = context.get_input()
    for _ in range(3):
        value = yield context.call_activity("bench_increment", value)
    return value


@app.orchestration_trigger(context_name="context")
def bench_fan_out(context: df.DurableOrchestrationContext):
    """width activities at once, results in order."""
    width = context.get_input()
    return (
        yield context.task_all([context.call_activity("bench_increment", n) for n in range(width)])
    )


async def _elapsed(client: df.DurableOrchestrationClient, name: str, payload: int) -> float:
    """Seconds from start_new to the first get_status that reports Completed."""
    began = time.perf_counter()
    instance_id = await client.start_new(name, None, payload)
    deadline = began + _TIMEOUT_S
    while True:
        status = await client.get_status(instance_id)
        if status.runtime_status == df.OrchestrationRuntimeStatus.Completed:
            return time.perf_counter() - began
        if status.runtime_status == df.OrchestrationRuntimeStatus.Failed:
            raise RuntimeError(f"{name} failed: {status.output}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{name} did not complete in {_TIMEOUT_S}s")
        await asyncio.sleep(_POLL_S)


async def _measure() -> tuple[list[float], list[float]]:
    """Serve an engine and time both orchestrations through the client."""
    port = free_port()
    engine = DurableEngine(
        app.get_functions(),
        os.environ["AzureWebJobsStorage"],
        f"bench{uuid.uuid4().hex[:10]}",
        base_url=f"http://127.0.0.1:{port}",
    )
    try:
        async with serving(engine, port):
            client = df.DurableOrchestrationClient(engine.client_binding_json())
            await _elapsed(client, "bench_sequence", 0)  # warm-up: tables, sessions, imports
            sequences = [await _elapsed(client, "bench_sequence", 0) for _ in range(SEQUENCE_RUNS)]
            fan_outs = [
                await _elapsed(client, "bench_fan_out", FAN_OUT_WIDTH) for _ in range(FAN_OUT_RUNS)
            ]
    finally:
        # The SDK's shared session belongs to this loop, which is about to close.
        await http_utils._close_session()
    return sequences, fan_outs


def run() -> list[Row]:
    """Two rows: median sequence latency (ms) and median fan-out latency (s)."""
    sequences, fan_outs = asyncio.run(_measure())
    return [
        row("durable", "3-activity sequence, start → Completed (median)",
            median(sequences) * 1000, "ms", "< 200 ms"),
        row("durable", f"{FAN_OUT_WIDTH}-activity fan-out/fan-in (median)",
            median(fan_outs), "s", "< 2 s"),
    ]  # fmt: skip
