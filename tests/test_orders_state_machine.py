"""The order state machine through the kitchen API: every legal and illegal move, versions."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from shared.db import tenant_transaction
from tests.conftest import execute, wait_for_lock_waiters
from tests.order_fixtures import (  # noqa: F401
    Shop,
    module_shop_fixture,
    order_access,
    settle,
    shop_fixture,
)

# Design §6, written out rather than read from state_machine.TRANSITIONS: a move added to or
# dropped from that table is a failing test, not a new case.
MOVES = {
    "placed": ("accepted", "cancelled"),
    "accepted": ("preparing", "cancelled"),
    "preparing": ("ready",),
    "ready": ("completed", "preparing"),
    "completed": (),
    "cancelled": (),
}
STATUSES = tuple(MOVES)
# How to bring a fresh order into each state.
PATHS = {
    "placed": [],
    "accepted": ["accepted"],
    "preparing": ["accepted", "preparing"],
    "ready": ["accepted", "preparing", "ready"],
    "completed": ["accepted", "preparing", "ready", "completed"],
    "cancelled": ["cancelled"],
}


def _order_in(shop: Shop, status: str) -> dict:
    order = shop.place()
    for version, step in enumerate(PATHS[status], start=1):
        response = shop.transition(order, step, version, reason="test")
        assert response.status_code == 200, response.text
    return {**order, "version": len(PATHS[status]) + 1}


@pytest.mark.parametrize(
    ("start", "to"),
    [(start, to) for start in STATUSES for to in STATUSES if to in MOVES[start]],
)
def test_legal_transitions(module_shop: Shop, start: str, to: str) -> None:
    shop = module_shop
    order = _order_in(shop, start)
    response = shop.transition(order, to, order["version"], reason="customer asked")
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["status"], moved["version"]) == (to, order["version"] + 1)
    assert response.headers["etag"] == f'"{order["version"] + 1}"'
    last = execute(
        f"select from_status, to_status, actor, reason from {shop.schema}.order_events"
        " where order_id = %s order by occurred_at desc, id limit 1",
        [order["id"]],
    )[0]
    assert (last["from_status"], last["to_status"]) == (start, to)
    assert last["actor"].startswith("staff:") and last["reason"] == "customer asked"
    assert shop.customer_view(order).json()["status"] == to


@pytest.mark.parametrize(
    ("start", "to"),
    [(start, to) for start in STATUSES for to in STATUSES if to not in MOVES[start]],
)
def test_illegal_transitions_are_409_naming_the_allowed_ones(
    module_shop: Shop, start: str, to: str
) -> None:
    shop = module_shop
    order = _order_in(shop, start)
    response = shop.transition(order, to, order["version"], reason="because")
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["allowed"] == list(MOVES[start])
    assert problem["status_now"] == start
    assert shop.customer_view(order).json()["version"] == order["version"]


def test_a_tracking_page_polling_with_its_etag_gets_304_until_the_order_moves(shop: Shop) -> None:
    order = shop.place()
    seen = shop.customer_view(order)
    url = f"/api/v1/store/orders/{order['id']}"
    headers = {**order_access(order), "If-None-Match": seen.headers["etag"]}

    unchanged = shop.client.get(url, host=shop.host, headers=headers)
    assert (unchanged.status_code, unchanged.body) == (304, b"")
    assert unchanged.headers["etag"] == seen.headers["etag"]
    # Neither answer may be kept by a shared cache: the order holds the customer's name.
    assert seen.headers["cache-control"] == unchanged.headers["cache-control"] == "no-store"
    assert shop.transition(order, "accepted", 1).status_code == 200
    moved = shop.client.get(url, host=shop.host, headers=headers)
    assert moved.status_code == 200 and moved.json()["status"] == "accepted"
    # Another order's token opens nothing, 304 or not.
    other = shop.place()
    stranger = {**order_access(other), "If-None-Match": seen.headers["etag"]}
    assert shop.client.get(url, host=shop.host, headers=stranger).status_code == 404


def test_cancelling_needs_a_reason(shop: Shop) -> None:
    order = shop.place()
    for reason in ({}, {"reason": ""}, {"reason": "   "}):
        response = shop.transition(order, "cancelled", 1, **reason)
        assert response.status_code == 422
        assert response.json()["errors"][0]["path"] == "reason"
    assert shop.transition(order, "cancelled", 1, reason="out of dough").status_code == 200
    history = shop.customer_view(order).json()["history"]
    assert history[-1]["status"] == "cancelled" and history[-1]["reason"] == "out of dough"


def test_the_customer_sees_each_step_and_line_but_not_who_took_it_or_the_kitchens_notes(
    shop: Shop,
) -> None:
    """Who moved the order (a staff member's token subject), the line's station and allergens
    are for staff: the customer's view has its own keys, with what each choice cost."""
    placed = shop.place(
        shop.order_body(shop.pizza_line("Ham", "Olives", "Mushrooms", size="Large"))
    )
    accepted = shop.transition(placed, "accepted", 1, by="chef-kim")
    assert accepted.status_code == 200, accepted.text

    view = shop.customer_view(placed)

    assert view.status_code == 200, view.text
    order = view.json()
    assert [sorted(step) for step in order["history"]] == [["at", "reason", "status"]] * 2
    assert [step["status"] for step in order["history"]] == ["placed", "accepted"]
    [line] = order["lines"]
    assert sorted(line) == ["line_total", "modifiers", "name", "note", "quantity", "unit_price"]
    assert all(sorted(m) == ["charged", "group", "name"] for m in line["modifiers"])
    # What each choice cost: two toppings within the free quantity, the third at its price.
    assert [(m["name"], m["charged"]) for m in line["modifiers"]] == [
        ("Large", 300), ("Ham", 0), ("Olives", 0), ("Mushrooms", 120)
    ]  # fmt: skip
    assert "chef-kim" not in view.text and "oven" not in view.text


def test_a_cancel_reason_is_at_most_200_characters_and_kept_trimmed(shop: Shop) -> None:
    """A reason shows on every display and in the customer's history: at most 200 characters,
    kept without the spaces around it."""
    order = shop.place()
    too_long = shop.transition(order, "cancelled", 1, reason="x" * 201)
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["errors"][0]["path"] == "reason"
    assert shop.transition(order, "cancelled", 1, reason="  out of dough  ").status_code == 200
    assert shop.customer_view(order).json()["history"][-1]["reason"] == "out of dough"

    longest = shop.place()
    assert shop.transition(longest, "cancelled", 1, reason="y" * 200).status_code == 200
    assert shop.customer_view(longest).json()["history"][-1]["reason"] == "y" * 200


def test_a_stale_version_is_409_in_the_body_and_412_with_if_match(shop: Shop) -> None:
    order = shop.place()
    assert shop.transition(order, "accepted", 1).status_code == 200
    stale = shop.transition(order, "preparing", 1)
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    path = f"/api/v1/kitchen/orders/{order['id']}/transition"
    headers = shop.staff()
    stale_header = shop.client.post(
        path, host=shop.host, headers={**headers, "If-Match": '"1"'}, json={"to": "preparing"}
    )
    assert stale_header.status_code == 412
    # Either way the display learns where the ticket is now, without fetching it again.
    for answer in (stale, stale_header):
        assert answer.json()["current_version"] == 2 and answer.json()["status_now"] == "accepted"
    fresh = shop.client.post(
        path, host=shop.host, headers={**headers, "If-Match": '"2"'}, json={"to": "preparing"}
    )
    assert fresh.status_code == 200 and fresh.json()["version"] == 3
    mistyped = shop.client.post(
        path, host=shop.host, headers=headers, json={"to": "ready", "expected_version": "3"}
    )
    assert mistyped.status_code == 422
    neither = shop.client.post(path, host=shop.host, headers=headers, json={"to": "ready"})
    assert neither.status_code == 422
    assert neither.json()["errors"][0]["path"] == "expected_version"


def test_the_customer_sees_every_step(shop: Shop) -> None:
    order = shop.place()
    for version, step in enumerate(["accepted", "preparing", "ready", "preparing"], start=1):
        assert shop.transition(order, step, version).status_code == 200
    assert shop.transition(order, "ready", 5).status_code == 200
    assert shop.transition(order, "completed", 6).status_code == 200
    view = shop.customer_view(order).json()
    assert [step["status"] for step in view["history"]] == [
        "placed", "accepted", "preparing", "ready", "preparing", "ready", "completed",
    ]  # fmt: skip
    assert (view["status"], view["version"]) == ("completed", 7)


def test_only_this_restaurants_staff_may_move_orders(shop: Shop, auth_header) -> None:
    order = shop.place()
    path = f"/api/v1/kitchen/orders/{order['id']}/transition"
    body = {"to": "accepted", "expected_version": 1}
    anonymous = shop.client.post(path, host=shop.host, json=body)
    assert anonymous.status_code == 401
    customer = shop.client.post(path, host=shop.host, headers=order_access(order), json=body)
    assert customer.status_code == 401
    foreign = shop.client.post(
        path, host=shop.host, headers=auth_header("staff", tenant="elsewhere"), json=body
    )
    assert foreign.status_code == 403


def test_unknown_orders_and_states(shop: Shop) -> None:
    missing = {"id": str(uuid.uuid4())}
    assert shop.transition(missing, "accepted", 1).status_code == 404
    assert shop.transition({"id": "nope"}, "accepted", 1).status_code == 404
    order = shop.place()
    assert shop.transition(order, "eaten", 1).status_code == 422
    assert shop.transition(order, "cancelled", 1, reason="x\x00").status_code == 422


def test_if_match_star_keeps_the_expected_version_sent_with_it(shop: Shop) -> None:
    order = shop.place()
    path = f"/api/v1/kitchen/orders/{order['id']}/transition"
    headers = {**shop.staff(), "If-Match": "*"}
    moved = shop.client.post(
        path, host=shop.host, headers=headers, json={"to": "accepted", "expected_version": 1}
    )
    assert moved.status_code == 200, moved.text
    alone = shop.client.post(path, host=shop.host, headers=headers, json={"to": "preparing"})
    assert alone.status_code == 422 and "names no version" in alone.json()["detail"]


def test_an_invisible_cancel_reason_does_not_count_as_a_reason(shop: Shop) -> None:
    # A zero-width space and a BOM satisfy no one who reads the history.
    order = shop.place()
    response = shop.transition(order, "cancelled", 1, reason="\u200b\ufeff")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["path"] == "reason"
    assert shop.customer_view(order).json()["status"] == "placed"


def _listing(shop: Shop, **params: str) -> dict:
    response = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params=params or None
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("webpubsub_hub")
def test_staff_can_read_the_pickup_phone_number_they_are_kept_for(shop: Shop) -> None:
    # Kept 30 days for the restaurant to reach the customer: the kitchen's ticket shows it.
    order = shop.place()  # pickup: name "Ada", phone "+44 20 7946 0000"
    (ticket,) = _listing(shop)["orders"]
    settle()
    assert ticket["id"] == order["id"]
    assert ticket["fulfilment"].get("phone") == "+44 20 7946 0000", ticket["fulfilment"]


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_display_that_loses_a_race_is_told_the_state_the_ticket_is_in(shop: Shop) -> None:
    # Two displays act on one ticket at once: the loser's stale-version 409 says where the
    # ticket is now, as an illegal move's 409 does (the kitchen has no single-order read).
    order = shop.place()
    barrier = threading.Barrier(2)
    answers = []

    def tap(to: str, **extra: str) -> None:
        barrier.wait()
        answers.append(shop.transition(order, to, 1, **extra))

    displays = [
        threading.Thread(target=tap, args=("accepted",)),
        threading.Thread(target=tap, args=("cancelled",), kwargs={"reason": "out of dough"}),
    ]
    for display in displays:
        display.start()
    for display in displays:
        display.join()
    settle()
    (won,) = [a for a in answers if a.status_code == 200]
    (lost,) = [a for a in answers if a.status_code != 200]
    assert lost.status_code == 409
    problem = lost.json()
    assert problem["current_version"] == 2
    assert problem.get("status_now") == won.json()["status"], problem
    assert problem["allowed"] == list(MOVES[won.json()["status"]])


def test_a_move_waiting_on_another_displays_move_is_told_it_is_stale(shop: Shop) -> None:
    """Two displays at once: the move that waited for the other's commit reads the version
    after it (no lost update)."""
    order = shop.place()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Another display's accept, not yet committed, holds the order's row.
        with tenant_transaction(shop.schema) as conn:
            conn.execute(
                "update orders set status = 'accepted', version = 2 where id = %s", [order["id"]]
            )
            cancelling = pool.submit(shop.transition, order, "cancelled", 1, reason="no dough")
            wait_for_lock_waiters("orders")
        response = cancelling.result()
    assert response.status_code == 409, response.text
    assert response.json()["current_version"] == 2
    assert shop.customer_view(order).json()["status"] == "accepted"


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_moves_event_names_its_reason_its_origin_and_reaches_its_stations(shop: Shop) -> None:
    order = shop.place(shop.order_body(shop.pizza_line(), shop.cola_line()))
    assert shop.transition(order, "cancelled", 1, reason="out of dough").status_code == 200
    settle()
    (event,) = execute(
        f"select groups, data from {shop.schema}.outbox where type = 'order.cancelled'"
    )
    assert event["data"]["status"] == "cancelled"
    assert event["data"]["from"] == "placed"
    assert event["data"]["reason"] == "out of dough"
    assert event["data"]["version"] == 2
    assert event["groups"] == [
        f"t.{shop.slug}.kitchen",
        f"t.{shop.slug}.station.bar",
        f"t.{shop.slug}.station.oven",
        f"o.{order['id']}",
    ]


def test_a_move_updates_the_orders_updated_at(shop: Shop) -> None:
    order = shop.place()
    moved = shop.transition(order, "accepted", 1)
    assert moved.status_code == 200, moved.text
    view = shop.customer_view(order).json()
    assert datetime.fromisoformat(view["updated_at"]) == datetime.fromisoformat(
        moved.json()["updated_at"]
    )
    assert view["updated_at"] != view["placed_at"]
