"""Tenant resolution: the Front Door host rule, ports, case, statuses, and the cache chain."""

from __future__ import annotations

import pytest

from shared.config import load_settings
from shared.directory import directory_get
from shared.tenancy import (
    TenantResolver,
    _lookup_database,
    is_platform_host,
    request_host,
    resolver,
)
from shared.tenants import TenantRecord
from tests.conftest import TEST_SETTINGS, execute, unique_slug
from tests.stalling_proxy import (  # noqa: F401  (the `table_storage_proxy` fixture)
    StallingProxy,
    answered_within,
    table_storage_proxy_fixture,
)

BASE = {**TEST_SETTINGS, "DATABASE_URL": "postgresql://x", "AzureWebJobsStorage": "x"}
PRODUCTION = load_settings(
    {**BASE, "STELLY_ENV": "production", "FRONTDOOR_ID": "fd-1234", "QR_SIGNING_KEY": "q" * 40,
     "AUTH_JWKS_URL": "https://login.example.test/keys",
     "ASSETS_BASE_URL": "https://assets.example.test/assets"}
)  # fmt: skip
DEVELOPMENT = load_settings(BASE)


@pytest.mark.parametrize(
    ("headers", "settings", "expected"),
    [
        ({"host": "Pizza.Stelly.com:443"}, PRODUCTION, "pizza.stelly.com"),
        ({"host": "pizza.stelly.com."}, PRODUCTION, "pizza.stelly.com"),
        ({"host": "[::1]:7071"}, PRODUCTION, "::1"),
        # Forwarded host only counts with our Front Door's id...
        ({"host": "app.azurewebsites.net", "x-forwarded-host": "pizza.stelly.com",
          "x-azure-fdid": "fd-1234"}, PRODUCTION, "pizza.stelly.com"),
        ({"host": "app.azurewebsites.net", "x-forwarded-host": "pizza.stelly.com",
          "x-azure-fdid": "someone-elses"}, PRODUCTION, "app.azurewebsites.net"),
        ({"host": "app.azurewebsites.net", "x-forwarded-host": "pizza.stelly.com"},
         PRODUCTION, "app.azurewebsites.net"),
        # ...or in local development.
        ({"host": "localhost:7071", "x-forwarded-host": "Demo.localhost:7071"},
         DEVELOPMENT, "demo.localhost"),
        ({"host": "a.test", "x-forwarded-host": "b.test, proxy.test"}, DEVELOPMENT, "b.test"),
    ],
)  # fmt: skip
def test_request_host(headers, settings, expected) -> None:
    assert request_host(headers, settings) == expected


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("provisioning", 503),
        ("deleting", 410),
        ("deleted", 410),
        ("failed", 404),
        ("suspended", 403),
    ],
)
def test_status_answers(edge_client, tenants, status: str, code: int) -> None:
    tenant = tenants.create(status=status)
    response = edge_client.get("/api/v1/edge/tenant", host=f"{tenant.slug}.stelly.test")
    assert response.status_code == code
    assert response.content_type == "application/problem+json"
    if code == 503:
        assert response.headers["retry-after"] == "5"


def test_active_tenant_resolves_by_any_of_its_domains(edge_client, tenants) -> None:
    slug = unique_slug()
    tenant = tenants.create(slug=slug, domains=[f"{slug}.stelly.test", f"menu.{slug}.example.org"])
    for host in (f"{slug}.stelly.test", f"MENU.{slug}.example.org:8443"):
        response = edge_client.get("/api/v1/edge/tenant", host=host)
        assert response.json() == {"tenant": tenant.slug}


def test_unknown_host_is_404(edge_client) -> None:
    response = edge_client.get("/api/v1/edge/tenant", host="nobody.stelly.test")
    assert response.status_code == 404
    assert "nobody.stelly.test" in response.json()["detail"]


def test_lookup_fills_the_directory_and_the_cache(tenants) -> None:
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    assert directory_get(domain) is None
    database_reads: list[str] = []

    def counting_database(d: str):
        database_reads.append(d)
        from shared.tenancy import _lookup_database

        return _lookup_database(d)

    local = TenantResolver(database_get=counting_database)
    assert local.lookup(domain).slug == tenant.slug
    assert directory_get(domain).slug == tenant.slug  # cache-aside refill of the directory
    assert local.lookup(domain).slug == tenant.slug
    assert database_reads == [domain]
    # A second "process" (another cache) now reads the directory, not Postgres.
    other = TenantResolver(database_get=counting_database)
    assert other.lookup(domain).slug == tenant.slug
    assert database_reads == [domain]


def test_cache_entry_expires_after_its_ttl(tenants) -> None:
    now = [0.0]
    reads: list[str] = []

    def directory(d: str):
        reads.append(d)
        return None

    local = TenantResolver(
        ttl_s=5, clock=lambda: now[0], directory_get=directory, database_get=lambda d: None
    )
    local.lookup("a.test")
    local.lookup("a.test")
    now[0] = 6
    local.lookup("a.test")
    assert reads == ["a.test", "a.test"]


