"""The kitchen's promise: accepting (or preparing) an order with `ready_in_minutes` tells the
customer when it will be ready, and every view and display shows the same time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.order_fixtures import (
    Shop,
    outbox_events,
    promised_between,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.storefront_helpers import error_paths, ok


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
    placed, accepted = outbox_events(shop, order)
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
    promises = [e["data"]["ready_by"] for e in outbox_events(shop, order)[1:]]
    assert promises == [first] * 3 + [recalled]


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


@pytest.mark.parametrize("minutes", [1, 240])
def test_a_ready_time_of_1_or_240_minutes_is_promised(shop: Shop, minutes: int) -> None:
    """Both ends of 1-240 are promises a kitchen can make."""
    order = shop.place()
    before = datetime.now(UTC)
    moved = ok(shop.transition(order, "accepted", 1, ready_in_minutes=minutes))
    assert moved["ready_by"] in promised_between(before, datetime.now(UTC), minutes)
    view = ok(shop.customer_view(order))
    assert (view["status"], view["ready_by"]) == ("accepted", moved["ready_by"])


@pytest.mark.parametrize(
    ("path", "to"),
    [([], "placed"), (["accepted", "preparing"], "ready"),
     (["accepted", "preparing", "ready"], "completed")],
)  # fmt: skip
def test_a_ready_time_with_any_move_but_accepting_or_preparing_is_a_422(
    shop: Shop, path: list[str], to: str
) -> None:
    """A promise on a move to ready or completed (or placed) is refused at ready_in_minutes
    and moves nothing: it is not quietly kept on an order already done."""
    order = shop.place()
    for version, step in enumerate(path, start=1):
        ok(shop.transition(order, step, version))
    version = len(path) + 1
    refused = shop.transition(order, to, version, ready_in_minutes=10)
    assert error_paths(refused) == ["ready_in_minutes"]
    view = ok(shop.customer_view(order))
    status = path[-1] if path else "placed"
    assert (view["status"], view["version"], view["ready_by"]) == (status, version, None)
