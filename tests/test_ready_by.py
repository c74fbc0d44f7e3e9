"""The kitchen's promise: accepting (or preparing) an order with `ready_in_minutes` tells the
customer when it will be ready, and every view and display shows the same time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import execute
from tests.order_fixtures import Shop, promised_between, shop_fixture  # noqa: F401 (fixtures)
from tests.storefront_helpers import error_paths, ok


def _events(shop: Shop, order: dict) -> list[dict]:
    """The order's events as the outbox holds them."""
    return execute(
        f"select type, data from {shop.schema}.outbox where order_id = %s order by position",
        [order["id"]],
    )


def test_accepting_with_a_ready_time_shows_it_to_the_customer_the_kitchen_and_the_manager(
    shop: Shop,
) -> None:
    order = shop.place()
    before = datetime.now(UTC)
    moved = ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    after = datetime.now(UTC)
    ready_by = moved["ready_by"]
    assert ready_by in promised_between(before, after, 15)
    assert ok(shop.customer_view(order))["ready_by"] == ready_by
    kitchen = {"host": shop.host, "headers": shop.staff()}
    assert ok(shop.client.get(f"/api/v1/kitchen/orders/{order['id']}", **kitchen))["ready_by"] == (
        ready_by
    )
    [ticket] = [
        t for t in ok(shop.client.get("/api/v1/kitchen/orders", **kitchen))["orders"]
        if t["id"] == order["id"]
    ]  # fmt: skip
    assert ticket["ready_by"] == ready_by
    manager = {"host": shop.host, "headers": shop.owner()}
    assert ok(shop.client.get(f"/api/v1/admin/orders/{order['id']}", **manager))["ready_by"] == (
        ready_by
    )
    [listed] = ok(shop.client.get("/api/v1/admin/orders", **manager))["orders"]
    assert listed["ready_by"] == ready_by
    placed, accepted = _events(shop, order)
    assert (accepted["type"], accepted["data"]["ready_by"]) == ("order.accepted", ready_by)
    assert "ready_by" not in placed["data"]


def test_a_promise_stays_until_a_new_one_replaces_it(shop: Shop) -> None:
    order = shop.place()
    first = ok(shop.transition(order, "accepted", 1, ready_in_minutes=20))["ready_by"]
    assert ok(shop.transition(order, "preparing", 2))["ready_by"] == first
    assert ok(shop.transition(order, "ready", 3))["ready_by"] == first
    before = datetime.now(UTC)
    # A recall: back to preparing, five more minutes.
    recalled = ok(shop.transition(order, "preparing", 4, ready_in_minutes=5))["ready_by"]
    assert recalled in promised_between(before, datetime.now(UTC), 5)
    assert ok(shop.customer_view(order))["ready_by"] == recalled
    assert [e["data"]["ready_by"] for e in _events(shop, order)[1:]] == [first] * 3 + [recalled]


def test_an_order_moved_without_a_promise_has_none(shop: Shop) -> None:
    order = shop.place()
    assert ok(shop.customer_view(order))["ready_by"] is None
    assert ok(shop.transition(order, "accepted", 1))["ready_by"] is None


@pytest.mark.parametrize(
    ("to", "minutes"),
    [("cancelled", 10), ("accepted", 0), ("accepted", 241), ("accepted", "15"),
     ("accepted", 1.5), ("accepted", True)],
)  # fmt: skip
def test_a_ready_time_is_1_to_240_minutes_when_accepting_or_preparing(
    shop: Shop, to: str, minutes: object
) -> None:
    order = shop.place()
    extra = {"reason": "Out of dough"} if to == "cancelled" else {}
    refused = shop.transition(order, to, 1, ready_in_minutes=minutes, **extra)
    assert error_paths(refused) == ["ready_in_minutes"]
    view = ok(shop.customer_view(order))
    assert (view["status"], view["version"], view["ready_by"]) == ("placed", 1, None)
