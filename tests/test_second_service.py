"""A second evening, end to end: where the customer's cancel, the kitchen's running late,
suspension, idempotent replays, a mid-service re-import, the kitchen's 86es and their bound
meet. Each test is one evening's sequence through the HTTP app."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from shared.menus import publish
from tests.conftest import execute
from tests.order_fixtures import MENU as SHEET
from tests.order_fixtures import (
    Shop,
    order_access,
    outbox_events,
    settle,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.sold_out_helpers import KITCHEN, kitchen_86, names
from tests.storefront_helpers import ok

PLATFORM_HOST = "stelly.test"


def _cancel(shop: Shop, order: dict, body: dict | None = None):
    return shop.client.post(
        f"/api/v1/store/orders/{order['id']}/cancel",
        host=shop.host,
        headers=order_access(order),
        json={} if body is None else body,
    )


def _revise(shop: Shop, order: dict, minutes: int, version: int):
    return shop.client.put(
        f"/api/v1/kitchen/orders/{order['id']}/ready-by",
        host=shop.host,
        headers=shop.staff(),
        json={"ready_in_minutes": minutes, "expected_version": version},
    )


def _suspend(shop: Shop) -> None:
    admin = shop.auth("platform_admin", subject="ops-ada")
    suspension = f"/api/v1/platform/tenants/{shop.slug}/suspension"
    ok(shop.client.put(suspension, host=PLATFORM_HOST, headers=admin, json={"reason": "Unpaid"}))


def _kitchen(shop: Shop, status: str | None = None) -> list[dict]:
    params = {"status": status} if status else None
    listed = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params=params
    )
    return ok(listed)["orders"]


def _named(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [entry for entry in entries if entry["name"] == name]
    return found


def _cola_order(shop: Shop, cola: dict[str, Any]) -> int:
    """The status of an order for the Cola as the storefront lists it now."""
    return shop.post_order(shop.order_body({"item_id": cola["id"], "quantity": 1})).status_code


def _store_item(shop: Shop, category: str, name: str) -> dict[str, Any]:
    menu = ok(shop.client.get("/api/v1/store/menu", host=shop.host))
    return _named(_named(menu["categories"], category)["items"], name)


# --- the customer's cancel meets the idempotent replay, suspension and the kitchen -------------


def test_a_replayed_order_after_the_customer_cancelled_it_is_the_first_answer_not_a_new_order(
    shop: Shop,
) -> None:
    """A customer's app retries its order (same Idempotency-Key, same body) after the customer
    already cancelled it, and while the kitchen has paused orders: the stored first answer
    (201, placed, Idempotent-Replayed) comes back, no second ticket reaches the kitchen, the
    replayed token still opens the order and shows it cancelled, and the day counts one order.
    (Pins README "Idempotency" with "A customer cancels" and "Pausing orders".)"""
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    first = shop.post_order(body, key=key)
    assert first.status_code == 201, first.text
    order = first.json()
    assert ok(_cancel(shop, order))["status"] == "cancelled"
    ok(shop.client.put(
        "/api/v1/kitchen/pause", host=shop.host, headers=shop.staff(), json={"minutes": 30}
    ))  # fmt: skip

    again = shop.post_order(body, key=key)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    replayed = again.json()
    assert (replayed["id"], replayed["ticket_number"]) == (order["id"], order["ticket_number"])
    assert ok(shop.customer_view(replayed))["status"] == "cancelled"
    settle()
    assert _kitchen(shop) == []
    assert [t["id"] for t in _kitchen(shop, "cancelled")] == [order["id"]]
    day = ok(shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    assert day["summary"]["orders"] == 1 and day["summary"]["sales"] == []
    assert [e["type"] for e in outbox_events(shop, order)] == ["order.placed", "order.cancelled"]


def test_a_replayed_order_while_the_restaurant_is_suspended_gives_back_the_receipt(
    shop: Shop,
) -> None:
    """The customer's order went in, the answer was lost, and the platform suspended the
    restaurant before the app retried with the same Idempotency-Key and body. The retry gets
    the stored receipt (201, Idempotent-Replayed), whose token reads, follows and cancels the
    order the kitchen still finishes; a new order is a 403."""
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    first = shop.post_order(body, key=key)
    assert first.status_code == 201, first.text
    _suspend(shop)

    again = shop.post_order(body, key=key)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    receipt = again.json()
    assert receipt["id"] == first.json()["id"]
    assert ok(_cancel(shop, receipt))["status"] == "cancelled"
    fresh = shop.post_order(body, key=str(uuid.uuid4()))
    assert fresh.status_code == 403, fresh.text
    assert fresh.json()["detail"] == f"The restaurant at {shop.host} is suspended"


def test_while_suspended_the_kitchen_runs_late_and_then_a_customer_cancel_is_refused(
    shop: Shop,
) -> None:
    """Suspended mid-service ("the kitchen finishes open orders"): the kitchen accepts with a
    promise and runs late; the customer's cancel of that order is a 409 saying to call, while
    a second customer's order nobody took yet cancels. The kitchen's list keeps only the one
    being made, with the new ready time, and the customer's page shows it without a new history
    step. (Pins "Suspend", "Running late" and "A customer cancels" together.)"""
    taken, untouched = shop.place(), shop.place()
    ok(shop.transition(taken, "accepted", 1, ready_in_minutes=15))
    _suspend(shop)
    assert shop.post_order().status_code == 403

    revised = ok(_revise(shop, taken, 40, 2))
    assert (revised["status"], revised["version"]) == ("accepted", 3)
    refused = _cancel(shop, taken)
    assert refused.status_code == 409, refused.text
    assert refused.json()["status_now"] == "accepted"
    assert ok(_cancel(shop, untouched))["status"] == "cancelled"

    settle()
    [ticket] = _kitchen(shop)
    assert (ticket["id"], ticket["version"], ticket["ready_by"]) == (
        taken["id"], 3, revised["ready_by"]
    )  # fmt: skip
    view = ok(shop.customer_view(taken))
    assert (view["ready_by"], [s["status"] for s in view["history"]]) == (
        revised["ready_by"], ["placed", "accepted"]
    )  # fmt: skip
    types = [e["type"] for e in outbox_events(shop, taken)]
    assert types == ["order.placed", "order.accepted", "order.ready_by_changed"]


def test_a_recall_after_running_late_keeps_the_revised_promise(shop: Shop) -> None:
    """The kitchen promised 15 minutes, ran late to 40, finished, then recalled the order (a
    dropped pizza) without a new promise: the recall keeps the promise last made (40), in
    its event, the customer's view and the ticket, and running late again works on the
    recalled order. (Pins "A later move without one keeps the promise made" across a revision.)"""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    late = ok(_revise(shop, order, 40, 2))["ready_by"]
    ok(shop.transition(order, "preparing", 3))
    ok(shop.transition(order, "ready", 4))
    recalled = ok(shop.transition(order, "preparing", 5))
    assert (recalled["version"], recalled["ready_by"]) == (6, late)
    event = outbox_events(shop, order)[-1]
    assert (event["type"], event["data"]["from"], event["data"]["ready_by"]) == (
        "order.preparing", "ready", late
    )  # fmt: skip
    assert ok(shop.customer_view(order))["ready_by"] == late
    again = ok(_revise(shop, order, 10, 6))
    assert again["status"] == "preparing"
    assert outbox_events(shop, order)[-1]["data"]["previous_ready_by"] == late


# --- a mid-service re-import meets the kitchen's 86, the publish and the 86 bound -------------


def test_a_dish_the_cook_86es_between_a_reimport_and_its_publish_stays_sold_out(
    shop: Shop,
) -> None:
    """19:30 the manager re-imports the price sheet (the draft gets new rows); 19:35 the cook
    runs out of dough and 86es the Margherita from the line (the id the storefront shows);
    19:40 the manager publishes. The 86 reached the draft's new Margherita (same names), so
    after the publish it is still sold out: kitchen list, storefront, orders refused."""
    manager = {"host": shop.host, "headers": shop.owner()}
    ok(shop.client.post("/api/v1/admin/menu/import", **manager, json=copy.deepcopy(SHEET)))
    live_id = shop.menu.items["Margherita"]
    taken = ok(kitchen_86(shop, {"items": [{"id": live_id, "available": False}]}))
    assert taken["published_version"] is not None
    assert "Margherita" in names(ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff())))

    ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)
    sold_out = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    assert "Margherita" in names(sold_out), sold_out
    pizza = _store_item(shop, "Pizza", "Margherita")
    assert pizza["available"] is False
    regular = _named(_named(pizza["modifier_groups"], "Size")["options"], "Regular")
    line = {"item_id": pizza["id"], "quantity": 1, "option_ids": [regular["id"]]}
    assert shop.post_order(shop.order_body(line)).status_code == 422


def test_a_publish_after_the_86_bound_still_goes_out_and_tells_the_displays(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kitchen hit the 86 bound (3 here, 30 in service): the next 86 is a 429. The manager
    then re-imports with the Cola marked `available: false` and publishes: a publish is not
    bounded, so it goes out, the displays get the new 86 list (`menu.sold_out` with the Cola),
    the kitchen's 86 of the Ham survives the import, and a Cola order is refused while a
    Margherita with the last free topping goes through. (Pins "nor does a publish" with
    "An import keeps the kitchen's 86es" and the events' `menu.sold_out` on publish.)"""
    monkeypatch.setattr(publish, "MAX_86_VERSIONS_PER_MINUTE", 3)
    ham, olives = (shop.menu.option(f"Margherita/Toppings/{n}") for n in ("Ham", "Olives"))
    ok(kitchen_86(shop, {"options": [{"id": ham, "available": False}]}))
    ok(kitchen_86(shop, {"options": [{"id": olives, "available": False}]}))
    ok(kitchen_86(shop, {"options": [{"id": olives, "available": True}]}))
    assert kitchen_86(shop, {"options": [{"id": olives, "available": False}]}).status_code == 429

    sheet = copy.deepcopy(SHEET)
    _named(sheet["categories"][1]["items"], "Cola")["available"] = False
    manager = {"host": shop.host, "headers": shop.owner()}
    counts = ok(shop.client.post("/api/v1/admin/menu/import", **manager, json=sheet))
    assert counts["sold_out_kept"] == 1, counts  # the Ham
    ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)

    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    assert {"Cola", "Ham"} <= set(names(listed)) and "Olives" not in names(listed)
    [newest] = execute(
        f"select data from {shop.schema}.outbox where type = 'menu.sold_out' "
        "order by position desc limit 1"
    )
    assert names(newest["data"]) == names(listed)

    cola = _store_item(shop, "Drinks", "Cola")
    assert _cola_order(shop, cola) == 422
    pizza = _store_item(shop, "Pizza", "Margherita")
    options = {o["name"]: o for g in pizza["modifier_groups"] for o in g["options"]}
    line = {
        "item_id": pizza["id"],
        "quantity": 1,
        "option_ids": [options["Regular"]["id"], options["Olives"]["id"]],
    }
    assert shop.post_order(shop.order_body(line)).status_code == 201
    with_ham = {**line, "option_ids": [options["Regular"]["id"], options["Ham"]["id"]]}
    assert shop.post_order(shop.order_body(with_ham)).status_code == 422


def test_a_dish_the_cook_brings_back_between_a_reimport_and_its_publish_stays_on_sale(
    shop: Shop,
) -> None:
    """The other half of the same evening: the Cola was 86'd at 19:00, the 19:30 re-import
    kept that 86 (as the README promises), the delivery came at 19:35 and the cook brought the
    Cola back from the line (it is on sale at once). The 19:40 publish does not take it off
    again: the bring-back reached the draft row the import made."""
    cola_id = shop.menu.items["Cola"]
    ok(kitchen_86(shop, {"items": [{"id": cola_id, "available": False}]}))
    manager = {"host": shop.host, "headers": shop.owner()}
    counts = ok(shop.client.post("/api/v1/admin/menu/import", **manager, json=copy.deepcopy(SHEET)))
    assert counts["sold_out_kept"] == 1, counts
    back = ok(kitchen_86(shop, {"items": [{"id": cola_id, "available": True}]}))
    assert back["published_version"] is not None
    assert _store_item(shop, "Drinks", "Cola")["available"] is True

    ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)
    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    assert "Cola" not in names(listed), listed
    cola = _store_item(shop, "Drinks", "Cola")
    assert _cola_order(shop, cola) == 201
