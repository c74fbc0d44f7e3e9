"""A restaurant's Friday night, end to end: where features meet (86, publish, ready times,
pause, suspension, idempotent replays, the manager's day), as one evening hits them."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.orders.state_machine import STATUSES
from tests.conftest import execute
from tests.order_fixtures import MENU as SHEET
from tests.order_fixtures import (
    Shop,
    open_shop,
    outbox_events,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.sold_out_helpers import KITCHEN, kitchen_86, names, sold_out_events
from tests.storefront_helpers import ok, problem

PLATFORM_HOST = "stelly.test"
PAUSE = "/api/v1/kitchen/pause"
CONFIG = "/api/v1/store/config"
MENU = "/api/v1/store/menu"


def _kitchen(shop: Shop) -> dict:
    return {"host": shop.host, "headers": shop.staff()}


def _manager(shop: Shop) -> dict:
    return {"host": shop.host, "headers": shop.owner()}


def _ticket(shop: Shop, order: dict) -> dict:
    ticket = ok(shop.client.get(f"/api/v1/kitchen/orders/{order['id']}", **_kitchen(shop)))
    ticket.pop("age_seconds")
    return ticket


def _manager_order(shop: Shop, order: dict) -> dict:
    return ok(shop.client.get(f"/api/v1/admin/orders/{order['id']}", **_manager(shop)))


def _store_items(shop: Shop) -> dict[str, dict]:
    menu = ok(shop.client.get(MENU, host=shop.host))
    return {item["name"]: item for c in menu["categories"] for item in c["items"]}


def _reprice_and_publish(shop: Shop, item: str, price: int) -> None:
    """The manager changes an item's price and publishes."""
    draft = ok(shop.client.get(f"/api/v1/admin/menu/items/{item}", **_manager(shop)))
    headers = {**shop.owner(), "If-Match": f'"{draft["version"]}"'}
    url = f"/api/v1/admin/menu/items/{item}"
    ok(shop.client.patch(url, host=shop.host, headers=headers, json={"price": price}))
    ok(shop.client.post("/api/v1/admin/menu/publish", **_manager(shop)), 201)


def _orders(shop: Shop) -> int:
    return execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"]


def _suspension(shop: Shop, method: str, **kwargs):
    admin = shop.auth("platform_admin", subject="ops-ada")
    return shop.client.request(
        method, f"/api/v1/platform/tenants/{shop.slug}/suspension", host=PLATFORM_HOST,
        headers=admin, **kwargs,
    )  # fmt: skip


# --- 1. An 86 and a republish while an order is open -------------------------------------------


def test_an_86_and_a_republish_leave_an_open_order_alone_and_change_the_storefront(
    shop: Shop,
) -> None:
    """The cook 86es Ham (in an open, accepted order) until tomorrow and the manager reprices the
    Margherita and publishes: the customer's receipt, the kitchen ticket and the manager's view
    of the open order do not change (price, lines, promise, menu version); the storefront shows
    the new price with Ham off, and the ticket's menu_version still explains the old price."""
    order = shop.place(
        shop.order_body(shop.pizza_line("Ham", "Olives", "Mushrooms", size="Large"), tip=100)
    )
    ok(shop.transition(order, "accepted", 1, ready_in_minutes=20))
    customer, ticket, manager = (
        ok(shop.customer_view(order)),
        _ticket(shop, order),
        _manager_order(shop, order),
    )
    ham = shop.menu.option("Margherita/Toppings/Ham")
    ok(kitchen_86(shop, {"options": [{"id": ham, "available": False, "until": "tomorrow"}]}))
    pizza = shop.menu.items["Margherita"]
    _reprice_and_publish(shop, pizza, 1200)

    assert ok(shop.customer_view(order)) == customer
    assert _ticket(shop, order) == ticket
    assert _manager_order(shop, order) == manager
    unchanged = shop.client.get(
        f"/api/v1/store/orders/{order['id']}", host=shop.host,
        headers={"Authorization": f"Bearer {order['access_token']}",
                 "If-None-Match": f'"{customer["version"]}"'},
    )  # fmt: skip
    assert unchanged.status_code == 304
    then = ok(
        shop.client.get(f"/api/v1/admin/menu/versions/{ticket['menu_version']}", **_manager(shop))
    )
    [then_pizza] = [
        i for c in then["snapshot"]["categories"] for i in c["items"] if i["id"] == pizza
    ]
    assert then_pizza["price"] == 900 == manager["lines"][0]["unit_price"] - 300 - 120

    store = _store_items(shop)["Margherita"]
    assert store["price"] == 1200
    [toppings] = [g for g in store["modifier_groups"] if g["name"] == "Toppings"]
    assert {o["name"]: o["available"] for o in toppings["options"]}["Ham"] is False
    assert "Ham" in names(ok(shop.client.get(KITCHEN, **_kitchen(shop))))
    refused = shop.post_order(shop.order_body(shop.pizza_line("Ham")))
    assert refused.status_code == 422, refused.text
    again = shop.place(shop.order_body(shop.pizza_line("Olives")))
    assert again["totals"]["subtotal"] == 1200


