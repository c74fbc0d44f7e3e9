"""Load generation with wrk (installed by `make bench`), and server processes to point it at."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _two_cpus() -> tuple[int, int] | None:
    """(load generator's CPU, server's CPU) when taskset can keep them apart, else None."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None
    return cpus[0], cpus[1]


def on_server_cpu(command: list[str]) -> list[str]:
    """command pinned to the CPU wrk leaves free.

    Used for a server and its floor alike. Unpinned, the scheduler moves devhost's threads (the
    event loop and the function workers) onto wrk's core and back, and the same build measured
    10,400 to 18,700 req/s from run to run; pinned, both sides get one whole core each time.
    """
    cpus = _two_cpus()
    return ["taskset", "-c", str(cpus[1]), *command] if cpus else command


def wrk(
    url: str,
    *,
    connections: int = 50,
    seconds: int = 5,
    headers: dict | None = None,
    script: Path = REPO / "bench" / "p95.lua",
    script_args: tuple[str, ...] = (),
    pinned: bool = True,
) -> WrkResult:
    """Run wrk with one thread, on its own core when pinned (see on_server_cpu); parse
    throughput and latency.

    script must print `p95_us: N` when done (p95.lua does; orders.lua POSTs orders and does too).
    """
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed; `make bench` installs it")
    cpus = _two_cpus() if pinned else None
    command = [
        *(["taskset", "-c", str(cpus[0])] if cpus else []),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))
    p95 = int(re.search(r"p95_us: (\d+)", out).group(1)) / 1000
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error responses from {url}:\n{out}")
    return WrkResult(rps, p50, p95, p99)


def wrk_alternating(
    hosted_url: str, floor_url: str, *, rounds: int = 3, seconds: int = 3, **options: Any
) -> tuple[WrkResult, WrkResult]:
    """(hosted, floor): each the per-metric median of `rounds` wrk runs, taken turn about.

    One run of each, minutes apart, compared the machine's mood as much as the servers: the
    floor alone moved between 16,900 and 25,300 req/s from one `make bench` to the next. Taking
    turns (floor, hosted, floor, hosted, ...) lets drift hit both sides alike.
    """
    hosted: list[WrkResult] = []
    floor: list[WrkResult] = []
    for _ in range(rounds):
        floor.append(wrk(floor_url, seconds=seconds, **options))
        hosted.append(wrk(hosted_url, seconds=seconds, **options))
    return _median_result(hosted), _median_result(floor)


def _median_result(results: list[WrkResult]) -> WrkResult:
    columns = zip(*map(astuple, results), strict=True)
    return WrkResult(*(statistics.median(values) for values in columns))


def wait_until_ok(url: str, timeout: float = 30, headers: dict | None = None) -> float:
    """Seconds until url answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, timeout=0.5, headers=headers).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


@contextmanager
def process(command: list[str], ready_url: str, env: dict | None = None) -> Iterator[float]:
    """Run command until the block ends; yields the seconds it took to answer ready_url."""
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield wait_until_ok(ready_url)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def devhost_command(
    app: str, app_dir: Path, port: int, pubsub_port: int, data_dir: Path
) -> list[str]:
    return [
        sys.executable, "-m", "devhost", "--app", app, "--app-dir", str(app_dir),
        "--port", str(port), "--pubsub-port", str(pubsub_port), "--data-dir", str(data_dir),
        "--no-services", "--no-migrate",
    ]  # fmt: skip
