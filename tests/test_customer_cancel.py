"""A customer takes back an order the kitchen has not accepted yet, with the order's access
token; once the restaurant has taken it, the customer is told to call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import run_in_turn_behind
from tests.order_fixtures import (
    LiveClient,
    Shop,
    closed_hours,
    live_clients_fixture,  # noqa: F401 (fixtures)
    order_access,
    outbox_events,
    settle,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.storefront_helpers import error_paths, ok
from tests.test_openapi import resolve

PLATFORM_HOST = "stelly.test"


def _cancel(shop: Shop, order: dict, body: dict | None = None, headers: dict | None = None):
    """POST to the receipt's `cancel` link (the storefront's button)."""
    return shop.client.post(
        order["links"]["cancel"],
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
    assert "phone" not in problem  # the restaurant gave none
    view = ok(shop.customer_view(order))
    assert (view["status"], view["version"]) == (status, version)


def test_the_call_them_answer_gives_the_restaurants_phone(shop: Shop) -> None:
    """A customer told to call needs the number: the one in the restaurant's contact settings,
    in the sentence and as `phone` for a storefront's call button."""
    owner = shop.owner()
    settings = ok(shop.client.get("/api/v1/admin/settings", host=shop.host, headers=owner))
    settings["contact"] = {"phone": "+44 20 7946 0123"}
    saved = shop.client.put("/api/v1/admin/settings", host=shop.host, headers=owner, json=settings)
    assert saved.status_code == 200, saved.text
    order = shop.place()
    shop.walk_to(order, "accepted")
    refused = _cancel(shop, order)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["phone"] == "+44 20 7946 0123"
    assert "call them on +44 20 7946 0123" in problem["detail"]


def test_an_if_match_sent_with_a_cancel_is_honoured(shop: Shop) -> None:
    """No version is needed, but an If-Match sent is evaluated first (RFC 9110): one naming
    another version is a 412 with the version and status now, and the order is untouched; the
    ETag the customer's page holds cancels it. Once the kitchen has moved it, the page's ETag
    is stale too: 412, not a cancel."""
    order, taken = shop.place(), shop.place()
    etag = shop.customer_view(order).headers["etag"]
    stale = _cancel(shop, order, headers={**order_access(order), "If-Match": '"7"'})
    assert stale.status_code == 412, stale.text
    assert (stale.json()["current_version"], stale.json()["status_now"]) == (1, "placed")
    assert ok(shop.customer_view(order))["status"] == "placed"
    done = _cancel(shop, order, headers={**order_access(order), "If-Match": etag})
    assert ok(done)["status"] == "cancelled"

    page = shop.customer_view(taken).headers["etag"]
    shop.walk_to(taken, "accepted")
    moved = _cancel(shop, taken, headers={**order_access(taken), "If-Match": page})
    assert moved.status_code == 412, moved.text
    assert moved.json()["status_now"] == "accepted"


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


def test_the_kitchen_accepting_first_wins_over_a_customers_cancel(shop: Shop) -> None:
    """The kitchen's accept commits first while the customer's cancel waits for the order:
    the cancel then reads `accepted` and is a 409, rather than overwriting the accepted order
    with a cancel from `placed` (both answered 200)."""
    order = shop.place()
    answers: dict[str, Any] = {}
    lock = threading.Lock()

    def accept() -> None:
        moved = shop.transition(order, "accepted", 1)
        with lock:
            answers["kitchen"] = moved

    def cancel() -> None:
        refused = _cancel(shop, order)
        with lock:
            answers["customer"] = refused

    run_in_turn_behind(
        shop.schema,
        "select 1 from orders where id = %s for update",
        "orders",
        accept,
        cancel,
        params=[order["id"]],
    )
    assert answers["kitchen"].status_code == 200, answers["kitchen"].text
    refused = answers["customer"]
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status_now"] == "accepted"
    view = ok(shop.customer_view(order))
    assert (view["status"], view["version"]) == ("accepted", 2)
    assert [e["type"] for e in outbox_events(shop, order)] == ["order.placed", "order.accepted"]