# --- 2. Pause, then a suspension, then reinstatement ---------------------------------------------


def test_a_pause_survives_a_suspension_and_every_refusal_meanwhile_is_a_clear_problem(
    shop: Shop,
) -> None:
    """Friday, 20:00: orders are open, the kitchen pauses for 30 minutes, then the platform
    suspends the restaurant. While suspended the storefront, new orders, the manager's menu and
    every kitchen write that starts something get a 403 problem+json saying
    suspended, never a 500, while the kitchen still works the open order and reads its pause.
    Reinstated within the pause, the pause is still in force (the kitchen reads it, customers
    are refused as paused, config says paused), and an order placed before, replayed with its
    Idempotency-Key, is the first answer, not a refusal and not a second order."""
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line(quantity=2))
    first = shop.post_order(body, key=key)
    assert first.status_code == 201, first.text
    order = first.json()
    ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    paused = ok(shop.client.put(PAUSE, **_kitchen(shop), json={"minutes": 30, "note": "Full"}))

    ok(_suspension(shop, "PUT", json={"reason": "Unpaid invoice"}))
    kitchen, manager = _kitchen(shop), _manager(shop)
    for refused in (
        shop.client.get(CONFIG, host=shop.host),
        shop.client.get(MENU, host=shop.host),
        shop.post_order(shop.order_body(shop.cola_line())),
        shop.client.delete(PAUSE, **kitchen),
        shop.client.put(PAUSE, **kitchen, json={"minutes": 5}),
        kitchen_86(shop, {"items": [{"id": shop.menu.items["Cola"], "available": False}]}),
        shop.client.get("/api/v1/admin/menu", **manager),
        shop.client.post("/api/v1/admin/menu/publish", **manager),
    ):
        answer = problem(refused, 403)
        assert answer["detail"] == f"The restaurant at {shop.host} is suspended"
    assert _orders(shop) == 1
    # A retry of the order placed before gets its receipt, suspended or not.
    retried = shop.post_order(body, key=key)
    assert (retried.status_code, retried.json()["id"]) == (201, order["id"])
    assert ok(shop.client.get(PAUSE, **kitchen))["until"] == paused["until"]
    moved = ok(shop.transition(order, "preparing", 2))
    assert moved["ready_by"] == ok(shop.customer_view(order))["ready_by"] is not None

    ok(_suspension(shop, "DELETE"))
    state = ok(shop.client.get(PAUSE, **kitchen))
    assert (state["paused"], state["until"], state["note"]) == (True, paused["until"], "Full")
    config = ok(shop.client.get(CONFIG, host=shop.host))
    assert config["open_now"] is False and config["paused"]["until"] == paused["until"]
    replay = shop.post_order(body, key=key)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == order["id"]
    refused = shop.post_order(shop.order_body(shop.cola_line()))
    assert "not taking orders until" in problem(refused, 422)["errors"][0]["message"]
    assert _orders(shop) == 1
    assert shop.client.delete(PAUSE, **kitchen).status_code == 204
    shop.place()


def test_an_order_refused_by_a_pause_frees_its_key_for_after_the_pause(shop: Shop) -> None:
    """A customer whose order was refused because the kitchen paused retries with the same
    Idempotency-Key once orders resume: it is placed (the refusal never used the key up)."""
    ok(shop.client.put(PAUSE, **_kitchen(shop), json={"minutes": 20}))
    key, body = str(uuid.uuid4()), shop.order_body()
    problem(shop.post_order(body, key=key), 422)
    assert shop.client.delete(PAUSE, **_kitchen(shop)).status_code == 204
    placed = shop.post_order(body, key=key)
    assert placed.status_code == 201, placed.text
    assert "idempotent-replayed" not in placed.headers


# --- 3. Idempotent replay after the menu changed ------------------------------------------------


