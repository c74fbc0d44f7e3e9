"""A storefront or kitchen display built only from `GET /api/openapi.json` and the README: the
answers the running app gives must be the answers its description declares (status, media type,
body schema, and the headers a client has to read)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from devhost.testclient import TestResponse as Answer
from tests.image_fixtures import encoded, photo
from tests.order_fixtures import Shop, order_access, settle, shop_fixture  # noqa: F401
from tests.storefront_helpers import ok, owner_api
from tests.test_images_odd_files import upload_and_process
from tests.test_openapi import resolve

pytestmark = pytest.mark.usefixtures("webpubsub_hub")


def declared_answer(document: dict[str, Any], method: str, path: str, status: int) -> dict:
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} → {status}, not in {sorted(responses)}"
    return resolve(document, responses[str(status)])


def mismatches(document: dict[str, Any], method: str, path: str, r: Answer) -> list[str]:
    """How one real answer differs from what the description declares for its status."""
    where = f"{method} {path} → {r.status_code}"
    answer = declared_answer(document, method, path, r.status_code)
    headers = {name.lower() for name in answer.get("headers", {})}
    sent = ("etag", "location", "retry-after", "idempotent-replayed", "www-authenticate")
    found = [f"{where}: undeclared {h}" for h in sent if h in r.headers and h not in headers]
    content = answer.get("content")
    if not content:
        return found + ([f"{where}: a body where none is declared"] if r.body else [])
    if r.content_type not in content:
        return [*found, f"{where}: {r.content_type} not in {sorted(content)}"]
    schema = {**content[r.content_type]["schema"], "components": document["components"]}
    checker = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found += [f"{where}: {list(e.absolute_path)} {e.message[:120]}"
              for e in checker.iter_errors(r.json())]  # fmt: skip
    if r.status_code >= 400:
        problem = r.json()
        if problem.get("status") != r.status_code or not problem.get("correlation_id"):
            found.append(f"{where}: problem says status {problem.get('status')}")
    return found


def test_real_answers_match_their_declared_status_media_type_and_schema(
    document: dict[str, Any], shop: Shop, auth_header, tenants
) -> None:
    """Storefront, kitchen, manager and platform together: every status the app answers
    on the storefront's and the kitchen display's paths, happy and refused, is one the
    description lists for that operation; a JSON answer validates against the declared schema
    (OrderReceiptOut on a placement and its replay, RestaurantSettings, ThemeTokens,
    TenantPage/TenantDetail, HealthReport), and every refusal is a Problem carrying its own
    status and a correlation id."""
    client, host = shop.client, shop.host
    staff, owner = shop.staff(), shop.owner()
    admin = auth_header("platform_admin")
    answers: list[tuple[str, str, Answer]] = []

    def call(method: str, path: str, url: str, *, on: str = host, **kw: Any) -> Answer:
        response = client.request(method, "/api" + url, host=on, **kw)
        answers.append((method, path, response))
        return response

    order = shop.place()
    oid, mine = order["id"], order_access(order)
    body, key = shop.order_body(), str(uuid.uuid4())
    for sent in (body, body, {**body, "tip": 5}, {"lines": []}):
        answers.append(("POST", "/v1/store/orders", shop.post_order(sent, key=key)))
    one_order, ticket = "/v1/store/orders/{id}", "/v1/kitchen/orders/{id}"
    seen = call("GET", one_order, f"/v1/store/orders/{oid}", headers=mine)
    call("GET", one_order, f"/v1/store/orders/{oid}",
         headers={**mine, "If-None-Match": seen.headers["etag"]})  # fmt: skip
    call("GET", one_order, f"/v1/store/orders/{oid}")
    call("GET", one_order, f"/v1/store/orders/{oid}", params={"access_token": "x"})
    follow = "/v1/store/orders/{id}/negotiate"
    call("GET", follow, f"/v1/store/orders/{oid}/negotiate", headers=mine)
    call("GET", "/v1/store/menu", "/v1/store/menu")
    call("GET", "/v1/store/config", "/v1/store/config")
    call("GET", "/v1/store/tables/{token}", "/v1/store/tables/nope")
    call("GET", "/v1/store/menu", "/v1/store/menu", on="nobody.stelly.test")
    call("GET", "/v1/kitchen/orders", "/v1/kitchen/orders", headers=staff)
    call("GET", "/v1/kitchen/orders", "/v1/kitchen/orders")
    call("GET", "/v1/kitchen/orders", "/v1/kitchen/orders", params={"limit": "0"}, headers=staff)
    call("GET", ticket, f"/v1/kitchen/orders/{oid}", headers=staff)
    call("GET", ticket, f"/v1/kitchen/orders/{uuid.uuid4()}", headers=staff)
    move = "/v1/kitchen/orders/{id}/transition"
    call("POST", move, f"/v1/kitchen/orders/{oid}/transition",
         headers={**staff, "If-Match": '"7"'}, json={"to": "accepted"})  # fmt: skip
    call("POST", move, f"/v1/kitchen/orders/{oid}/transition", headers=staff,
         json={"to": "accepted", "expected_version": 1, "ready_in_minutes": 15})  # fmt: skip
    call("POST", move, f"/v1/kitchen/orders/{oid}/transition", headers=staff,
         json={"to": "completed", "expected_version": 2})  # fmt: skip
    call("PUT", "/v1/kitchen/orders/{id}/ready-by", f"/v1/kitchen/orders/{oid}/ready-by",
         headers=staff, json={"ready_in_minutes": 25, "expected_version": 2})  # fmt: skip
    # Accepted by now: a 409 telling the customer to call.
    call("POST", "/v1/store/orders/{id}/cancel", f"/v1/store/orders/{oid}/cancel",
         headers=mine, json={})  # fmt: skip
    settle()
    events = "/v1/kitchen/events"
    call("GET", events, events, params={"after": "0"}, headers=staff)
    call("GET", events, events, params={"after": "999999"}, headers=staff)
    call("GET", events, events, params={"station": "zzz"}, headers=staff)
    call("GET", "/v1/kitchen/negotiate", "/v1/kitchen/negotiate", headers=staff)
    call("PUT", "/v1/kitchen/pause", "/v1/kitchen/pause", headers=staff, json={"minutes": 30})
    call("GET", "/v1/kitchen/pause", "/v1/kitchen/pause", headers=staff)
    answers.append(("POST", "/v1/store/orders", shop.post_order()))  # paused: 422
    call("DELETE", "/v1/kitchen/pause", "/v1/kitchen/pause", headers=staff)
    call("GET", "/v1/kitchen/availability", "/v1/kitchen/availability", headers=staff)
    call("GET", "/v1/admin/orders", "/v1/admin/orders", headers=owner)
    call("GET", "/v1/admin/orders", "/v1/admin/orders", headers=staff)
    call("GET", "/v1/admin/orders/{id}", f"/v1/admin/orders/{oid}", headers=owner)
    settings = call("GET", "/v1/admin/settings", "/v1/admin/settings", headers=owner)
    call("PUT", "/v1/admin/settings", "/v1/admin/settings",
         headers={**owner, "If-Match": '"999"'}, json=settings.json())  # fmt: skip
    call("PUT", "/v1/admin/settings", "/v1/admin/settings",
         headers={**owner, "If-Match": settings.headers["etag"]}, json=settings.json())  # fmt: skip
    call("GET", "/v1/admin/theme", "/v1/admin/theme", headers=owner)
    call("GET", "/health", "/health")
    call("GET", "/v1/platform/tenants", "/v1/platform/tenants", on="stelly.test", headers=admin)
    call("GET", "/v1/platform/tenants/{slug}", f"/v1/platform/tenants/{shop.slug}",
         on="stelly.test", headers=admin)  # fmt: skip
    suspended = tenants.create(status="suspended")
    call("GET", "/v1/store/menu", "/v1/store/menu", on=f"{suspended.slug}.stelly.test")

    statuses = {r.status_code for _, _, r in answers}
    assert {200, 201, 204, 304, 400, 401, 403, 404, 409, 410, 412, 422} <= statuses, statuses
    found = [line for answer in answers for line in mismatches(document, *answer)]
    assert found == [], "\n".join(found)


def test_not_modified_answers_carry_the_etag_they_declare(
    document: dict[str, Any], shop: Shop
) -> None:
    """A storefront polling with If-None-Match gets an empty 304 that carries the ETag the
    description declares for it (to keep sending), on the menu, the config and an order."""
    order = shop.place()
    reads = [
        ("/v1/store/menu", "/api/v1/store/menu", {}),
        ("/v1/store/config", "/api/v1/store/config", {}),
        ("/v1/store/orders/{id}", f"/api/v1/store/orders/{order['id']}", order_access(order)),
    ]
    for path, url, headers in reads:
        first = shop.client.get(url, host=shop.host, headers=headers)
        ok(first)
        again = shop.client.get(
            url, host=shop.host, headers={**headers, "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304 and again.body == b"", (path, again.status_code)
        assert "ETag" in declared_answer(document, "GET", path, 304)["headers"], path
        assert again.headers.get("etag") == first.headers["etag"], (path, dict(again.headers))


def test_the_replay_header_of_an_order_is_described(document: dict[str, Any], shop: Shop) -> None:
    """README (Idempotency): a retry with the same Idempotency-Key gets the first answer, status
    and body, with `Idempotent-Replayed: true`. A storefront generated from the description has
    to be told of that header on the 201 to tell a replay from a second order."""
    body, key = shop.order_body(), str(uuid.uuid4())
    first = shop.post_order(body, key=key)
    replay = shop.post_order(body, key=key)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers.get("idempotent-replayed") == "true"
    declared = declared_answer(document, "POST", "/v1/store/orders", 201)["headers"]
    assert "idempotent-replayed" in {name.lower() for name in declared}, sorted(declared)


def test_the_401_challenge_header_is_described(document: dict[str, Any], shop: Shop) -> None:
    """README (HTTP conventions): a missing or invalid token is a 401 with `WWW-Authenticate`
    (its `error_description` says what is wrong). A kitchen display generated from the
    description reads that reason only if the 401 it documents declares the header."""
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        refused = shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer ")
    declared = declared_answer(document, "GET", "/v1/kitchen/orders", 401)["headers"]
    assert "www-authenticate" in {name.lower() for name in declared}, sorted(declared)


WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_answers_with_every_optional_part_match_their_schemas(
    document: dict[str, Any], shop: Shop, app_functions: list
) -> None:
    """The same check on answers whose optional parts are all present: a store config with
    hours, special days, a contact and a pause; a dish with a photo; a dine-in ticket; a 86
    list with a timed 86 and an option; a customer's cancel that goes through; the events
    all of it sent."""
    client, host, staff = shop.client, shop.host, shop.staff()
    api = owner_api(client, shop.tenant, shop.auth)
    answers: list[tuple[str, str, Answer]] = []

    def call(method: str, path: str, url: str, **kw: Any) -> Answer:
        response = client.request(method, "/api" + url, host=host, **kw)
        ok(response)
        answers.append((method, path, response))
        return response

    settings = ok(api.get("/v1/admin/settings"))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    settings |= {
        "hours": {day: [["00:00", "24:00"]] for day in WEEK},
        "special_days": [{"date": tomorrow, "hours": [["12:00", "15:00"]], "note": "Staff party"}],
        "contact": {"phone": "+44 20 7946 0123", "email": "hi@example.com",
                    "address": "1 High St", "website": "https://example.com"},
    }  # fmt: skip
    ok(api.put("/v1/admin/settings", json=settings))
    upload_and_process(api, shop.menu.items["Margherita"], encoded(photo(800, 600), "JPEG"),
                       app_functions)  # fmt: skip
    ok(api.post("/v1/admin/menu/publish"), 201)
    ham = shop.menu.option("Margherita/Toppings/Ham")
    ok(api.post("/v1/admin/menu/availability", json={
        "items": [{"id": shop.menu.items["Cola"], "available": False, "until": "tomorrow"}],
        "options": [{"id": ham, "available": False}]}))  # fmt: skip
    body = shop.dine_in_body("Window 2")
    call("GET", "/v1/store/tables/{token}",
         f"/v1/store/tables/{body['fulfilment']['table_token']}")  # fmt: skip
    dine_in = shop.place({**body, "lines": [shop.pizza_line()]})
    call("GET", "/v1/kitchen/orders/{id}", f"/v1/kitchen/orders/{dine_in['id']}", headers=staff)
    call("POST", "/v1/store/orders/{id}/cancel", f"/v1/store/orders/{dine_in['id']}/cancel",
         headers=order_access(dine_in), json={"reason": "Wrong table"})  # fmt: skip
    call("GET", "/v1/kitchen/availability", "/v1/kitchen/availability", headers=staff)
    call("PUT", "/v1/kitchen/pause", "/v1/kitchen/pause", headers=staff,
         json={"minutes": 20, "note": "Kitchen full"})  # fmt: skip
    config = call("GET", "/v1/store/config", "/v1/store/config").json()
    menu = call("GET", "/v1/store/menu", "/v1/store/menu").json()
    ok(client.delete("/api/v1/kitchen/pause", host=host, headers=staff), 204)
    settle()
    events = call("GET", "/v1/kitchen/events", "/v1/kitchen/events", headers=staff,
                  params={"after": "0"}).json()["events"]  # fmt: skip

    assert config["paused"] and config["hours"] and config["special_days"] and config["contact"]
    assert any(item["image"] for c in menu["categories"] for item in c["items"])
    kinds = {"menu.sold_out", "order.placed", "order.cancelled", "store.paused", "store.resumed"}
    assert kinds <= {event["type"] for event in events}
    found = [line for answer in answers for line in mismatches(document, *answer)]
    assert found == [], "\n".join(found)
