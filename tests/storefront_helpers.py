"""Helpers for the storefront, branding and menu tests: a per-tenant API caller and menu data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from devhost.testclient import TestClient, TestResponse
from shared.tenants import TenantRecord
from tests.conftest import IDENTITY
from tests.tenant_fixtures import TenantFactory


class Api:
    """Calls one tenant's host as one caller: `api.post("/v1/admin/menu/categories", json=...)`."""

    def __init__(self, client: TestClient, tenant: TenantRecord, headers: dict[str, str]) -> None:
        self.client = client
        self.tenant = tenant
        self.host = f"{tenant.slug}.stelly.test"
        self.headers = headers

    def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> TestResponse:
        return self.client.request(
            method, "/api" + path, host=self.host, headers={**self.headers, **(headers or {})},
            **kwargs,
        )  # fmt: skip

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)


def owner_api(client: TestClient, tenant: TenantRecord, auth_header, role: str = "owner") -> Api:
    return Api(client, tenant, auth_header(role, tenant=tenant.slug))


def customer_api(client: TestClient, tenant: TenantRecord) -> Api:
    return Api(client, tenant, {})


def ok(response: TestResponse, status: int = 200) -> Any:
    """response's JSON after asserting its status (showing the problem when it differs)."""
    assert response.status_code == status, response.text
    return response.json() if response.body else None


def problem(response: Any, status: int) -> dict[str, Any]:
    """A problem+json answer's body after asserting its status (a TestResponse, or an httpx
    response from a real devhost)."""
    assert response.status_code == status, (response.status_code, response.text[:400])
    assert response.headers.get("content-type", "").startswith("application/problem+json")
    return response.json()


def error_paths(response: TestResponse) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.content_type == "application/problem+json"
    return [error["path"] for error in response.json()["errors"]]


def build_small_menu(api: Api) -> dict[str, Any]:
    """One category, one group with two options, one item using it; their JSON by name."""
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizza"}), 201)
    group = ok(
        api.post(
            "/v1/admin/menu/groups",
            json={
                "name": "Size",
                "min": 1,
                "max": 1,
                "options": [
                    {"name": "Regular", "default": True},
                    {"name": "Large", "price_delta": 300},
                ],
            },
        ),
        201,
    )
    item = ok(
        api.post(
            "/v1/admin/menu/items",
            json={
                "category_id": category["id"],
                "name": "Margherita",
                "price": 950,
                "allergens": ["gluten", "milk"],
                "dietary": ["vegetarian"],
                "station": "pizza",
                "modifier_group_ids": [group["id"]],
            },
        ),
        201,
    )
    return {"category": category, "group": group, "item": item}


def module_tenant_api(client: TestClient) -> Iterator[Api]:
    """One owner API on one tenant for a module's many rejected-input cases (tenants are slow).

    Only for tests whose writes are all rejected, so the cases cannot see each other's rows.
    """
    factory = TenantFactory()
    tenant = factory.create()
    token = IDENTITY.mint(role="owner", tenant=tenant.slug)
    yield Api(client, tenant, {"Authorization": f"Bearer {token}"})
    factory.cleanup()


@pytest.fixture(name="api")
def api_fixture(client: TestClient, tenants, auth_header) -> Api:
    """An owner's API on a tenant of its own, for a test that writes rows."""
    return owner_api(client, tenants.create(), auth_header)


@pytest.fixture(name="rejecting_api", scope="module")
def rejecting_api_fixture(client: TestClient) -> Iterator[Api]:
    """module_tenant_api as a fixture: one tenant for a module's rejected writes."""
    yield from module_tenant_api(client)


def publish_first_item_at(conn: psycopg.Connection, price: int) -> None:
    """What a publish writes when the manager repriced the first item: the next version, as a
    publish under way in conn (a test holding the versions lock) makes it."""
    conn.execute(
        """insert into menu_versions (version, etag, snapshot, source, published_at)
           select version + 1, 'v' || (version + 1),
                  jsonb_set(jsonb_set(snapshot, '{version}', to_jsonb(version + 1)),
                            '{categories,0,items,0,price}', to_jsonb(%s::int)),
                  'publish', clock_timestamp()
             from menu_versions order by version desc limit 1""",
        [price],
    )
