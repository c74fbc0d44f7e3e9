"""Orders on devhost: creation at 20 concurrent clients against pgbench running the same SQL,
commit → kitchen WebSocket receipt, and the replay of a stored idempotent answer.

Self-contained: needs DATABASE_URL and AzureWebJobsStorage, starts devhost (with its Web PubSub
hub) as a subprocess on free ports, and creates its own restaurants. Every simulated customer
connects from 127.0.0.1 (devhost appends the peer to X-Forwarded-For as App Service does), so the
bench raises ORDER_RATE_LIMIT_PER_MINUTE for its devhost; the limit itself is what the tests
prove, not what is measured here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pgserver
from websockets.sync.client import connect

from bench.load import REPO, WrkResult, devhost_command, process, wrk
from bench.report import Row, percentile, row
from devhost.host_config import apply_local_settings, load_local_settings
from devhost.identity import DevIdentity
from devhost.services import free_port

CLIENTS = 20
WORKER_PROCESSES = 2  # one per core here; 3 and 4 measured no better
LOAD_SECONDS = 5.0
WARMUP_ORDERS = 40
RECEIPT_SAMPLES = 50
REPLAYS = 200
HUB_KEY = "bench-orders-webpubsub-access-key-0123456789"
ISSUER, AUDIENCE = "http://127.0.0.1/bench-orders/", "api://stelly-bench"
PGBENCH = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
PGBENCH_SCRIPT = Path(__file__).parent / "orders_transaction.sql"
ORDERS_SCRIPT = Path(__file__).parent / "orders.lua"
SETTINGS = {
    "business_name": "Bench Pizzeria",
    "currency": "EUR",
    "timezone": "Europe/Berlin",
    "locale": "en",
    "tax": {"rate_bp": 1900, "inclusive": True},
}


def _menu() -> dict[str, Any]:
    """Three items, each with a required size and up to two extras (the first one free)."""
    groups = [
        {"name": "Size", "min": 1, "max": 1, "options": [
            {"name": "Regular", "price_delta": 0}, {"name": "Large", "price_delta": 300}]},
        {"name": "Extras", "min": 0, "max": 2, "free_quantity": 1, "options": [
            {"name": "Cheese", "price_delta": 100}, {"name": "Basil", "price_delta": 50}]},
    ]  # fmt: skip
    items = [
        {"name": name, "price": price, "station": station, "modifier_groups": groups}
        for name, price, station in (("Margherita", 900, "oven"), ("Diavola", 1100, "oven"),
                                     ("Salad", 700, "cold"))
    ]  # fmt: skip
    return {"categories": [{"name": "Food", "items": items}]}


def _create_tenant(slug: str) -> str:
    """An active restaurant at <slug>.localhost, migrated as provisioning leaves it; its schema."""
    from psycopg.types.json import Jsonb

    from shared.db import transaction
    from shared.migrate import migrate_public, migrate_tenant

    migrate_public()
    with transaction() as conn:
        row_ = conn.execute(
            """insert into tenants (slug, schema_name, display_name, status, settings)
               values (%s, %s, %s, 'active', %s) returning id""",
            [slug, f"tenant_{slug}", "Bench Pizzeria", Jsonb(SETTINGS)],
        ).fetchone()
        conn.execute(
            "insert into tenant_domains (domain, tenant_id, is_primary) values (%s, %s, true)",
            [f"{slug}.localhost", row_["id"]],
        )
    migrate_tenant(f"tenant_{slug}")
    return f"tenant_{slug}"


def _drop_tenant(slug: str) -> None:
    from psycopg import sql

    from shared.db import transaction

    with transaction() as conn:
        conn.execute(
            sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(f"tenant_{slug}"))
        )
        conn.execute("delete from tenants where slug = %s", [slug])


def _publish_menu(http: httpx.Client, host: str, owner: str) -> dict[str, Any]:
    """Import and publish the menu; the order body (3 lines x 2 options) built from it."""
    headers = {"Host": host, "Authorization": f"Bearer {owner}"}
    http.post("/api/v1/admin/menu/import", headers=headers, json=_menu()).raise_for_status()
    http.post("/api/v1/admin/menu/publish", headers=headers).raise_for_status()
    menu = http.get("/api/v1/store/menu", headers={"Host": host}).json()
    lines = []
    for item in menu["categories"][0]["items"]:
        size, extras = item["modifier_groups"]
        options = [size["options"][1]["id"], extras["options"][0]["id"]]
        lines.append({"item_id": item["id"], "quantity": 2, "option_ids": options})
    return {"lines": lines, "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+4930123456"}}


def _customer_headers(host: str) -> dict[str, str]:
    return {"Host": host, "Idempotency-Key": str(uuid.uuid4())}


def _orders_under_load(base: str, host: str, body: dict) -> WrkResult:
    """CLIENTS connections ordering back to back for LOAD_SECONDS, each with a fresh key.

    wrk is a C client like pgbench on the floor's side, so the load generator's own CPU and GIL
    stay out of the comparison. Unpinned, like pgbench and devhost here: devhost, Postgres and
    the hub need both cores, and keeping one of them for wrk measured 20% fewer orders.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(body, file)
    try:
        return wrk(f"{base}/api/v1/store/orders", connections=CLIENTS, seconds=int(LOAD_SECONDS),
                   script=ORDERS_SCRIPT, script_args=(host, file.name), pinned=False)  # fmt: skip
    finally:
        os.unlink(file.name)


