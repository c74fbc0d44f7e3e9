"""Idempotency-Key with Stripe's semantics: replay, mismatch, in flight, concurrency, expiry."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from shared.db import tenant_transaction
from shared.orders.idempotency import claim_key, request_fingerprint
from shared.orders.models import OrderIn
from tests.conftest import execute
from tests.devhost.durable_fixtures import loop_fixture  # noqa: F401
from tests.housekeeping_helpers import engine_fixture, run_housekeeping  # noqa: F401
from tests.order_fixtures import Shop, open_shop, shop_fixture  # noqa: F401


def _parsed(body: dict) -> dict:
    """The body as the server canonicalises it before fingerprinting."""
    return OrderIn.model_validate(body).model_dump(mode="json")


def _orders(shop: Shop) -> int:
    return execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"]


def test_same_key_and_body_returns_the_first_answer(shop: Shop) -> None:
    key = str(uuid.uuid4())
    body = shop.order_body(shop.pizza_line("Ham"), shop.cola_line())
    first = shop.post_order(body, key=key)
    assert first.status_code == 201
    # Same meaning, other key order and client IP: still the same request.
    reordered = {"tip": body["tip"], "fulfilment": body["fulfilment"], "lines": body["lines"]}
    again = shop.post_order(reordered, key=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _orders(shop) == 1


def test_same_key_with_another_body_is_422(shop: Shop) -> None:
    key = str(uuid.uuid4())
    assert shop.post_order(shop.order_body(shop.cola_line()), key=key).status_code == 201
    response = shop.post_order(shop.order_body(shop.cola_line(quantity=2)), key=key)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "Idempotency-Key"
    assert _orders(shop) == 1


def test_a_request_while_the_first_is_in_flight_is_409(shop: Shop) -> None:
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    # Another worker has claimed the key and is still placing its order.
    with tenant_transaction(shop.schema) as conn:
        claim_key(conn, key, request_fingerprint(_parsed(body)))
    response = shop.post_order(body, key=key)
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert _orders(shop) == 0


def test_fifty_concurrent_identical_requests_create_one_order(shop: Shop) -> None:
    key = str(uuid.uuid4())
    body = shop.order_body(shop.pizza_line("Olives"), shop.cola_line())
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: shop.post_order(body, key=key), range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r.json() for r in responses if r.status_code == 201]
    assert len({order["id"] for order in created}) == 1
    assert _orders(shop) == 1
    # Once the first has finished, every retry gets its answer.
    assert shop.post_order(body, key=key).json() == created[0]


def test_a_rejected_request_leaves_its_key_unused(shop: Shop) -> None:
    key = str(uuid.uuid4())
    bad = shop.order_body({"item_id": str(uuid.uuid4()), "quantity": 1})
    assert shop.post_order(bad, key=key).status_code == 422
    # The client fixes the request and retries with the same key.
    fixed = shop.post_order(shop.order_body(shop.cola_line()), key=key)
    assert fixed.status_code == 201


def test_keys_are_per_restaurant(shop: Shop, client, tenants, auth_header) -> None:
    other = open_shop(client, tenants, auth_header)
    key = str(uuid.uuid4())
    here = shop.post_order(shop.order_body(shop.cola_line()), key=key)
    there = other.post_order(other.order_body(other.cola_line()), key=key)
    assert here.status_code == there.status_code == 201
    assert here.json()["id"] != there.json()["id"]


def test_keys_expire_after_24_hours_and_the_timer_purges_them(
    shop: Shop, app_functions, engine
) -> None:
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    first = shop.post_order(body, key=key).json()
    row = execute(
        f"select expires_at - now() as ttl from {shop.schema}.idempotency_keys where key = %s",
        [key],
    )[0]
    assert 23.9 * 3600 < row["ttl"].total_seconds() <= 24 * 3600
    execute(f"update {shop.schema}.idempotency_keys set expires_at = now() - interval '1 second'")
    # An expired key is a new key: this is a new order.
    second = shop.post_order(body, key=key).json()
    assert second["id"] != first["id"]
    execute(f"update {shop.schema}.idempotency_keys set expires_at = now() - interval '1 second'")
    run_housekeeping(app_functions, engine)
    assert execute(f"select key from {shop.schema}.idempotency_keys") == []


def test_order_access_token_is_not_stored_in_the_idempotency_table(shop: Shop) -> None:
    # Access tokens are derived, never stored: a copy of the database must not follow orders,
    # not even through the answers kept for Idempotency-Key replays.
    key = f"privacy-{uuid.uuid4()}"
    placed = shop.post_order(key=key)
    assert placed.status_code == 201, placed.text
    token = placed.json()["access_token"]
    assert shop.customer_view(placed.json()).status_code == 200  # the token opens the order

    rows = execute(
        f"select response_body::text as body from {shop.schema}.idempotency_keys where key = %s",
        [key],
    )
    assert len(rows) == 1
    assert token not in rows[0]["body"], "order access token stored in idempotency_keys"

    # A replay still hands the customer their token (re-derived, not read back from storage).
    replay = shop.post_order(key=key)
    assert replay.status_code == 201 and replay.json()["access_token"] == token


def test_an_empty_idempotency_key_is_refused_not_taken_as_none(shop: Shop) -> None:
    # A retry with the same empty key must not place a second order: both are refused.
    body = shop.order_body(shop.cola_line())
    first = shop.post_order(body, key="")
    retry = shop.post_order(body, key="")
    assert (first.status_code, retry.status_code) == (400, 400)
    assert first.headers["content-type"] == "application/problem+json"
    assert execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"] == 0
