"""Test session set-up: real Postgres and Azurite (started by `make test`), a real JWKS over HTTP.

Settings are put in the environment before anything imports function_app, exactly as the host
would from app settings. Each test makes its own tenants with unique slugs, so tests never share
rows and need no truncation between them.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg import sql

from devhost.identity import DevIdentity, JwksServer
from devhost.services import free_port
from tests.hub_server import HubServer

ISSUER = "https://login.test.stelly/"
AUDIENCE = "api://stelly-tests"
IDENTITY = DevIdentity(issuer=ISSUER, audience=AUDIENCE)
JWKS = JwksServer(IDENTITY.jwks())

# The `webpubsub_hub` fixture serves devhost's hub here; the port is chosen now so the connection
# string is in place before anything reads settings.
HUB_PORT = free_port()
HUB_ACCESS_KEY = "test-webpubsub-access-key-0123456789"

TEST_SETTINGS = {
    "STELLY_ENV": "development",
    "WEBPUBSUB_CONNECTION": (
        f"Endpoint=http://127.0.0.1:{HUB_PORT};AccessKey={HUB_ACCESS_KEY};Version=1.0;"
    ),
    "WEBPUBSUB_HUB": "kitchen",
    "AUTH_ISSUER": ISSUER,
    "AUTH_AUDIENCE": AUDIENCE,
    "AUTH_JWKS_URL": JWKS.url,
    "PLATFORM_DOMAIN": "stelly.test",
    "FRONTDOOR_ID": "",
    "QR_SIGNING_KEY": "test-qr-signing-key-0123456789abcdef",
    "ASSETS_BASE_URL": "http://127.0.0.1:10000/devstoreaccount1/assets",
}
os.environ.update(TEST_SETTINGS)

from devhost.routing import Router  # noqa: E402 - settings must be in place first
from devhost.testclient import TestClient  # noqa: E402
from shared import migrate  # noqa: E402
from shared.db import tenant_transaction, transaction  # noqa: E402
from tests.tenant_fixtures import TenantFactory  # noqa: E402


@pytest.fixture(scope="session")
def migrated_public() -> None:
    """Postgres and Azurite are there and public is migrated (tests needing neither skip this)."""
    for required in ("DATABASE_URL", "AzureWebJobsStorage"):
        if not os.environ.get(required):
            pytest.fail(
                f"{required} is not set: run the suite with `make test`, which starts Postgres "
                "and Azurite (or set both to services of your own)"
            )
    migrate.migrate_public()


@pytest.fixture(scope="session")
def app_functions(migrated_public: None) -> list:
    import function_app

    # get_functions() may run once per app object (see notes/durable-protocol.md).
    return function_app.app.get_functions()


@pytest.fixture(scope="session")
def client(app_functions: list) -> TestClient:
    return TestClient(Router(app_functions))


@pytest.fixture(scope="session")
def document(client: TestClient) -> dict[str, Any]:
    """The API description the app serves at /api/openapi.json."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    return response.json()


@pytest.fixture(scope="session")
def identity() -> DevIdentity:
    return IDENTITY


@pytest.fixture
def auth_header() -> Callable[..., dict[str, str]]:
    """auth_header("owner", tenant="pizza") → {"Authorization": "Bearer ..."}."""

    def make(role: str, tenant: str | None = None, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {IDENTITY.mint(role=role, tenant=tenant, **claims)}"}

    return make


@pytest.fixture
def tenants(migrated_public: None) -> Iterator[TenantFactory]:
    factory = TenantFactory()
    yield factory
    factory.cleanup()


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def execute(query: str, params: list | None = None) -> list[dict]:
    with transaction() as conn:
        cursor = conn.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def add_refusal(schema: str, table: str, check: str) -> None:
    """A CHECK named `refusal` on one of a restaurant's tables, so the database refuses a value
    validation let through: a write that fails midway, after earlier rows of its transaction."""
    statement = sql.SQL("alter table {}.{} add constraint refusal check ({})").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(check)
    )
    execute(statement)


def drop_refusal(schema: str, table: str) -> None:
    statement = sql.SQL("alter table {}.{} drop constraint refusal").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    execute(statement)


def lock_waiters(table: str) -> int:
    """How many queries naming table wait for a lock now."""
    waiting = execute(
        """select count(*) as n from pg_stat_activity
            where wait_event_type = 'Lock' and datname = current_database()
              and query like %s""",
        [f"%{table}%"],
    )
    return waiting[0]["n"]


def wait_for_lock_waiters(table: str, count: int = 1, timeout_s: float = 10) -> None:
    """Until `count` queries naming table wait for a lock (a test holding one forces a race)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if lock_waiters(table) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} queries on {table} never waited for a lock")


def run_in_turn_behind(
    schema: str | None,
    lock: str,
    table: str,
    *jobs: Callable[[], object],
    params: list | None = None,
) -> None:
    """Hold what the query `lock` locks in a restaurant's schema (None: public), start each job
    in a thread of its own once the ones before it wait there, then let go: they meet the lock
    in that order (a race, made to happen one way). Returns when every job has ended."""
    threads = [threading.Thread(target=job) for job in jobs]
    with tenant_transaction(schema) if schema else transaction() as conn:
        conn.execute(lock, params or [])
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            wait_for_lock_waiters(table, waiting)
    for thread in threads:
        thread.join(30)


@pytest.fixture(scope="session")
def edge_client(migrated_public: None) -> TestClient:
    """A client for tests/edge_fixture_app.py, which exercises the HTTP edge on its own."""
    from tests import edge_fixture_app

    return TestClient(Router(edge_fixture_app.app.get_functions()))


@pytest.fixture(scope="session")
def webpubsub_hub() -> Iterator[HubServer]:
    """devhost's Web PubSub hub at WEBPUBSUB_CONNECTION; tests may stop() and start() it."""
    hub = HubServer(HUB_PORT, HUB_ACCESS_KEY)
    hub.start()
    yield hub
    hub.stop()
