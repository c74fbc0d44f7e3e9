"""Bad input across every operation that takes it: a clear problem+json 4xx, never a 500 or 2xx.

Operations come from the OpenAPI document GET /api/openapi.json serves, so a new operation is
covered as it is added: an empty If-Match on every conditional write, a roles claim that is not a
list on every role-protected one, and JSON integers that must be integers. (tests/test_fuzz.py
sends schemathesis' generated requests besides.)
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost import testclient
from devhost.testclient import TestClient
from tests.conftest import IDENTITY
from tests.devhost.devhost_process import start_app_devhost
from tests.order_fixtures import Shop, module_shop_fixture, order_access, settle  # noqa: F401

PLATFORM_HOST = "stelly.test"
PROBLEM_FIELDS = ("type", "title", "status", "detail")
METHODS = ("get", "post", "put", "patch", "delete")
# Operations that hold a durable client: the in-process router cannot call them.
DURABLE = {
    ("POST", "/v1/platform/tenants"),
    ("DELETE", "/v1/platform/tenants/{slug}"),
    ("POST", "/v1/platform/migrations"),
    ("GET", "/v1/platform/operations/{id}"),
    ("PUT", "/v1/platform/tenants/{slug}/domains"),
}


def _document() -> dict[str, Any]:
    """The document GET /api/openapi.json serves (its cached bytes, built from the same app),
    read at collection time so every operation is a test case of its own."""
    from functions.openapi import openapi_bytes

    return json.loads(openapi_bytes()[0])


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in _document()["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _reads_if_match(op: dict[str, Any]) -> bool:
    return any(p["name"] == "If-Match" for p in op.get("parameters", []))


def _body_schema(op: dict[str, Any]) -> str:
    ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    return ref["$ref"].rsplit("/", 1)[-1] if ref else ""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Operations from the OpenAPI document, per test."""
    operations = _operations()
    if "if_match_operation" in metafunc.fixturenames:
        found = [
            (m, p)
            for m, p, op in operations
            if _reads_if_match(op) and (m, p) not in VERSION_REQUIRED
        ]
        metafunc.parametrize("if_match_operation", found, ids=[f"{m} {p}" for m, p in found])
    if "role_operation" in metafunc.fixturenames:
        found = [(m, p, op) for m, p, op in operations if _roles(op) and (m, p) not in DURABLE]
        metafunc.parametrize("role_operation", found, ids=[f"{m} {p}" for m, p, _ in found])
    if "query_operation" in metafunc.fixturenames:
        found = [
            (m, p, op) for m, p, op in operations if _takes_query(op) and (m, p) not in DURABLE
        ]
        metafunc.parametrize("query_operation", found, ids=[f"{m} {p}" for m, p, _ in found])
    if "upload_operation" in metafunc.fixturenames:
        found = [(m, p) for m, p, op in operations if _body_schema(op) == "UploadRequest"]
        metafunc.parametrize("upload_operation", found, ids=[f"{m} {p}" for m, p in found])


def _takes_query(op: dict[str, Any]) -> bool:
    return any(parameter["in"] == "query" for parameter in op.get("parameters", []))


def _roles(op: dict[str, Any]) -> list[str]:
    found = re.search(r"Token roles: ([a-z_, ]+)", op.get("description", ""))
    return [role.strip() for role in found.group(1).split(",")] if found else []


def assert_problem(
    response: testclient.TestResponse | httpx.Response, statuses: tuple[int, ...]
) -> None:
    content_type = response.headers.get("content-type", "").split(";")[0]
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert content_type == "application/problem+json", content_type
    body = response.json()
    assert all(key in body for key in PROBLEM_FIELDS), body
    assert body["status"] == response.status_code


# --- An empty If-Match is a list of no ETags: it matches nothing (412), never "no precondition"

# Both refuse a write without a version: the transition/update tests cover them.
VERSION_REQUIRED = {
    ("PUT", "/v1/admin/tables/{id}"),
    ("POST", "/v1/kitchen/orders/{id}/transition"),
}