def test_a_replay_after_a_reprice_and_an_86_is_the_first_answer(shop: Shop) -> None:
    """The customer's app retries its order after the manager repriced and the cook 86'd the
    very dish: the same key and body answer the receipt first given (same id and totals, with a
    working access token), and no second order is written."""
    key, body = str(uuid.uuid4()), shop.order_body(shop.pizza_line("Ham"))
    first = shop.post_order(body, key=key)
    assert first.status_code == 201, first.text
    pizza = shop.menu.items["Margherita"]
    _reprice_and_publish(shop, pizza, 1500)
    ok(kitchen_86(shop, {"items": [{"id": pizza, "available": False, "until": "tomorrow"}]}))
    replay = shop.post_order(body, key=key)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert ok(shop.customer_view(replay.json()))["totals"] == first.json()["totals"]
    assert _orders(shop) == 1


# --- 4. Cancel and recall: every view and the day's takings agree ------------------------------


def test_a_cancel_and_a_recall_agree_in_every_view_and_in_the_days_takings(shop: Shop) -> None:
    """One order is accepted with a promise and then cancelled; another goes to ready, is
    recalled with a new promise and completed. The customer's history, the kitchen ticket, the
    manager's order and day, and the events tell the same story, and the day's takings and
    items sold leave the cancelled order out."""
    cancelled = shop.place(shop.order_body(shop.pizza_line("Ham", size="Large")))
    ok(shop.transition(cancelled, "accepted", 1, ready_in_minutes=30))
    ok(shop.transition(cancelled, "cancelled", 2, reason="Out of dough", by="cook-bo"))

    served = shop.place(shop.order_body(shop.cola_line(quantity=2), tip=50))
    ok(shop.transition(served, "accepted", 1, ready_in_minutes=10))
    ok(shop.transition(served, "preparing", 2))
    ok(shop.transition(served, "ready", 3))
    recalled = ok(shop.transition(served, "preparing", 4, ready_in_minutes=5, by="cook-cy"))
    ok(shop.transition(served, "ready", 5))
    ok(shop.transition(served, "completed", 6))

    view = ok(shop.customer_view(served))
    assert [step["status"] for step in view["history"]] == [
        "placed", "accepted", "preparing", "ready", "preparing", "ready", "completed"
    ]  # fmt: skip
    assert view["ready_by"] == recalled["ready_by"] == _ticket(shop, served)["ready_by"]
    managed = _manager_order(shop, served)
    assert managed["ready_by"] == recalled["ready_by"]
    assert [(s["from"], s["to"], s["by"]) for s in managed["history"]][4] == (
        "ready", "preparing", "staff:cook-cy"
    )  # fmt: skip
    events = outbox_events(shop, served)
    assert [e["type"] for e in events][4] == "order.preparing"
    assert events[4]["data"]["from"] == "ready"
    assert [e["data"]["ready_by"] for e in events[5:]] == [recalled["ready_by"]] * 2

    gone = ok(shop.customer_view(cancelled))
    assert (gone["status"], gone["history"][-1]["reason"]) == ("cancelled", "Out of dough")
    assert _manager_order(shop, cancelled)["history"][-1]["by"] == "staff:cook-bo"
    assert outbox_events(shop, cancelled)[-1]["data"]["reason"] == "Out of dough"

    day = ok(shop.client.get("/api/v1/admin/orders", **_manager(shop)))
    assert day["date"] == datetime.now(UTC).date().isoformat()
    summary = day["summary"]
    assert summary["by_status"] == dict.fromkeys(STATUSES, 0) | {"completed": 1, "cancelled": 1}
    [sales] = summary["sales"]
    assert (sales["orders"], sales["total"], sales["tip"]) == (
        1, served["totals"]["total"], 50
    )  # fmt: skip
    assert [(i["name"], i["quantity"]) for i in summary["items"]] == [("Cola", 2)]
    listed = {o["id"]: o for o in day["orders"]}
    assert listed[served["id"]]["ready_by"] == recalled["ready_by"]
    assert listed[served["id"]]["version"] == 7


# --- 5. The kitchen's 86 list after the manager republishes -------------------------------------


def _last_sold_out_list(shop: Shop) -> list[str]:
    """The 86 list a display following events shows: the newest `menu.sold_out` event's."""
    [row] = execute(
        f"select data from {shop.schema}.outbox where type = 'menu.sold_out' "
        "order by position desc limit 1"
    )
    return names(row["data"])


