"""The order guards: Idempotency-Key claims and takeovers, rate-limit windows, how long a
pickup phone number is kept, and how an order's access token is read and signed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql

from shared.config import load_settings
from shared.db import tenant_transaction
from shared.orders import contact_retention
from shared.orders.contact_retention import forget_old_phone_numbers
from shared.orders.idempotency import (
    Claim,
    claim_key,
    drop_claim,
    request_fingerprint,
    store_response,
)
from shared.orders.models import OrderIn
from shared.rate_limit import add_hit, client_ip, purge_windows, retry_after, window_start
from shared.signing import sign, verify
from tests.conftest import TEST_SETTINGS, execute
from tests.order_fixtures import ORDERS, Shop, order_access, shop_fixture  # noqa: F401


def _in_schema(shop: Shop, query: str, params: list | None = None) -> list[dict]:
    return execute(sql.SQL(query).format(sql.Identifier(shop.schema)), params)


# Idempotency-Key (shared/orders/idempotency.py)


def _orders(shop: Shop) -> int:
    return _in_schema(shop, "select count(*) as n from {}.orders")[0]["n"]


def _fingerprint(body: dict) -> str:
    return request_fingerprint(OrderIn.model_validate(body).model_dump(mode="json"))


def _age_claim(shop: Shop, key: str, seconds: int) -> None:
    _in_schema(
        shop,
        "update {}.idempotency_keys set claimed_at = claimed_at - make_interval(secs => %s)"
        " where key = %s",
        [seconds, key],
    )


def test_an_idempotency_key_is_16_to_255_visible_characters(shop: Shop) -> None:
    """16 to 255 visible ASCII characters; a space is not one. A short key is refused because
    a replay hands out the order's access token: it must not be guessable."""
    body = shop.order_body(shop.cola_line())
    assert shop.post_order(body, key="k" * 255).status_code == 201
    assert shop.post_order(shop.order_body(shop.pizza_line()), key="k" * 16).status_code == 201
    for key in ("k" * 256, "my key" * 3, "k" * 15, "1"):
        refused = shop.post_order(body, key=key)
        assert refused.status_code == 400, key
        assert "guessable" in refused.json()["detail"]
    assert _orders(shop) == 2


def test_a_claim_abandoned_for_a_minute_is_taken_over_by_a_retry(shop: Shop) -> None:
    """An unanswered claim older than a minute (a crashed worker) is taken over by a retry,
    not a 409 for 24 hours."""
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    with tenant_transaction(shop.schema) as conn:
        claim_key(conn, key, _fingerprint(body))  # a worker that then crashed
    assert shop.post_order(body, key=key).status_code == 409
    _age_claim(shop, key, 61)
    retried = shop.post_order(body, key=key)
    assert retried.status_code == 201, retried.text
    assert _orders(shop) == 1


