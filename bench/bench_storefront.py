"""Storefront reads on devhost (menu, config) against bare uvicorn serving the same bytes, a
directory read that misses the in-process cache, and a 500-item menu import."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.load import (
    REPO,
    devhost_command,
    on_server_cpu,
    process,
    wait_until_ok,
    wrk_alternating,
)
from bench.report import Row, median, percentile, row
from bench.storefront_data import menu_document, seed_menu
from devhost.identity import DevIdentity
from devhost.services import free_port

HOST = "demo.localhost"
ISSUER, AUDIENCE = "http://localhost:7071/", "api://stelly"


def _env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": f"http://127.0.0.1:{port}/.well-known/jwks.json",
    }


# Written by uvicorn itself on both sides, or counted from the body.
_SERVER_HEADERS = {"date", "server", "content-length"}


@contextmanager
def _floor(response: httpx.Response) -> Iterator[str]:
    """Bare uvicorn returning response's body and headers for any path, on the server's core;
    yields its base URL."""
    body_file = Path(tempfile.mkstemp(suffix=".json")[1])
    body_file.write_bytes(response.content)
    headers = {k: v for k, v in response.headers.items() if k not in _SERVER_HEADERS}
    headers_file = Path(tempfile.mkstemp(suffix=".json")[1])
    headers_file.write_text(json.dumps(headers))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_BODY_FILE": str(body_file),
           "BENCH_HEADERS_FILE": str(headers_file)}  # fmt: skip
    command = on_server_cpu([sys.executable, "-m", "uvicorn", "bench.apps.bare_bytes:app", "--port",
        str(port), "--log-level", "warning", "--no-access-log"])  # fmt: skip
    try:
        with process(command, f"http://127.0.0.1:{port}/", env):
            yield f"http://127.0.0.1:{port}"
    finally:
        body_file.unlink()
        headers_file.unlink()


def _directory_miss_ms() -> float:
    """p95 of a tenant lookup with a cold in-process cache (Table Storage point read)."""
    from shared.tenancy import TenantResolver

    samples = []
    for _ in range(200):
        cold = TenantResolver()
        started = time.perf_counter()
        assert cold.lookup(HOST) is not None
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 95)


def _import_seconds(base: str, owner: str) -> float:
    document = menu_document(items=500, groups=30)
    headers = {"Authorization": f"Bearer {owner}", "Host": HOST}
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        response = httpx.post(f"{base}/api/v1/admin/menu/import", json=document, headers=headers,
                              timeout=60)  # fmt: skip
        timings.append(time.perf_counter() - started)
        response.raise_for_status()
    return median(timings)


def _wait_for_demo_menu(base: str, timeout: float = 60) -> None:
    """make dev's demo set-up publishes a small menu after activation (provisioning itself
    publishes an empty one first); seed only after the demo's dishes are live."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        menu = httpx.get(f"{base}/api/v1/store/menu", headers={"Host": HOST}).json()
        if menu.get("categories"):
            return
        time.sleep(0.2)
    raise RuntimeError("the demo tenant's menu was never published")


def run() -> list[Row]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-storefront-"))
    identity = DevIdentity(
        issuer=ISSUER, audience=AUDIENCE, key_path=data_dir / "identity" / "signing-key.pem"
    )
    owner = identity.mint(role="owner", tenant="demo")
    port = free_port()
    command = devhost_command("function_app:app", REPO, port, free_port(), data_dir)
    command.remove("--no-migrate")  # migrate and set up the demo tenant
    command = on_server_cpu(command)
    base = f"http://127.0.0.1:{port}"
    with process(command, f"{base}/api/health", _env(port)):
        wait_until_ok(f"{base}/api/v1/store/config", timeout=90, headers={"Host": HOST})
        _wait_for_demo_menu(base)
        seed_menu(base, host=HOST, token=owner)
        rows: list[Row] = []
        for path in ("/api/v1/store/menu", "/api/v1/store/config"):
            response = httpx.get(base + path, headers={"Host": HOST})
            body = response.content
            with _floor(response) as floor_base:
                hosted, floor = wrk_alternating(
                    base + path, floor_base + path, headers={"Host": HOST}
                )
            size = f"{len(body) // 1024} KB"
            rows += [
                row("storefront", f"GET {path} p95, 50 clients ({size}, median of 3)",
                    hosted.p95_ms, "ms", "< 10 ms", floor=floor.p95_ms, floor_name="bare uvicorn"),
                row("storefront", f"GET {path} throughput, 50 clients (median of 3)",
                    hosted.requests_per_s, "req/s", "≥ 70% of bare uvicorn",
                    floor=floor.requests_per_s, floor_name="bare uvicorn"),
            ]  # fmt: skip
        rows.append(
            row(
                "storefront",
                "directory read missing the local cache p95",
                _directory_miss_ms(),
                "ms",
                "< 5 ms",
            )
        )
        rows.append(
            row(
                "storefront",
                "bulk import of 500 items (median of 3)",
                _import_seconds(base, owner),
                "s",
                "< 1 s",
            )
        )
    return rows