def _sheet(cola_available: bool) -> dict:
    """The manager's spreadsheet: the test menu with Ham restocked (`"available": true`), and
    the Cola marked out of stock or not."""
    sheet = copy.deepcopy(SHEET)
    sheet["categories"][1]["items"][0]["available"] = cola_available
    [pizza] = [i for i in sheet["categories"][0]["items"] if i["name"] == "Margherita"]
    [toppings] = [g for g in pizza["modifier_groups"] if g["name"] == "Toppings"]
    [ham] = [o for o in toppings["options"] if o["name"] == "Ham"]
    ham["available"] = True
    return sheet


@pytest.mark.parametrize("cola_available", [True, False], ids=["ham-back", "cola-out-too"])
def test_a_publish_that_changes_the_86_list_tells_the_displays(
    shop: Shop, cola_available: bool
) -> None:
    """The cook 86es Ham from the line; every display lists Ham. The manager then re-imports
    the menu from the spreadsheet (Ham restocked there; the Cola marked out of stock in one case)
    and publishes: customers can order Ham again (and not the Cola), so the displays' 86 list,
    which follows `menu.sold_out` and is replaced by each one, must say what
    GET /kitchen/availability says, or the cook believes Ham is still off the menu."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    ok(kitchen_86(shop, {"options": [{"id": ham, "available": False}]}))
    assert "Ham" in _last_sold_out_list(shop)
    imported = shop.client.post(
        "/api/v1/admin/menu/import", **_manager(shop), json=_sheet(cola_available)
    )
    ok(imported)
    ok(shop.client.post("/api/v1/admin/menu/publish", **_manager(shop)), 201)

    now_listed = names(ok(shop.client.get(KITCHEN, **_kitchen(shop))))
    assert "Ham" not in now_listed  # customers can order it again
    assert ("Cola" in now_listed) is not cola_available
    assert _last_sold_out_list(shop) == now_listed


def test_the_opening_publish_tells_the_displays_and_an_unchanged_list_sends_nothing(
    shop: Shop,
) -> None:
    """A menu published with dishes already off tells every display its 86 list (displays are
    set up before the publish that gives them work); a later publish that leaves the list as
    it was (a price change) sends nothing, so displays are not told the same list each time."""
    [opening] = execute(
        f"select groups, data from {shop.schema}.outbox where type = 'menu.sold_out'"
    )
    assert names(opening["data"]) == ["Calzone", "Truffle"]
    assert f"t.{shop.slug}.kitchen" in opening["groups"]
    pizza = shop.menu.items["Margherita"]
    _reprice_and_publish(shop, pizza, 1100)
    assert sold_out_events(shop) == []


# --- 6. An 86 until tomorrow across a holiday and a publish -------------------------------------


def test_an_86_until_tomorrow_skips_a_holiday_and_outlives_a_publish(
    client, tenants, auth_header
) -> None:
    """Tonight the cook 86es the Cola "until tomorrow"; tomorrow the restaurant (open all day
    otherwise) is closed for a holiday. The Cola is back when the doors next open, the day
    after; the manager's publish in between keeps that, and until then customers cannot order
    it while the storefront lists the holiday."""
    today = datetime.now(UTC).date()
    holiday = (today + timedelta(days=1)).isoformat()
    shop = open_shop(
        client, tenants, auth_header,
        settings={"special_days": [{"date": holiday, "hours": [], "note": "Holiday"}]},
    )  # fmt: skip
    cola = shop.menu.items["Cola"]
    answer = ok(
        kitchen_86(shop, {"items": [{"id": cola, "available": False, "until": "tomorrow"}]})
    )
    back = datetime.combine(today + timedelta(days=2), datetime.min.time(), UTC)
    assert datetime.fromisoformat(answer["items"][0]["sold_out_until"]) == back
    draft = ok(shop.client.get(f"/api/v1/admin/menu/items/{cola}", **_manager(shop)))
    assert (draft["available"], draft["sold_out_until"]) == (False, back.isoformat())
    _reprice_and_publish(shop, cola, 300)

    listed = ok(shop.client.get(KITCHEN, **_kitchen(shop)))
    assert {e["name"]: e["sold_out_until"] for e in listed["items"]}["Cola"] == back.isoformat()
    assert _store_items(shop)["Cola"]["available"] is False
    assert shop.post_order(shop.order_body(shop.cola_line())).status_code == 422
    config = ok(shop.client.get(CONFIG, host=shop.host))
    assert config["open_now"] is True
    assert [d["date"] for d in config["special_days"]] == [holiday]