def _fresh_row(shop: Shop, path: str) -> tuple[str, dict[str, Any] | None]:
    """A row of its own for one write (an empty category, an unlinked group, ...): its URL path
    and a valid body for a PATCH/PUT of it."""
    client, host, owner = shop.client, shop.host, shop.owner()

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post("/api" + url, host=host, headers=owner, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    name = "R" + uuid.uuid4().hex[:8]
    if path == "/v1/admin/tables/{id}":
        table = post("/v1/admin/tables", {"label": name})
        return f"/v1/admin/tables/{table['id']}", {"label": name + "x"}
    if path == "/v1/admin/menu/categories/{id}":
        row = post("/v1/admin/menu/categories", {"name": name})
        return f"/v1/admin/menu/categories/{row['id']}", {"name": name + "x"}
    if path == "/v1/admin/menu/items/{id}":
        category = post("/v1/admin/menu/categories", {"name": name})
        row = post(
            "/v1/admin/menu/items", {"category_id": category["id"], "name": name, "price": 100}
        )
        return f"/v1/admin/menu/items/{row['id']}", {"price": 200}
    group = post(
        "/v1/admin/menu/groups",
        {"name": name, "min": 0, "max": 1, "options": [{"name": "A"}, {"name": "B"}]},
    )
    if path == "/v1/admin/menu/groups/{id}":
        return f"/v1/admin/menu/groups/{group['id']}", {"name": name + "x"}
    if path == "/v1/admin/menu/options/{id}":
        return f"/v1/admin/menu/options/{group['options'][0]['id']}", {"price_delta": 50}
    if path == "/v1/admin/settings":
        return path, {
            "business_name": "Test Pizzeria " + name,
            "currency": "EUR",
            "timezone": "UTC",
            "locale": "en",
            "tax": {"rate_bp": 2000, "inclusive": False},
        }
    if path == "/v1/admin/theme":
        theme = client.get("/api/v1/admin/theme", host=host, headers=owner).json()
        theme["shape"]["radius_small"] = (theme["shape"]["radius_small"] + 1) % 10
        return path, theme
    if path == "/v1/kitchen/orders/{id}/ready-by":
        order = shop.place()
        moved = shop.transition(order, "accepted", 1)
        assert moved.status_code == 200, moved.text
        return f"/v1/kitchen/orders/{order['id']}/ready-by", {"ready_in_minutes": 10}
    raise AssertionError(path)


@pytest.mark.parametrize("if_match", ["", " , "], ids=["empty", "empty-list"])
def test_an_empty_if_match_is_a_failed_precondition_not_an_unconditional_write(
    client: TestClient, module_shop: Shop, if_match_operation: tuple[str, str], if_match: str
) -> None:
    # A client whose ETag variable came out empty must not overwrite, delete or cancel blindly.
    method, path = if_match_operation
    if path == "/v1/store/orders/{id}/cancel":  # the customer's, with the order's own token
        order = module_shop.place()
        url, body = order["links"]["cancel"].removeprefix("/api"), {}
        who = order_access(order)
    else:
        url, body = _fresh_row(module_shop, path)
        who = module_shop.owner()
    response = client.request(
        method,
        "/api" + url,
        host=module_shop.host,
        headers={**who, "If-Match": if_match},
        json=body if method != "DELETE" else None,
    )
    assert_problem(response, (412,))


# --- A validly signed token whose `roles` claim is not a list or a string grants nothing -------


def _filled(path: str, slug: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return {"kind": "logo", "slug": slug, "token": "x", "version": "1"}.get(
            name, str(uuid.uuid4())
        )

    return re.sub(r"\{([^}]+)\}", value, path)


def test_a_roles_claim_that_is_not_a_list_is_refused_not_a_500(
    client: TestClient, module_shop: Shop, role_operation: tuple[str, str, dict]
) -> None:
    # From a misconfigured provider: a number is no role (and an object's keys would be).
    method, path, op = role_operation
    platform = op.get("x-stelly-host") == "platform"
    role = _roles(op)[0]
    token = IDENTITY.mint(role=role, tenant=None if platform else module_shop.slug, roles=5)
    response = client.request(
        method,
        "/api" + _filled(path, module_shop.slug),
        host=PLATFORM_HOST if platform else module_shop.host,
        headers={"Authorization": f"Bearer {token}"},
        json={} if "requestBody" in op else None,
    )
    assert_problem(response, (403,))  # README "Tokens": a number in `roles` grants no role


# --- An unknown query parameter is refused, never ignored -------------------------------------


def test_an_unknown_query_parameter_is_a_422_naming_it(
    client: TestClient, module_shop: Shop, query_operation: tuple[str, str, dict]
) -> None:
    """README "HTTP conventions": an unknown query parameter is a 422 on every route that takes
    parameters. A DELETE that ignored `?expected_versoin=1` (a typo) would delete a row someone
    had just changed, without the version check its caller asked for."""
    method, path, op = query_operation
    platform = op.get("x-stelly-host") == "platform"
    roles = _roles(op)
    token = IDENTITY.mint(role=roles[0], tenant=None if platform else module_shop.slug)
    response = client.request(
        method,
        "/api" + _filled(path, module_shop.slug),
        host=PLATFORM_HOST if platform else module_shop.host,
        headers={"Authorization": f"Bearer {token}"} if roles else {},
        params={"expected_versoin": "1"},
    )
    assert_problem(response, (422,))
    assert [error["path"] for error in response.json()["errors"]] == ["query.expected_versoin"]


# --- JSON booleans and numeric strings are not integers ----------------------------------------


@pytest.mark.parametrize("size", [True, "1000"], ids=["true", "string"])
def test_upload_size_must_be_a_json_integer(
    client: TestClient, module_shop: Shop, upload_operation: tuple[str, str], size: Any
) -> None:
    # Like every other body integer (prices, seats, expected_version): `true` is not 1 byte.
    method, path = upload_operation
    owner = module_shop.owner()
    if "{id}" in path:
        menu = client.get("/api/v1/admin/menu", host=module_shop.host, headers=owner).json()
        path = path.replace("{id}", menu["categories"][0]["items"][0]["id"])
    path = path.replace("{kind}", "logo")
    response = client.request(
        method,
        "/api" + path,
        host=module_shop.host,
        headers=owner,
        json={"content_type": "image/png", "size": size},
    )
    assert_problem(response, (422,))


@pytest.fixture(scope="module")
def platform_devhost(tmp_path_factory: pytest.TempPathFactory, migrated_public: None):
    """The real app on devhost: the platform's durable operations need its durable client."""
    process = start_app_devhost(Path(tmp_path_factory.mktemp("bad-input")))
    yield process
    process.stop()


@pytest.mark.parametrize("field", ["batch_size", "max_parallel"])
@pytest.mark.parametrize("value", [True, "2"], ids=["true", "string"])
def test_fleet_migration_numbers_must_be_json_integers(
    platform_devhost, field: str, value: Any
) -> None:
    # A garbage number must not start a fleet migration of every restaurant.
    response = httpx.post(
        platform_devhost.base_url + "/api/v1/platform/migrations",
        headers={
            "Host": PLATFORM_HOST,
            "Authorization": f"Bearer {IDENTITY.mint(role='platform_admin')}",
        },
        json={field: value},
        timeout=30,
    )
    assert_problem(response, (422,))
    assert [error["path"] for error in response.json()["errors"]] == [field]


# --- A catch-up seq beyond any seq handed out is refused, never "nothing new" -----------------


@pytest.mark.parametrize(
    ("after", "status"),
    [("99999999999999999999", 422), (str(2**63), 422), (str(2**63 - 1), 410)],
)
def test_kitchen_events_after_a_seq_that_cannot_exist_is_refused(
    client: TestClient, module_shop: Shop, after: str, status: int
) -> None:
    # Beyond bigint (outbox.seq's type) is 422; a seq beyond the newest (a database restored
    # from a backup) is 410, so the display reloads instead of waiting for good.
    module_shop.place()
    response = client.get(
        "/api/v1/kitchen/events",
        host=module_shop.host,
        headers=module_shop.staff(),
        params={"after": after},
    )
    assert_problem(response, (status,))
    if status == 410:
        assert "as_of_seq" in response.json()["detail"]


def test_kitchen_events_after_the_newest_seq_is_nothing_new(
    client: TestClient, module_shop: Shop
) -> None:
    module_shop.place()
    settle()
    newest = client.get(
        "/api/v1/kitchen/orders", host=module_shop.host, headers=module_shop.staff()
    ).json()["as_of_seq"]
    response = client.get(
        "/api/v1/kitchen/events",
        host=module_shop.host,
        headers=module_shop.staff(),
        params={"after": str(newest)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"] == []
