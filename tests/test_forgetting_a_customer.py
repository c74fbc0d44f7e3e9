"""A customer asks the restaurant to forget them (the right to erasure): a manager clears what
the customer told about themselves on an ended order, everywhere the restaurant keeps it, and
the sales record stays."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.order_fixtures import Shop, order_access, settle, shop_fixture  # noqa: F401
from tests.storefront_helpers import ok

NAME, PHONE, NOTE = "Ada Lovelace", "+44 20 7946 0000", "Ring 3 times, Flat 2"


def forget(shop: Shop, order_id: str, role: str = "manager", headers: dict | None = None):
    """The manager's call (headers: another token than the role's)."""
    return shop.client.delete(
        f"/api/v1/admin/orders/{order_id}/customer",
        host=shop.host,
        headers=headers or shop.auth(role, tenant=shop.slug),
    )


def _manager_view(shop: Shop, order: dict) -> dict:
    path = f"/api/v1/admin/orders/{order['id']}"
    return ok(shop.client.get(path, host=shop.host, headers=shop.owner()))


def _place_with_words(shop: Shop) -> dict:
    body = shop.order_body(shop.pizza_line(), shop.cola_line())
    body["fulfilment"]["name"] = NAME
    body["lines"][0]["note"] = NOTE
    return shop.place(body)


def catch_up(shop: Shop, order: dict) -> list[dict]:
    """The order's events as a kitchen display reconnecting reads them, once every event
    committed has its seq (catch-up lists only those)."""
    settle()
    events = ok(
        shop.client.get(
            "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
        )
    )["events"]
    return [event for event in events if event["order_id"] == order["id"]]


def test_a_collected_order_forgets_name_phone_and_notes_and_keeps_the_sale(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stelly")
    order = _place_with_words(shop)
    version = shop.walk_to(order, "completed")
    day_before = ok(shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    before = _manager_view(shop, order)
    assert before["fulfilment"]["phone"] == PHONE and before["lines"][0]["note"] == NOTE

    forgotten = forget(shop, order["id"])

    after = ok(forgotten)
    assert forgotten.headers["Cache-Control"] == "no-store"
    assert after == _manager_view(shop, order)
    assert after["fulfilment"] == {"type": "pickup"}
    assert [line["note"] for line in after["lines"]] == [None, None]
    assert after["version"] == version + 1 and after["status"] == "completed"
    # The sale is as it was: dishes, options, money, who moved it when.
    for key in ("lines", "totals", "history", "ticket_number", "placed_at", "business_date"):
        kept = before[key] if key != "lines" else [{**line, "note": None} for line in before[key]]
        assert after[key] == kept, key
    day = ok(shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    assert day["summary"] == day_before["summary"]
    assert day["orders"][0]["fulfilment"] == {"type": "pickup"}
    customer = ok(shop.customer_view(order))
    assert customer["fulfilment"] == {"type": "pickup"} and customer["version"] == version + 1
    assert [line["note"] for line in customer["lines"]] == [None, None]
    placed = catch_up(shop, order)[0]
    assert placed["type"] == "order.placed"
    assert placed["data"]["fulfilment"] == {"type": "pickup"}
    assert [line["note"] for line in placed["data"]["lines"]] == [None, None]
    assert [line["name"] for line in placed["data"]["lines"]] == ["Margherita", "Cola"]
    logged = " ".join(caplog.handler.format(record) for record in caplog.records)
    assert order["id"] in logged and NAME not in logged and NOTE not in logged


def test_forgetting_twice_changes_nothing_more(shop: Shop) -> None:
    order = _place_with_words(shop)
    shop.walk_to(order, "completed")
    first = ok(forget(shop, order["id"]))
    assert ok(forget(shop, order["id"], role="owner")) == first


def test_a_customers_cancel_reason_is_forgotten_and_the_cancel_stays(shop: Shop) -> None:
    order = _place_with_words(shop)
    cancel = shop.client.post(
        order["links"]["cancel"],
        host=shop.host,
        headers=order_access(order),
        json={"reason": "Ada here: moved to 12 Baker St"},
    )
    assert ok(cancel)["status"] == "cancelled"

    after = ok(forget(shop, order["id"]))

    last = after["history"][-1]
    assert (last["to"], last["by"], last["reason"]) == (
        "cancelled",
        "customer",
        "Cancelled by the customer",
    )
    cancelled = catch_up(shop, order)[-1]
    assert cancelled["type"] == "order.cancelled"
    assert cancelled["data"]["reason"] == "Cancelled by the customer"
    assert ok(shop.customer_view(order))["history"][-1]["reason"] == "Cancelled by the customer"


def test_the_kitchens_own_reason_for_a_cancel_stays(shop: Shop) -> None:
    order = _place_with_words(shop)
    shop.walk_to(order, "cancelled")  # by staff, "Out of dough"

    after = ok(forget(shop, order["id"]))

    assert after["history"][-1]["reason"] == "Out of dough"
    assert catch_up(shop, order)[-1]["data"]["reason"] == "Out of dough"
    assert after["fulfilment"] == {"type": "pickup"}


@pytest.mark.parametrize("status", ["placed", "accepted", "preparing", "ready"])
def test_an_open_order_keeps_its_customer_until_it_ends(shop: Shop, status: str) -> None:
    order = _place_with_words(shop)
    version = shop.walk_to(order, status)

    refused = forget(shop, order["id"])

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert status in problem["detail"] and order["ticket_number"] in problem["detail"]
    assert problem["status_now"] == status
    view = _manager_view(shop, order)
    assert (view["version"], view["fulfilment"]["name"]) == (version, NAME)
    assert view["lines"][0]["note"] == NOTE


def test_a_dine_in_order_forgets_its_notes_and_keeps_its_table(shop: Shop) -> None:
    body = shop.dine_in_body("Window 4")
    body["lines"][0]["note"] = NOTE
    order = shop.place(body)
    shop.walk_to(order, "completed")

    after = ok(forget(shop, order["id"]))

    assert after["fulfilment"] == {"type": "dine_in", "table": "Window 4"}
    assert after["lines"][0]["note"] is None


def test_only_the_restaurants_managers_forget_and_only_its_own_orders(
    shop: Shop, tenants, client, auth_header
) -> None:
    order = _place_with_words(shop)
    shop.walk_to(order, "completed")
    other = tenants.create()
    for response, status in (
        (forget(shop, order["id"], role="staff"), 403),
        (forget(shop, str(uuid.uuid4())), 404),
        (forget(shop, "not-an-id"), 404),
        (
            client.delete(
                f"/api/v1/admin/orders/{order['id']}/customer",
                host=f"{other.slug}.stelly.test",
                headers=auth_header("owner", tenant=other.slug),
            ),
            404,
        ),
    ):
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert _manager_view(shop, order)["fulfilment"]["name"] == NAME


def _found(shop: Shop, **params: str):
    return shop.client.get(
        "/api/v1/admin/customer-orders", host=shop.host, headers=shop.owner(), params=params
    )


def test_a_customer_asking_to_be_forgotten_is_found_by_name_or_by_phone_in_any_spelling(
    shop: Shop,
) -> None:
    first = _place_with_words(shop)
    shop.walk_to(first, "completed")
    other = shop.order_body(shop.cola_line())
    other["fulfilment"] = {"type": "pickup", "name": "Grace Hopper", "phone": "+1 415 555 0100"}
    shop.place(other)
    second = _place_with_words(shop)

    by_name = ok(_found(shop, name="ada LOVELACE"))
    by_phone = ok(_found(shop, phone="020 7946 0000"))  # given as +44 20 7946 0000

    for found in (by_name, by_phone):
        assert [o["id"] for o in found["orders"]] == [second["id"], first["id"]]  # newest first
        assert found["truncated"] is False
    entry = by_name["orders"][1]
    assert (entry["status"], entry["fulfilment"]["name"]) == ("completed", NAME)
    assert entry["business_date"] == entry["placed_at"][:10]  # the shop keeps UTC
    ok(forget(shop, first["id"]))
    assert [o["id"] for o in ok(_found(shop, name="Lovelace"))["orders"]] == [second["id"]]
    assert ok(_found(shop, phone="+44 20 7946 0000", name="Grace"))["orders"] == []


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({}, "query.name"),
        ({"phone": "0000 12"}, "query.phone"),
        ({"name": " "}, "query.name"),
        ({"x": "1"}, "query.x"),
    ],
)
def test_a_search_says_what_it_needs(shop: Shop, params: dict, path: str) -> None:
    refused = _found(shop, **params)
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == [path]
