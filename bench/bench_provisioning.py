"""Provisioning and fleet migrations on devhost's durable engine, through the platform API.

- Provision: API call → `active` for 10 restaurants, one after another (after one warm-up).
- Fleet migration with nothing to apply, at ~100 and ~1,000 tenants (median of 3 runs).
- Fleet migration adding one column to one table, at ~100 and ~1,000 tenants.

"Adding a column" needs a migration file the repository does not have, so those runs start
devhost on a copy of the app whose shared/migrations/tenant holds one (or two) extra files, as a
deploy with a new migration would. The tenants beyond the provisioned ones are created directly in
Postgres with exactly the migrations the running app has (creating 1,000 schemas through the API
would measure provisioning again, slowly). Self-contained: needs DATABASE_URL and
AzureWebJobsStorage, starts devhost as a subprocess on free ports and removes what it created.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from psycopg import sql

from bench.load import REPO, wait_until_ok
from bench.report import Row, percentile, row
from devhost.host_config import apply_local_settings, load_local_settings
from devhost.identity import DevIdentity
from devhost.services import free_port
from shared.migrate import Migration, load_migrations, migrate_public

ISSUER, AUDIENCE = "http://127.0.0.1/bench-provisioning/", "api://stelly-bench"
PROVISIONS = 10
SMALL, LARGE = 100, 1000
RUN = uuid.uuid4().hex[:6]


def _environment(port: int) -> dict[str, str]:
    apply_local_settings(load_local_settings(REPO)[1])
    overrides = {
        "STELLY_ENV": "development",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": f"http://127.0.0.1:{port}/.well-known/jwks.json",
    }
    os.environ.update(overrides)
    return dict(os.environ)


def _column_migration(version: int) -> Migration:
    text = f"alter table menu_items add column bench_{version} text;\n"
    name = f"{version:04d}_bench_add_column.sql"
    return Migration(version, name, text, hashlib.sha256(text.encode()).hexdigest())


def _app_copy(root: Path, extra: list[Migration]) -> Path:
    """The app with extra tenant migrations: functions/ linked, shared/ copied plus the files."""
    app = root / f"app-{len(extra)}"
    app.mkdir()
    for name in ("function_app.py", "functions", "host.json"):
        (app / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "shared", app / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    for migration in extra:
        (app / "shared" / "migrations" / "tenant" / migration.filename).write_text(
            migration.sql_text
        )
    return app


@contextmanager
def _devhost(app_dir: Path, port: int, data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    # cwd = app_dir, so its shared/ (maybe with extra migrations) wins over the repository's.
    command = [
        sys.executable, "-m", "devhost", "--app-dir", str(app_dir), "--port", str(port),
        "--pubsub-port", str(free_port()), "--data-dir", str(data_dir),
        "--no-services", "--no-migrate",
    ]  # fmt: skip
    process_env = {**env, "PYTHONPATH": f"{app_dir}{os.pathsep}{REPO}"}
    proc = subprocess.Popen(
        command, cwd=app_dir, env=process_env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/api/health", timeout=60)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _finish(http: httpx.Client, accepted: httpx.Response) -> dict:
    accepted.raise_for_status()
    while True:
        status = http.get(accepted.json()["status_url"]).json()
        if status["status"] not in ("running", "pending"):
            if status["status"] != "completed":
                raise RuntimeError(f"operation ended {status['status']}: {status['error']}")
            return status
        time.sleep(0.01)


def _provision_seconds(http: httpx.Client, slug: str) -> float:
    started = time.perf_counter()
    body = {"slug": slug, "display_name": slug, "owner_email": "bench@example.com",
            "currency": "EUR", "timezone": "Europe/Berlin"}  # fmt: skip
    _finish(http, http.post("/v1/platform/tenants", json=body))
    return time.perf_counter() - started


def _fleet_seconds(http: httpx.Client) -> tuple[float, int, int]:
    """Seconds from the API call to completion, the tenants visited and those migrated."""
    started = time.perf_counter()
    output = _finish(http, http.post("/v1/platform/migrations", json={}))["output"]
    if output["failed"]:
        raise RuntimeError(f"fleet migration failed for {output['failures'][:3]}")
    return time.perf_counter() - started, output["total"], output["done"]


def _create_tenant(slug: str, migrations: tuple[Migration, ...]) -> None:
    """An active tenant whose schema has exactly migrations applied (what the app has)."""
    from shared.db import transaction

    schema = "tenant_" + slug.replace("-", "_")
    with transaction() as conn:
        conn.execute(
            "insert into tenants (slug, schema_name, display_name, status)"
            " values (%s, %s, %s, 'active')",
            [slug, schema, slug],
        )
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        conn.execute("select set_config('search_path', %s, true)", [schema])
        conn.execute(
            "create table schema_migrations (version integer primary key, filename text not null,"
            " checksum text not null, applied_at timestamptz not null default now())"
        )
        for migration in migrations:
            conn.execute(migration.sql_text, prepare=False)
            conn.execute(
                "insert into schema_migrations (version, filename, checksum) values (%s, %s, %s)",
                [migration.version, migration.filename, migration.checksum],
            )


def _drop_tenant(slug: str) -> None:
    from shared.db import transaction

    with transaction() as conn:
        schema = "tenant_" + slug.replace("-", "_")
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute("delete from tenants where slug = %s", [slug])


def _fill_to(count: int, made: list[str], migrations: tuple[Migration, ...]) -> None:
    """Create tenants until `count` are active (4 connections: schema DDL is CPU-bound)."""
    from shared.db import transaction

    with transaction() as conn:
        active = conn.execute("select count(*) as n from tenants where status = 'active'")
        missing = max(0, count - active.fetchone()["n"])
    slugs = [f"bench-{RUN}-{len(made) + i:04d}" for i in range(missing)]
    made += slugs
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda slug: _create_tenant(slug, migrations), slugs))


def _median_fleet(http: httpx.Client) -> tuple[float, int]:
    runs = [_fleet_seconds(http) for _ in range(3)]
    return statistics.median(r[0] for r in runs), runs[0][1]


def run() -> list[Row]:
    """Rows for provisioning latency and fleet migrations at ~100 and ~1,000 tenants."""
    port, root = free_port(), Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    env = _environment(port)
    identity = DevIdentity(
        issuer=ISSUER, audience=AUDIENCE, key_path=root / "data" / "identity" / "signing-key.pem"
    )
    headers = {"Authorization": f"Bearer {identity.mint(role='platform_admin')}"}
    migrate_public()
    base = load_migrations("tenant")
    first, second = _column_migration(base[-1].version + 1), _column_migration(base[-1].version + 2)
    made: list[str] = []
    provisioned = [f"bench-{RUN}-p{i:02d}" for i in range(PROVISIONS + 1)]
    try:
        with (
            _devhost(REPO, port, root / "data", env) as api,
            httpx.Client(base_url=api, headers=headers, timeout=60) as http,
        ):
            times = [_provision_seconds(http, slug) for slug in provisioned][1:]  # 1 warm-up
            _fill_to(SMALL, made, base)
            idle_small, small = _median_fleet(http)
        with (
            _devhost(_app_copy(root, [first]), port, root / "data", env) as api,
            httpx.Client(base_url=api, headers=headers, timeout=120) as http,
        ):
            column_small, _, _ = _fleet_seconds(http)
            _fill_to(LARGE, made, (*base, first))
            idle_large, large = _median_fleet(http)
        with (
            _devhost(_app_copy(root, [first, second]), port, root / "data", env) as api,
            httpx.Client(base_url=api, headers=headers, timeout=300) as http,
        ):
            column_large, _, migrated = _fleet_seconds(http)
    finally:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(_drop_tenant, made + provisioned))
        shutil.rmtree(root, ignore_errors=True)
    ms = [t * 1000 for t in times]
    return [
        row("provisioning", f"provision API call → active, p50 of {PROVISIONS}",
            percentile(ms, 50), "ms", "< 1000 ms"),
        row("provisioning", f"provision API call → active, p95 of {PROVISIONS}",
            percentile(ms, 95), "ms", "< 2000 ms"),
        row("provisioning", f"fleet migration, nothing to apply, {small} tenants",
            idle_small, "s", ""),
        row("provisioning", f"fleet migration, nothing to apply, {large} tenants",
            idle_large, "s", "< 5 s at 1,000"),
        row("provisioning", f"fleet migration, add one column, {small} tenants",
            column_small, "s", ""),
        row("provisioning", f"fleet migration, add one column, {migrated} tenants",
            column_large, "s", "< 60 s at 1,000"),
    ]  # fmt: skip


if __name__ == "__main__":
    for line in run():
        print(line)