def _pgbench_tps(schema: str) -> float:
    """pgbench with CLIENTS connections running the statements one order sends (see the .sql)."""
    script = PGBENCH_SCRIPT.read_text().replace("tenant_bench", schema)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    try:
        command = [
            str(PGBENCH), "-n", "-M", "extended", "-c", str(CLIENTS), "-j", "2",
            "-T", str(int(LOAD_SECONDS)), "-f", file.name, os.environ["DATABASE_URL"],
        ]  # fmt: skip
        ran = subprocess.run(command, capture_output=True, text=True)
        if ran.returncode != 0:
            raise RuntimeError(f"pgbench failed ({ran.returncode}): {ran.stderr[-2000:]}")
        out = ran.stdout
    finally:
        os.unlink(file.name)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def _receipt_latencies(http: httpx.Client, host: str, staff: str, body: dict) -> list[float]:
    """Order request sent → its order.placed arrives on a kitchen WebSocket, one at a time (ms).

    Measured from the request rather than the commit (which happens inside it), so this is an
    upper bound of commit → receipt.
    """
    negotiate_headers = {"Host": host, "Authorization": f"Bearer {staff}"}
    url = http.get("/api/v1/kitchen/negotiate", headers=negotiate_headers).json()["url"]
    arrived: dict[str, float] = {}
    signal = threading.Condition()
    samples = []
    with connect(url, subprotocols=["json.webpubsub.azure.v1"]) as socket:
        socket.recv(timeout=5)  # connected

        def read() -> None:
            for frame in socket:
                message = json.loads(frame)
                if message.get("type") == "message" and message["data"]["type"] == "order.placed":
                    with signal:
                        arrived[message["data"]["order_id"]] = time.perf_counter()
                        signal.notify_all()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for _ in range(RECEIPT_SAMPLES):
            began = time.perf_counter()
            order = http.post("/api/v1/store/orders", headers=_customer_headers(host), json=body)
            order_id: str = order.json()["id"]
            with signal:
                if not signal.wait_for(lambda wanted=order_id: wanted in arrived, timeout=10):
                    raise RuntimeError(f"order {order_id} never reached the kitchen socket")
                samples.append((arrived[order_id] - began) * 1000)
    return samples


def _replay_latencies(http: httpx.Client, host: str, body: dict) -> list[float]:
    """The same Idempotency-Key and body again: the stored answer, REPLAYS times (ms)."""
    headers = _customer_headers(host)
    first = http.post("/api/v1/store/orders", headers=headers, json=body)
    samples = []
    for _ in range(REPLAYS):
        began = time.perf_counter()
        replay = http.post("/api/v1/store/orders", headers=headers, json=body)
        samples.append((time.perf_counter() - began) * 1000)
        if replay.json() != first.json():
            raise RuntimeError("a replay returned another answer than the first request")
    return samples