def test_an_answered_key_is_not_taken_over_after_a_minute(shop: Shop) -> None:
    """An answered key is replayed, never taken over: no second order a minute later."""
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    first = shop.post_order(body, key=key)
    assert first.status_code == 201
    _age_claim(shop, key, 120)
    again = shop.post_order(body, key=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _orders(shop) == 1


def _taken_over(shop: Shop) -> tuple[Claim, Claim]:
    """(the slow request's claim, the claim of the retry that took it over a minute later)."""
    key, fingerprint = str(uuid.uuid4()), _fingerprint(shop.order_body())
    with tenant_transaction(shop.schema) as conn:
        slow = claim_key(conn, key, fingerprint)
    _age_claim(shop, key, 61)
    with tenant_transaction(shop.schema) as conn:
        retry = claim_key(conn, key, fingerprint)
    return slow, retry


def test_a_taken_over_request_cannot_store_its_answer(shop: Shop) -> None:
    """The slow first request, taken over, cannot store its answer: one order per key."""
    slow, retry = _taken_over(shop)
    assert retry != slow
    with tenant_transaction(shop.schema) as conn:
        assert store_response(conn, slow, 201, {"id": "slow"}).rowcount == 0
    with tenant_transaction(shop.schema) as conn:
        assert store_response(conn, retry, 201, {"id": "retry"}).rowcount == 1


def test_releasing_a_taken_over_claim_leaves_the_new_owners_claim(shop: Shop) -> None:
    """The slow request's release leaves the retry's claim alone."""
    slow, retry = _taken_over(shop)
    with tenant_transaction(shop.schema) as conn:
        drop_claim(conn, slow)
    with tenant_transaction(shop.schema) as conn:
        assert store_response(conn, retry, 201, {"id": "retry"}).rowcount == 1


# Rate limits (shared/rate_limit.py)


def test_a_window_starts_on_the_minute() -> None:
    """Windows start on the minute (the order tests replace window_start, so only this sees it)."""
    now = datetime(2026, 6, 1, 12, 34, 56, 700_000, tzinfo=UTC)
    assert window_start(now) == datetime(2026, 6, 1, 12, 34, tzinfo=UTC)
    assert window_start(datetime(2026, 6, 1, 12, 35, tzinfo=UTC)) == datetime(
        2026, 6, 1, 12, 35, tzinfo=UTC
    )


def test_retry_after_counts_the_seconds_left_in_the_window_rounded_up() -> None:
    """Retry-After is the seconds left in the window, rounded up."""
    start = datetime(2026, 6, 1, 12, 34, tzinfo=UTC)
    assert retry_after(60, limit=60, start=start, now=start) is None
    assert retry_after(61, limit=60, start=start, now=start + timedelta(seconds=0.2)) == 60
    assert retry_after(61, limit=60, start=start, now=start + timedelta(seconds=30.5)) == 30
    assert retry_after(61, limit=60, start=start, now=start + timedelta(seconds=59.5)) == 1


def test_the_front_door_id_matches_whatever_its_case() -> None:
    """An X-Azure-FDID in other letter case is still our Front Door's."""
    settings = load_settings(
        {
            **TEST_SETTINGS,
            "DATABASE_URL": "postgresql://x",
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "FRONTDOOR_ID": "fd-123",
        }
    )
    headers = {
        "x-azure-fdid": "FD-123",
        "x-azure-socketip": "198.51.100.4",
        "x-forwarded-for": "10.1.1.1:5000",
    }
    assert client_ip(headers, settings) == "198.51.100.4"


def test_the_purge_forgets_old_windows_and_keeps_the_current_count(shop: Shop) -> None:
    """The purge forgets old windows only: a limited client cannot order again right after the
    housekeeping."""
    now = datetime.now(UTC)
    with tenant_transaction(shop.schema) as conn:
        add_hit(conn, "orders:203.0.113.20", window_start(now - timedelta(minutes=11)))
        add_hit(conn, "orders:203.0.113.20", window_start(now))
    with tenant_transaction(shop.schema) as conn:
        assert purge_windows(conn) == 1
    with tenant_transaction(shop.schema) as conn:
        hits = add_hit(conn, "orders:203.0.113.20", window_start(now)).fetchone()["hits"]
    assert hits == 2


# Phone retention (shared/orders/contact_retention.py)


def _backdate(shop: Shop, order_id: str, interval: str) -> None:
    _in_schema(
        shop, "update {}.orders set placed_at = now() - %s::interval where id = %s",
        [interval, order_id],
    )  # fmt: skip


def _phone(shop: Shop, order_id: str) -> str | None:
    rows = _in_schema(shop, "select customer_phone from {}.orders where id = %s", [order_id])
    return rows[0]["customer_phone"]


def test_a_phone_number_is_kept_30_days_and_no_longer(shop: Shop) -> None:
    """Kept 30 days, no longer."""
    over, under = shop.place(), shop.place()
    _backdate(shop, over["id"], "30 days 1 hour")
    _backdate(shop, under["id"], "29 days 23 hours")
    with tenant_transaction(shop.schema) as conn:
        assert forget_old_phone_numbers(conn) == 1
    assert _phone(shop, over["id"]) is None
    assert _phone(shop, under["id"]) == "+44 20 7946 0000"


def test_each_batch_of_the_phone_purge_takes_numbers_not_yet_forgotten(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch takes numbers not yet forgotten, so a backlog drains."""
    monkeypatch.setattr(contact_retention, "PURGE_BATCH", 1)
    oldest, older = shop.place(), shop.place()
    _backdate(shop, oldest["id"], "40 days")
    _backdate(shop, older["id"], "35 days")
    with tenant_transaction(shop.schema) as conn:
        assert forget_old_phone_numbers(conn) == 1
    with tenant_transaction(shop.schema) as conn:
        assert forget_old_phone_numbers(conn) == 1
    with tenant_transaction(shop.schema) as conn:
        assert forget_old_phone_numbers(conn) == 0
    assert _phone(shop, oldest["id"]) is None and _phone(shop, older["id"]) is None


# Order access (shared/orders/access.py) and signing (shared/signing.py)


def test_the_bearer_scheme_is_case_insensitive(shop: Shop) -> None:
    """RFC 7235: the scheme is case-insensitive."""
    order = shop.place()
    for scheme in ("bearer", "BEARER"):
        opened = shop.client.get(
            f"{ORDERS}/{order['id']}",
            host=shop.host,
            headers={"Authorization": f"{scheme} {order['access_token']}"},
        )
        assert opened.status_code == 200, (scheme, opened.text)


def test_an_order_id_in_capitals_opens_the_same_order(shop: Shop) -> None:
    """The token is signed over the canonical id, so a link with the id in capitals opens the
    order too."""
    order = shop.place()
    opened = shop.client.get(
        f"{ORDERS}/{order['id'].upper()}", host=shop.host, headers=order_access(order)
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["id"] == order["id"]


def test_a_signature_for_one_purpose_never_verifies_for_another() -> None:
    """Each purpose has a key of its own."""
    parts = ("tenant-1", "0b5e4a8e-0000-4000-8000-000000000001")
    signature = sign("table-qr", *parts)
    assert verify(signature, "table-qr", *parts)
    assert not verify(signature, "order-access", *parts)
