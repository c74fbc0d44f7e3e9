"""The response headers the served API description declares are the ones the answers carry."""

from __future__ import annotations

import re
from typing import Any

from devhost.testclient import TestClient, TestResponse
from tests.storefront_helpers import build_small_menu, ok, owner_api
from tests.test_openapi import operations, resolve


def _template(document: dict[str, Any], path: str) -> str:
    for template in document["paths"]:
        if re.match("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$", path):
            return template
    raise AssertionError(f"the description has no path for {path}")


def declared_but_absent(
    document: dict[str, Any], method: str, path: str, response: TestResponse
) -> list[str]:
    """ETag / Location the description declares for this answer that the answer lacks."""
    template = _template(document, path)
    declared = document["paths"][template][method.lower()]["responses"][str(response.status_code)]
    headers = resolve(document, declared).get("headers", {})
    return [
        f"{method} {template} → {response.status_code}: no {name}"
        for name in headers
        if name in ("ETag", "Location") and name not in response.headers
    ]


def test_described_etag_and_location_headers_are_sent(
    client: TestClient, tenants, auth_header, document: dict[str, Any]
) -> None:
    """Every ETag and Location the description declares for an answer of the admin journey is
    on that answer: an app built from the description reads them and sends If-Match back."""
    api = owner_api(client, tenants.create(), auth_header)
    small = build_small_menu(api)
    item, group, category = small["item"], small["group"], small["category"]
    option_ids = [option["id"] for option in group["options"]]
    ok(api.post("/v1/admin/tables", json={"label": "Window 3", "seats": 4}), 201)
    steps = [
        # Answers that do carry their version: declared, and so checked, too.
        ("GET", "/v1/admin/settings", None, 200),
        ("GET", "/v1/admin/theme", None, 200),
        ("GET", f"/v1/admin/menu/groups/{group['id']}", None, 200),
        ("PATCH", f"/v1/admin/menu/groups/{group['id']}", {"name": "Sizes"}, 200),
        ("GET", "/v1/admin/theme/presets", None, 200),
        ("GET", "/v1/admin/menu", None, 200),
        ("POST", "/v1/admin/menu/categories/reorder", {"ids": [category["id"]]}, 200),
        ("POST", f"/v1/admin/menu/categories/{category['id']}/items/reorder",
         {"ids": [item["id"]]}, 200),
        ("POST", f"/v1/admin/menu/groups/{group['id']}/options/reorder",
         {"ids": option_ids[::-1]}, 200),
        ("POST", "/v1/admin/menu/publish", None, 201),
        ("POST", "/v1/admin/menu/availability",
         {"items": [{"id": item["id"], "available": False}]}, 200),
        ("POST", f"/v1/admin/menu/items/{item['id']}/image-upload",
         {"content_type": "image/jpeg"}, 200),
        ("POST", "/v1/admin/branding/logo/image-upload", {"content_type": "image/png"}, 200),
        ("GET", "/v1/admin/branding/images", None, 200),
        ("GET", "/v1/admin/tables", None, 200),
        ("POST", "/v1/admin/menu/import",
         {"categories": [{"name": "Pizza", "items": [{"name": "Marinara", "price": 800}]}]}, 200),
        ("POST", "/v1/admin/menu/categories", {"name": "Drinks"}, 201),
    ]  # fmt: skip
    missing = []
    for method, path, body, status in steps:
        response = api.call(method, path, json=body)
        assert response.status_code == status, (method, path, response.text)
        missing += declared_but_absent(document, method, path, response)
    assert missing == [], "\n".join(missing)
    declared = resolve(document, document["paths"]["/v1/admin/menu/groups/{id}"]["get"]
                        ["responses"]["200"])["headers"]  # fmt: skip
    assert "ETag" in declared


def test_an_order_key_still_in_flight_is_a_409_with_retry_after(document: dict[str, Any]) -> None:
    """A retry while the first request with that key runs is a 409 with Retry-After
    (shared/orders/idempotency.py): a client has to know to wait that long and retry."""
    responses = document["paths"]["/v1/store/orders"]["post"]["responses"]
    conflict = resolve(document, responses["409"])
    assert "Retry-After" in conflict["headers"]
    assert resolve(document, conflict["headers"]["Retry-After"])["schema"]["type"] == "integer"


def test_accepted_platform_operations_declare_location(document: dict[str, Any]) -> None:
    """A 202 from a platform operation says where to poll it (Location), and so does the
    description."""
    accepted = [
        (method, path, operation["responses"]["202"])
        for method, path, operation in operations(document)
        if "202" in operation.get("responses", {})
    ]
    assert {(method, path) for method, path, _ in accepted} >= {
        ("POST", "/v1/platform/tenants"),
        ("DELETE", "/v1/platform/tenants/{slug}"),
        ("POST", "/v1/platform/migrations"),
    }
    for method, path, answer in accepted:
        assert "Location" in resolve(document, answer)["headers"], (method, path)


def test_the_description_may_be_cached(client: TestClient) -> None:
    """README: the description is served with ETag and Cache-Control for caches to use."""
    response = client.get("/api/openapi.json")
    assert response.headers["cache-control"] == "public, max-age=300"