@pytest.mark.parametrize(
    ("host", "in_development", "in_production"),
    [
        ("stelly.test", True, True),
        ("api.stelly.test", True, True),
        ("127.0.0.1", True, False),  # devhost's base URL; nothing in Azure answers to it
        ("::1", True, False),
        ("pizza.stelly.test", False, False),
    ],
)
def test_platform_hosts(host: str, in_development: bool, in_production: bool) -> None:
    assert is_platform_host(host, DEVELOPMENT) is in_development
    assert is_platform_host(host, PRODUCTION) is in_production


def test_the_cache_stays_bounded_under_made_up_hosts() -> None:
    # Behind a wildcard domain anyone can send a new Host with every request; each unknown one
    # is cached (cheap 404s), so the cache must not grow with them.
    now = [0.0]
    local = TenantResolver(
        ttl_s=5,
        clock=lambda: now[0],
        directory_get=lambda d: None,
        database_get=lambda d: None,
        max_entries=100,
    )
    for n in range(1_000):
        assert local.lookup(f"x{n}.stelly.test") is None
    assert local.cached_entries() <= 100
    # Expired entries go first: after the TTL, a new host does not evict a fresh one.
    now[0] = 10
    local.lookup("fresh.stelly.test")
    assert local.cached_entries() == 1


def test_invalidate_drops_the_local_entry(tenants) -> None:
    """The lookup after invalidate() reads the tenant again rather than answering from the
    entry it had (which would answer just as well, so only the reads tell)."""
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    reads: list[str] = []

    def database(name: str) -> TenantRecord | None:
        reads.append(name)
        return _lookup_database(name)

    local = TenantResolver(directory_get=lambda name: None, database_get=database)
    assert local.lookup(domain).status == "active"
    assert local.lookup(domain).status == "active"
    assert reads == [domain]  # the second lookup came from the cache
    local.invalidate(domain)
    assert local.lookup(domain).slug == tenant.slug
    assert reads == [domain, domain]


def test_storefront_answers_from_postgres_when_the_directory_is_down(
    edge_client, tenants, monkeypatch
) -> None:
    from devhost.services import AzuritePorts, free_port
    from shared.config import get_settings
    from shared.storage import reset_clients

    tenant = tenants.create()
    host = f"{tenant.slug}.stelly.test"
    port = free_port()  # nothing listens here: storage is "down"
    monkeypatch.setenv("AzureWebJobsStorage", AzuritePorts(port, port, port).connection_string())
    get_settings.cache_clear()
    reset_clients()
    try:
        resolver.invalidate(host)
        response = edge_client.get("/api/v1/edge/tenant", host=host)
        assert response.status_code == 200, response.text
        assert response.json() == {"tenant": tenant.slug}
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_clients()
        resolver.invalidate(host)


def test_a_cold_instance_answers_within_a_second_while_table_storage_stalls(
    client, tenants, table_storage_proxy: StallingProxy
) -> None:
    # A cold start, scale-out or recycled worker made its directory client on the first
    # request, creating the table with no short timeout: 10 s per request while storage stalled.
    tenant = tenants.create()
    host = f"{tenant.slug}.stelly.test"
    table_storage_proxy.stalled.set()  # before this process's first directory read
    try:
        first = answered_within(5, lambda: client.get("/api/v1/store/config", host=host))
        resolver.invalidate(host)
        second = answered_within(5, lambda: client.get("/api/v1/store/config", host=host))
    finally:
        table_storage_proxy.stalled.clear()
    assert first and first[0].status_code == 200, "the storefront waited on the stalled directory"
    assert second and second[0].status_code == 200, "the next request waited on it again"


def test_a_restaurant_deleted_meanwhile_is_gone_not_a_500(client, tenants, auth_header) -> None:
    # Another instance deleted the restaurant: this one still holds it in its cache for a few
    # seconds, but the schema is dropped already.
    tenant = tenants.create()
    host = f"{tenant.slug}.stelly.test"
    staff = auth_header("staff", tenant=tenant.slug)
    assert client.get("/api/v1/kitchen/orders", host=host, headers=staff).status_code == 200
    execute(f"drop schema {tenant.schema_name} cascade")
    response = client.get("/api/v1/kitchen/orders", host=host, headers=staff)
    assert response.status_code == 410, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_the_front_door_id_compares_without_case_or_surrounding_spaces() -> None:
    """An X-Azure-FDID in other letter case or with spaces is still our Front Door's."""
    settings = load_settings(
        {**TEST_SETTINGS, "DATABASE_URL": "postgresql://x", "AzureWebJobsStorage": "x",
         "STELLY_ENV": "production", "FRONTDOOR_ID": "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
         "QR_SIGNING_KEY": "q" * 40, "AUTH_JWKS_URL": "https://login.example.test/keys",
         "ASSETS_BASE_URL": "https://assets.example.test/assets"}
    )  # fmt: skip
    headers = {
        "host": "app.azurewebsites.net",
        "x-forwarded-host": "pizza.stelly.com",
        "x-azure-fdid": " 3f2504e0-4f89-11d3-9a0c-0305e82c3301 ",
    }
    assert request_host(headers, settings) == "pizza.stelly.com"