def _devhost_environment(port: int, pubsub_port: int) -> dict[str, str]:
    """Settings for devhost and this process: the local example, our ports and identity."""
    apply_local_settings(load_local_settings(REPO)[1])
    overrides = {
        "STELLY_ENV": "development",
        "WEBPUBSUB_CONNECTION": f"Endpoint=http://127.0.0.1:{pubsub_port};AccessKey={HUB_KEY};Version=1.0;",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": f"http://127.0.0.1:{port}/.well-known/jwks.json",
        # One connection per concurrent client, as pgbench gets.
        "DATABASE_POOL_MAX": str(CLIENTS),
        "ORDER_RATE_LIMIT_PER_MINUTE": "100000",
    }
    return {**os.environ, **overrides, "PYTHONPATH": str(REPO)}


def _measure(base: str, host: str, identity: DevIdentity, slug: str) -> dict[str, Any]:
    owner = identity.mint(role="owner", tenant=slug)
    staff = identity.mint(role="staff", tenant=slug)
    with httpx.Client(base_url=base, timeout=30) as http:
        body = _publish_menu(http, host, owner)
        load = _warm_up_and_load(base, host, body)
        receipts = _receipt_latencies(http, host, staff, body)
        replays = _replay_latencies(http, host, body)
    return {"body": body, "load": load, "receipts": receipts,
            "replays": replays}  # fmt: skip


def _warm_up_and_load(base: str, host: str, body: dict) -> WrkResult:
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(WARMUP_ORDERS):
            http.post("/api/v1/store/orders", headers=_customer_headers(host), json=body)
    return _orders_under_load(base, host, body)


def run() -> list[Row]:
    """Rows for order creation, throughput vs pgbench, live receipt and idempotent replay."""
    port, pubsub_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    env = _devhost_environment(port, pubsub_port)
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    # Created before devhost starts, so both processes sign and verify with the same key.
    identity = DevIdentity(
        issuer=ISSUER, audience=AUDIENCE, key_path=data_dir / "identity" / "signing-key.pem"
    )
    slug, floor_slug = f"bench{uuid.uuid4().hex[:8]}", f"pgb{uuid.uuid4().hex[:8]}"
    _create_tenant(slug)
    floor_schema = _create_tenant(floor_slug)
    command = devhost_command("function_app:app", REPO, port, pubsub_port, data_dir)
    host = f"{slug}.localhost"
    try:
        with process(command, f"http://127.0.0.1:{port}/api/health", env):
            result = _measure(f"http://127.0.0.1:{port}", host, identity, slug)
        # The same devhost with its functions in language worker processes (the host setting
        # FUNCTIONS_WORKER_PROCESS_COUNT): one Python process holds one GIL.
        workers_env = {**env, "FUNCTIONS_WORKER_PROCESS_COUNT": str(WORKER_PROCESSES)}
        with process(command, f"http://127.0.0.1:{port}/api/health", workers_env):
            with_workers = _warm_up_and_load(f"http://127.0.0.1:{port}", host, result["body"])
        floor_tps = _pgbench_tps(floor_schema)
    finally:
        for name in (slug, floor_slug):
            _drop_tenant(name)
        shutil.rmtree(data_dir, ignore_errors=True)
    load: WrkResult = result["load"]
    return [
        row("orders", f"order creation p95 (3 lines x 2 options, {CLIENTS} clients)",
            load.p95_ms, "ms", "< 50 ms"),
        row("orders", f"order creation throughput ({CLIENTS} clients)",
            load.requests_per_s, "orders/s", "≥ 40% of pgbench", floor=floor_tps,
            floor_name="pgbench, same SQL transaction"),
        row("orders", f"order creation p95, {WORKER_PROCESSES} language workers",
            with_workers.p95_ms, "ms", "< 50 ms"),
        row("orders", f"order creation throughput, {WORKER_PROCESSES} language workers",
            with_workers.requests_per_s, "orders/s", "≥ 40% of pgbench", floor=floor_tps,
            floor_name="pgbench, same SQL transaction"),
        row("orders", "commit → kitchen websocket receipt p95 (upper bound)",
            percentile(result["receipts"], 95), "ms", "< 50 ms"),
        row("orders", "idempotent replay p95", percentile(result["replays"], 95), "ms",
            "< 10 ms"),
    ]  # fmt: skip


if __name__ == "__main__":
    for line in run():
        print(line)