def test_a_cancel_answer_is_not_stored_by_caches(shop: Shop) -> None:
    """The answer is the customer's order (name, phone, lines): no-store, as GET sends it."""
    order = shop.place()
    cancelled = _cancel(shop, order)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("reason", ["Wrong\x07address", "Wrong\x1b[2J", "Wrong\x85address"])
def test_a_reason_with_control_characters_is_refused(shop: Shop, reason: str) -> None:
    """A bell, an escape sequence or a C1 control is no reason for the kitchen to read: 422 at
    reason, the order still placed."""
    order = shop.place()
    refused = _cancel(shop, order, {"reason": reason})
    assert refused.status_code == 422, refused.text
    assert error_paths(refused) == ["reason"]
    assert ok(shop.customer_view(order))["status"] == "placed"


def test_a_reason_typed_with_combining_accents_counts_what_the_reader_sees(shop: Shop) -> None:
    """A reason typed with combining accents (macOS) is kept composed: 200 visible characters
    are 200, not 400."""
    order = shop.place()
    typed = "e\u0301" * 200  # 200 "é", each as e + COMBINING ACUTE ACCENT
    view = ok(_cancel(shop, order, {"reason": typed}))
    assert view["history"][-1]["reason"] == "\u00e9" * 200


def test_a_paused_or_closed_restaurants_customer_can_still_cancel(shop: Shop) -> None:
    """The kitchen pauses orders and the owner closes the restaurant after the orders were
    placed: their customers can still cancel them."""
    paused, closed = shop.place(), shop.place()
    pause = shop.client.put(
        "/api/v1/kitchen/pause", host=shop.host, headers=shop.staff(), json={"minutes": 30}
    )
    assert pause.status_code == 200, pause.text
    assert ok(_cancel(shop, paused))["status"] == "cancelled"
    owner = shop.owner()
    settings = ok(shop.client.get("/api/v1/admin/settings", host=shop.host, headers=owner))
    saved = shop.client.put(
        "/api/v1/admin/settings", host=shop.host, headers=owner,
        json={**settings, "hours": closed_hours()},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert shop.post_order().status_code == 422  # closed (and paused) for new orders
    assert ok(_cancel(shop, closed))["status"] == "cancelled"


def _live_url(shop: Shop, link: str, headers: dict) -> str:
    negotiated = shop.client.get(link, host=shop.host, headers=headers)
    assert negotiated.status_code == 200, negotiated.text
    return negotiated.json()["url"]


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_kitchen_and_the_customers_page_hear_the_cancel_live(
    shop: Shop, live_clients: Callable[[str], LiveClient]
) -> None:
    """The `order.cancelled` event goes out right after the commit, to every display and
    the customer's page, not at the outbox timer's next round."""
    kitchen = live_clients(_live_url(shop, "/api/v1/kitchen/negotiate", shop.staff()))
    order = shop.place()
    settle()
    customer = live_clients(_live_url(shop, order["links"]["negotiate"], order_access(order)))
    assert [e["type"] for e in kitchen.events(1)] == ["order.placed"]
    ok(_cancel(shop, order, {"reason": "Wrong address"}))
    settle()
    for display in (kitchen, customer):
        [heard] = display.events(1)
        assert (heard["type"], heard["data"]["reason"]) == ("order.cancelled", "Wrong address")


def test_the_api_description_says_a_cancel_answers_with_the_orders_etag(
    shop: Shop, document: dict[str, Any]
) -> None:
    """The answer carries the new version's ETag, and the API description says so."""
    order = shop.place()
    cancelled = _cancel(shop, order)
    assert cancelled.headers["ETag"] == '"2"'
    described = document["paths"]["/v1/store/orders/{id}/cancel"]["post"]["responses"]["200"]
    assert "ETag" in resolve(document, described)["headers"]


def test_the_api_description_lists_the_409_of_an_order_the_kitchen_took(
    shop: Shop, document: dict[str, Any]
) -> None:
    """A storefront generated from the API description knows the 409 a cancel answers once the
    kitchen has accepted the order (`status_now` says where it is)."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    refused = _cancel(shop, order)
    assert refused.status_code == 409 and refused.json()["status_now"] == "accepted"
    responses = document["paths"]["/v1/store/orders/{id}/cancel"]["post"]["responses"]
    assert "409" in responses
