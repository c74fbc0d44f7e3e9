"""Ticket numbers: `#0001` upwards per restaurant and local day, never twice under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from shared.orders.models import OrderIn
from shared.orders.placement import place_order
from tests.order_fixtures import Shop, open_shop, shop_fixture  # noqa: F401


def test_concurrent_orders_get_distinct_consecutive_numbers(shop: Shop) -> None:
    with ThreadPoolExecutor(40) as pool:
        responses = list(pool.map(lambda _: shop.post_order(), range(40)))
    assert [r.status_code for r in responses] == [201] * 40
    numbers = sorted(r.json()["ticket_number"] for r in responses)
    assert numbers == [f"#{n:04d}" for n in range(1, 41)]


def test_numbers_reset_at_local_midnight_not_utc(client, tenants, auth_header) -> None:
    shop = open_shop(client, tenants, auth_header, settings={"timezone": "America/New_York"})
    order = OrderIn.model_validate(shop.order_body(shop.cola_line()))

    def ticket_at(moment: str) -> str:
        placed = place_order(
            shop.tenant, order, idempotency_key=None, client_ip="10.0.0.1",
            now=datetime.fromisoformat(moment).astimezone(UTC),
        )  # fmt: skip
        return placed.body["ticket_number"]

    # New York is UTC-4 in June: UTC midnight falls at 20:00 local and changes nothing.
    assert ticket_at("2026-06-01T19:59:00-04:00") == "#0001"
    assert ticket_at("2026-06-01T20:01:00-04:00") == "#0002"
    assert ticket_at("2026-06-01T23:59:59-04:00") == "#0003"
    # Local midnight starts the new day's numbering.
    assert ticket_at("2026-06-02T00:00:00-04:00") == "#0001"
    assert ticket_at("2026-06-02T00:00:30-04:00") == "#0002"


def test_each_restaurant_counts_its_own_tickets(shop: Shop, client, tenants, auth_header) -> None:
    other = open_shop(client, tenants, auth_header)
    assert shop.place()["ticket_number"] == "#0001"
    assert shop.place()["ticket_number"] == "#0002"
    assert other.place()["ticket_number"] == "#0001"


def test_a_refused_order_takes_no_ticket_number(shop: Shop) -> None:
    """A 422 must not use up a number: the day's first order is still #0001."""
    refused = shop.post_order(
        shop.order_body({"item_id": shop.menu.items["Calzone"], "quantity": 1})
    )
    assert refused.status_code == 422, refused.text
    assert shop.place()["ticket_number"] == "#0001"
