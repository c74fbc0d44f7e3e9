"""A customer takes back an order the kitchen has not accepted yet, with the order's access
token; once the restaurant has taken it, the customer is told to call."""

from __future__ import annotations

import pytest

from tests.order_fixtures import (
    Shop,
    order_access,
    outbox_events,
    settle,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.storefront_helpers import error_paths, ok

PLATFORM_HOST = "stelly.test"


def _cancel(shop: Shop, order: dict, body: dict | None = None, headers: dict | None = None):
    return shop.client.post(
        f"/api/v1/store/orders/{order['id']}/cancel",
        host=shop.host,
        headers=order_access(order) if headers is None else headers,
        json={} if body is None else body,
    )


def test_a_customer_cancels_a_placed_order_and_the_kitchen_hears_of_it(shop: Shop) -> None:
    order = shop.place()
    cancelled = _cancel(shop, order, {"reason": "Ordered to the wrong address"})
    view = ok(cancelled)
    assert (view["status"], view["version"], cancelled.headers["ETag"]) == ("cancelled", 2, '"2"')
    assert view["history"][-1]["status"] == "cancelled"
    assert view["history"][-1]["reason"] == "Ordered to the wrong address"
    assert ok(shop.customer_view(order)) == view

    manager = {"host": shop.host, "headers": shop.owner()}
    managed = ok(shop.client.get(f"/api/v1/admin/orders/{order['id']}", **manager))
    assert (managed["history"][-1]["by"], managed["history"][-1]["to"]) == (
        "customer",
        "cancelled",
    )
    event = outbox_events(shop, order)[-1]
    assert (event["type"], event["data"]["from"], event["data"]["reason"]) == (
        "order.cancelled",
        "placed",
        "Ordered to the wrong address",
    )
    assert f"t.{shop.slug}.kitchen" in event["groups"]
    settle()
    kitchen = {"host": shop.host, "headers": shop.staff()}
    assert ok(shop.client.get("/api/v1/kitchen/orders", **kitchen))["orders"] == []
    # Out of the day's takings, as any cancelled order.
    day = ok(shop.client.get("/api/v1/admin/orders", **manager))["summary"]
    assert day["by_status"]["cancelled"] == 1 and day["sales"] == []


def test_a_cancel_without_a_reason_says_the_customer_cancelled(shop: Shop) -> None:
    order = shop.place()
    view = ok(_cancel(shop, order))
    assert view["history"][-1]["reason"] == "Cancelled by the customer"


@pytest.mark.parametrize("status", ["accepted", "preparing", "ready", "completed", "cancelled"])
def test_once_the_restaurant_has_taken_it_the_customer_is_told_to_call(
    shop: Shop, status: str
) -> None:
    order = shop.place()
    version = shop.walk_to(order, status)
    refused = _cancel(shop, order)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status_now"] == status
    expected = "already cancelled" if status == "cancelled" else "call them"
    assert expected in problem["detail"]
    view = ok(shop.customer_view(order))
    assert (view["status"], view["version"]) == (status, version)


def test_only_the_orders_own_token_cancels_it(shop: Shop) -> None:
    order, other = shop.place(), shop.place()
    for headers in ({}, order_access(other), shop.staff()):
        refused = _cancel(shop, order, headers=headers)
        assert refused.status_code in (401, 404), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    # The token in the URL is refused as for reading the order.
    in_url = shop.client.post(
        f"/api/v1/store/orders/{order['id']}/cancel",
        host=shop.host,
        params={"access_token": order["access_token"]},
        json={},
    )
    assert in_url.status_code == 400, in_url.text
    assert ok(shop.customer_view(order))["status"] == "placed"


@pytest.mark.parametrize(
    "body",
    [{"reason": "x" * 201}, {"reason": "\u200b"}, {"reason": 5}, {"reason": "ok", "tip": 1}],
)
def test_a_reason_is_one_visible_note_of_at_most_200_characters(shop: Shop, body: dict) -> None:
    order = shop.place()
    refused = _cancel(shop, order, body)
    assert refused.status_code == 422, refused.text
    assert error_paths(refused) in (["reason"], ["tip"])
    assert ok(shop.customer_view(order))["status"] == "placed"


def test_a_suspended_restaurants_customer_can_still_cancel(shop: Shop) -> None:
    order = shop.place()
    admin = shop.auth("platform_admin", subject="ops-ada")
    suspension = f"/api/v1/platform/tenants/{shop.slug}/suspension"
    ok(shop.client.put(suspension, host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}))
    assert ok(_cancel(shop, order))["status"] == "cancelled"
