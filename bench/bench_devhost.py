"""devhost: launch → first 200 on /api/health, and a trivial function vs bare uvicorn."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench.load import REPO, devhost_command, on_server_cpu, process, wrk_alternating
from bench.report import Row, median, row
from devhost.services import free_port


def _startup_seconds(data_dir: Path) -> float:
    port = free_port()
    command = devhost_command("function_app:app", REPO, port, free_port(), data_dir)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with process(command, f"http://127.0.0.1:{port}/api/health", env) as seconds:
        return seconds


def run() -> list[Row]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-devhost-"))
    startups = [_startup_seconds(data_dir) for _ in range(3)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bare_port, host_port = free_port(), free_port()
    bare = on_server_cpu([sys.executable, "-m", "uvicorn", "bench.apps.bare_asgi:app", "--port",
        str(bare_port), "--log-level", "warning", "--no-access-log"])  # fmt: skip
    trivial = on_server_cpu(
        devhost_command(
            "bench.apps.trivial_app:app", REPO / "bench" / "apps", host_port, free_port(), data_dir
        )
    )
    with (
        process(bare, f"http://127.0.0.1:{bare_port}/", env),
        process(trivial, f"http://127.0.0.1:{host_port}/api/hello", env),
    ):
        hosted, floor = wrk_alternating(
            f"http://127.0.0.1:{host_port}/api/hello", f"http://127.0.0.1:{bare_port}/"
        )
    return [
        row("devhost", "launch → 200 on /api/health (median of 3)", median(startups), "s", "< 3 s"),
        row("devhost", "trivial HTTP function, 50 connections (median of 3)",
            hosted.requests_per_s, "req/s", "≥ 70% of bare uvicorn",
            floor=floor.requests_per_s, floor_name="bare uvicorn"),
        row("devhost", "trivial HTTP function p99", hosted.p99_ms, "ms", "",
            floor=floor.p99_ms, floor_name="bare uvicorn"),
    ]  # fmt: skip
