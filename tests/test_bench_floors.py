"""The benchmark floors (pgbench for orders, bare uvicorn for the storefront) do the same work
as the app they are compared with, so the ratios in README "Benchmarks" are honest.

The app's side is captured from the real services: libpq's protocol trace of every pooled
transaction while one order is placed and published (in-process), and a real devhost subprocess
serving function_app for the storefront bytes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
from psycopg import pq

import shared.db
from bench import bench_orders, bench_storefront
from bench.report import percentile
from tests.devhost.devhost_process import REPO, start_app_devhost
from tests.order_fixtures import Shop, open_shop, settle, shop_fixture  # noqa: F401

FLOOR_SQL = REPO / "bench" / "orders_transaction.sql"


# --- the app's side: what one order sends to Postgres -------------------------------------


class _Tracer:
    """Every pooled transaction opened while `on`, as (thread name, libpq trace text)."""

    def __init__(self, original) -> None:
        self.original = original
        self.on = False
        self.traces: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        if not self.on:
            with self.original() as conn:
                yield conn
            return
        fd, path = tempfile.mkstemp(prefix="pqtrace-")
        with self.original() as conn:
            # BEGIN has been sent already (not in the trace); COMMIT is, on the way out.
            conn.pgconn.trace(fd)
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield conn
            finally:
                pass
        conn.pgconn.untrace()
        text = Path(path).read_text()
        os.unlink(path)
        with self._lock:
            self.traces.append((threading.current_thread().name, text))


def _round_trips(trace: str) -> int:
    """Client waits in one traced transaction: each Sync / simple Query, plus the BEGIN."""
    sent = [line.split("\t")[2] for line in trace.splitlines() if line.startswith("F\t")]
    return 1 + sum(1 for message in sent if message in ("Sync", "Query"))


def _one_traced_order(shop: Shop, monkeypatch) -> list[tuple[str, str]]:
    """Place one bench-shaped order (3 lines x 2 options, pickup, Idempotency-Key) after a
    warm-up order, and return the traced transactions: the request's and the publisher's."""
    tracer = _Tracer(shared.db.transaction)
    monkeypatch.setattr(shared.db, "transaction", tracer.transaction)
    line = shop.pizza_line("Ham", size="Large")
    body = shop.order_body(line, line, line)
    assert shop.post_order(body, key=str(uuid.uuid4())).status_code == 201  # warms the menu
    settle()
    tracer.on = True
    response = shop.post_order(body, key=str(uuid.uuid4()))
    assert response.status_code == 201, response.text
    settle()
    tracer.on = False
    return tracer.traces


# --- the floor's side: what the pgbench script sends ----------------------------------------


def _floor_transactions() -> list[list[str]]:
    """The pgbench script's transactions, each a list of round trips (a pipeline is one)."""
    transactions: list[list[str]] = []
    current: list[str] | None = None
    statement: list[str] = []
    in_pipeline = False
    pipeline: list[str] = []
    for raw in FLOOR_SQL.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("--"):
            continue
        if line.startswith("\\"):
            if line.startswith("\\startpipeline"):
                in_pipeline, pipeline = True, []
            elif line.startswith("\\endpipeline"):
                in_pipeline = False
                assert current is not None
                current.append(" ; ".join(pipeline))
            continue
        statement.append(line)
        if line.endswith(";") or line.endswith("\\gset"):
            text = " ".join(" ".join(statement).replace("\\gset", "").rstrip(";").split())
            statement = []
            if text.upper() == "BEGIN":
                current = [text]
            elif text.upper() == "COMMIT":
                assert current is not None
                current.append(text)
                transactions.append(current)
                current = None
            elif in_pipeline:
                pipeline.append(text)
            else:
                assert current is not None
                current.append(text)
    return transactions


# --- the orders floor ------------------------------------------------------------------------


def test_pgbench_floor_sends_its_statements_unprepared_like_the_app(
    shop: Shop, monkeypatch, webpubsub_hub
) -> None:
    # The app prepares nothing (shared/db.py), so the floor parses and plans every statement
    # too: pgbench -M extended, what psycopg sends without prepared statements.
    traces = _one_traced_order(shop, monkeypatch)
    named = [
        line for _, trace in traces for line in trace.splitlines()
        if line.startswith("F\t") and "\tParse\t" in line and '\tParse\t "" ' not in line
    ]  # fmt: skip
    assert named == [], "the app prepared a named statement"  # the app: unnamed only

    commands: list[list[str]] = []

    def fake_run(command, **_: object) -> subprocess.CompletedProcess:
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="tps = 1.0 (without initial)\n")

    monkeypatch.setattr(bench_orders.subprocess, "run", fake_run)
    bench_orders._pgbench_tps("tenant_x")
    (command,) = commands
    mode = command[command.index("-M") + 1]
    # psycopg without prepare_threshold sends Parse "" / Bind / Execute: pgbench's `extended`.
    assert mode == "extended"


def test_pgbench_floor_takes_as_many_round_trips_per_transaction_as_the_app(
    shop: Shop, monkeypatch, webpubsub_hub
) -> None:
    # The floor pipelines what the app pipelines: the same round trips per transaction.
    traces = _one_traced_order(shop, monkeypatch)
    placement = [trace for name, trace in traces if name != "stelly-outbox"]
    app = [_round_trips(trace) for trace in placement]
    floor = [len(transaction) for transaction in _floor_transactions()]
    assert floor == app


# --- storefront floor ----------------------------------------------------------------------


def _get(port: int, host: str, path: str) -> tuple[list[str], bytes]:
    """What wrk sends (GET, HTTP/1.1, Host only): the response's header names and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == "HTTP/1.1 200 OK", lines[0]
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        while len(body) < int(headers["content-length"]):
            body += conn.recv(65536)
    return sorted(headers), body


def test_storefront_floor_serves_the_headers_devhost_serves(
    client, tenants, auth_header, tmp_path: Path
) -> None:
    # Same bytes: the floor sends devhost's headers (ETag, Cache-Control, ...) with its body.
    shop = open_shop(client, tenants, auth_header)
    devhost = start_app_devhost(tmp_path / "devhost")
    try:
        for path in ("/api/v1/store/config", "/api/v1/store/menu"):
            # As bench_storefront.run starts the floor from devhost's answer.
            answer = httpx.get(devhost.base_url + path, headers={"Host": shop.host})
            hosted_names, hosted_body = _get(devhost.port, shop.host, path)
            with bench_storefront._floor(answer) as floor_base:
                port = int(floor_base.rsplit(":", 1)[1])
                floor_names, floor_body = _get(port, shop.host, path)
            assert floor_body == hosted_body
            assert floor_names == hosted_names, path
    finally:
        devhost.stop()


# --- report.py ---------------------------------------------------------------------------


def test_report_percentile_is_nearest_rank() -> None:
    # The smallest sample with at least p% of the samples at or below it.
    assert percentile([float(n) for n in range(1, 11)], 50) == 5.0
    assert percentile([float(n) for n in range(1, 21)], 95) == 19.0
