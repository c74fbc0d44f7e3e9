"""Live tickets over devhost's Web PubSub hub with real WebSocket clients: fan-out, isolation,
catch-up after a reconnect, and a hub outage that delays events but loses none."""

from __future__ import annotations

import threading
import time

import pytest

from functions import kitchen
from functions.order_timers import EVENT_RETENTION_DAYS
from shared.db import tenant_transaction
from shared.events import dispatch
from shared.events.outbox import purge_published
from tests.conftest import execute
from tests.hub_server import HubServer
from tests.order_fixtures import (  # noqa: F401
    Clients,
    LiveClient,
    Shop,
    live_clients_fixture,
    open_shop,
    order_access,
    settle,
    shop_fixture,
)

pytestmark = pytest.mark.usefixtures("webpubsub_hub")
EVENT_KEYS = {"id", "seq", "type", "tenant", "order_id", "occurred_at", "data"}


def kitchen_url(shop: Shop, **params: str) -> str:
    response = shop.client.get(
        "/api/v1/kitchen/negotiate", host=shop.host, headers=shop.staff(), params=params or None
    )
    assert response.status_code == 200, response.text
    return response.json()["url"]


def customer_url(shop: Shop, order: dict) -> str:
    link = order["links"]["negotiate"]
    response = shop.client.get(link, host=shop.host, headers=order_access(order))
    assert response.status_code == 200, response.text
    return response.json()["url"]


def _walk(shop: Shop, order: dict, *steps: str) -> None:
    for version, step in enumerate(steps, start=1):
        assert shop.transition(order, step, version).status_code == 200


def test_the_kitchen_and_the_customer_see_placed_to_ready_in_order(
    shop: Shop, live_clients: Clients
) -> None:
    kitchen = live_clients(kitchen_url(shop))
    order = shop.place(shop.order_body(shop.pizza_line("Ham"), shop.cola_line()))
    settle()  # the placed event is out before the customer's page connects
    customer = live_clients(customer_url(shop, order))
    placed = kitchen.events(1)[0]
    assert set(placed) == EVENT_KEYS
    assert (placed["type"], placed["tenant"], placed["order_id"]) == (
        "order.placed",
        shop.slug,
        order["id"],
    )
    assert placed["data"]["ticket_number"] == order["ticket_number"]
    pizza = placed["data"]["lines"][0]
    assert (pizza["station"], pizza["allergens"]) == ("oven", ["gluten", "milk"])
    assert [m["name"] for m in pizza["modifiers"]] == ["Regular", "Ham"]

    _walk(shop, order, "accepted", "preparing", "ready")
    steps = kitchen.events(3)
    assert [e["type"] for e in steps] == ["order.accepted", "order.preparing", "order.ready"]
    assert [e["data"]["version"] for e in steps] == [2, 3, 4]
    seqs = [placed["seq"], *(e["seq"] for e in steps)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    # The customer connected after the order was placed, so it sees the moves from then on.
    assert [e["type"] for e in customer.events(3)] == [e["type"] for e in steps]
    settle()
    assert kitchen.nothing_more() == [] and customer.nothing_more() == []


def test_a_station_display_gets_only_tickets_for_its_station(
    shop: Shop, live_clients: Clients
) -> None:
    bar = live_clients(kitchen_url(shop, station="bar"))
    shop.place(shop.order_body(shop.pizza_line()))
    drinks = shop.place(shop.order_body(shop.cola_line()))
    (event,) = bar.events(1)
    assert event["order_id"] == drinks["id"]
    settle()
    assert bar.nothing_more() == []
    unknown = shop.client.get(
        "/api/v1/kitchen/negotiate",
        host=shop.host,
        headers=shop.staff(),
        params={"station": "grill"},
    )
    assert unknown.status_code == 422


def test_a_station_display_connects_while_its_category_rests(shop: Shop) -> None:
    """The bar's display keeps reconnecting while drinks are hidden for the afternoon, and a new
    grill display is set up before the publish that gives it work."""
    owner = {"host": shop.host, "headers": shop.owner()}
    draft = shop.client.get("/api/v1/admin/menu", **owner).json()
    drinks = next(c for c in draft["categories"] if c["name"] == "Drinks")
    hidden = shop.client.patch(
        f"/api/v1/admin/menu/categories/{drinks['id']}", json={"visible": False}, **owner
    )
    assert hidden.status_code == 200, hidden.text
    assert shop.client.post("/api/v1/admin/menu/publish", **owner).status_code == 201
    assert "access_token=" in kitchen_url(shop, station="bar")
    # Still while the draft moves the Cola elsewhere: the published menu sends it to the bar.
    cola = shop.client.get(f"/api/v1/admin/menu/items/{shop.menu.items['Cola']}", **owner)
    moved = shop.client.patch(
        f"/api/v1/admin/menu/items/{shop.menu.items['Cola']}",
        host=shop.host,
        headers={**shop.owner(), "If-Match": cola.headers["etag"]},
        json={"station": "counter"},
    )
    assert moved.status_code == 200, moved.text
    assert "access_token=" in kitchen_url(shop, station="bar")
    pizza = next(c for c in draft["categories"] if c["name"] == "Pizza")
    grill = {"category_id": pizza["id"], "name": "Burger", "price": 1200, "station": "grill"}
    assert shop.client.post("/api/v1/admin/menu/items", json=grill, **owner).status_code == 201
    assert "access_token=" in kitchen_url(shop, station="grill")


def test_a_kitchen_token_cannot_join_another_restaurants_groups(
    shop: Shop, client, tenants, auth_header, live_clients: Clients
) -> None:
    other = open_shop(client, tenants, auth_header)
    kitchen = live_clients(kitchen_url(shop))
    for group in (f"t.{other.slug}.kitchen", f"t.{other.slug}.station.oven"):
        ack = kitchen.join(group)
        assert ack["success"] is False and ack["error"]["name"] == "Forbidden"
    assert kitchen.join(f"t.{shop.slug}.station.oven")["success"] is True
    other.place()
    settle()
    assert kitchen.nothing_more() == []
    # Staff of one restaurant cannot even ask for another's URL.
    foreign = other.client.get("/api/v1/kitchen/negotiate", host=other.host, headers=shop.staff())
    assert foreign.status_code == 403


def test_a_customer_token_joins_only_its_own_order(shop: Shop, live_clients: Clients) -> None:
    mine, theirs = shop.place(), shop.place()
    settle()  # both placed events are out before the customer's page connects
    customer = live_clients(customer_url(shop, mine))
    for group in (f"o.{theirs['id']}", f"t.{shop.slug}.kitchen"):
        ack = customer.join(group)
        assert ack["success"] is False and ack["error"]["name"] == "Forbidden"
    _walk(shop, theirs, "accepted")
    _walk(shop, mine, "accepted")
    (event,) = customer.events(1)
    assert (event["order_id"], event["type"]) == (mine["id"], "order.accepted")
    settle()
    assert customer.nothing_more() == []
    wrong = shop.client.get(
        f"/api/v1/store/orders/{theirs['id']}/negotiate",
        host=shop.host,
        headers=order_access(mine),
    )
    assert wrong.status_code == 404


def test_a_display_catches_up_after_reconnecting(shop: Shop, live_clients: Clients) -> None:
    kitchen = live_clients(kitchen_url(shop))
    order = shop.place()
    last_seen = kitchen.events(1)[0]["seq"]
    kitchen.close()
    # While the display is away, the order moves on and another arrives.
    _walk(shop, order, "accepted", "preparing")
    later = shop.place()
    settle()
    kitchen = live_clients(kitchen_url(shop))
    page = shop.client.get(
        "/api/v1/kitchen/events",
        host=shop.host,
        headers=shop.staff(),
        params={"after": str(last_seen), "limit": "2"},
    ).json()
    assert [e["type"] for e in page["events"]] == ["order.accepted", "order.preparing"]
    assert page["has_more"] is True and page["next_after"] == page["events"][-1]["seq"]
    rest = shop.client.get(
        "/api/v1/kitchen/events",
        host=shop.host,
        headers=shop.staff(),
        params={"after": str(page["next_after"])},
    ).json()
    assert [(e["type"], e["order_id"]) for e in rest["events"]] == [("order.placed", later["id"])]
    assert rest["has_more"] is False
    # And live again from here.
    _walk(shop, later, "accepted")
    assert kitchen.events(1)[0]["seq"] == rest["next_after"] + 1


def test_kitchen_orders_lists_open_tickets_with_what_to_cook(shop: Shop) -> None:
    base = shop.last_seq()
    line = {**shop.pizza_line("Olives", size="Large"), "note": "well done"}
    first = shop.place(shop.order_body(line))
    second = shop.place(shop.order_body(shop.cola_line()))
    done = shop.place()
    assert shop.transition(done, "cancelled", 1, reason="duplicate").status_code == 200
    settle()  # seqs are handed out by the publisher, just after commit
    response = shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff())
    assert response.status_code == 200
    listing = response.json()
    assert [o["id"] for o in listing["orders"]] == [first["id"], second["id"]]
    ticket = listing["orders"][0]
    assert ticket["ticket_number"] == "#0001" and ticket["status"] == "placed"
    assert ticket["age_seconds"] >= 0 and ticket["fulfilment"]["name"] == "Ada"
    assert ticket["lines"] == [
        {
            "name": "Margherita",
            "quantity": 1,
            "station": "oven",
            "note": "well done",
            "allergens": ["gluten", "milk"],
            "modifiers": [
                {"group": "Size", "name": "Large"},
                {"group": "Toppings", "name": "Olives"},
            ],
        }
    ]
    assert listing["as_of_seq"] == base + 4
    cancelled = shop.client.get(
        "/api/v1/kitchen/orders",
        host=shop.host,
        headers=shop.staff(),
        params={"status": "cancelled"},
    ).json()
    assert [o["id"] for o in cancelled["orders"]] == [done["id"]]
    bad = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params={"status": "eaten"}
    )
    assert bad.status_code == 422


def test_a_hub_outage_delays_events_but_loses_none(
    shop: Shop, webpubsub_hub: HubServer, live_clients: Clients, app_functions
) -> None:
    sweep = next(f for f in app_functions if f.get_function_name() == "publish_pending_events")
    base = shop.last_seq()
    webpubsub_hub.stop()
    try:
        first = shop.place()  # orders still succeed while the hub is down
        _walk(shop, first, "accepted")
        settle()
    finally:
        webpubsub_hub.start()
    pending = execute(
        f"select seq, attempts from {shop.schema}.outbox where published_at is null order by seq"
    )
    assert [row["seq"] for row in pending] == [base + 1, base + 2]
    assert pending[0]["attempts"] >= 1
    kitchen = live_clients(kitchen_url(shop))
    # The timer honours the backoff (1 s, then 2 s, ...) and then publishes the backlog in order.
    deadline = time.monotonic() + 10
    while execute(f"select 1 from {shop.schema}.outbox where published_at is null"):
        assert time.monotonic() < deadline, "the timer did not publish the backlog"
        sweep.get_user_function()(None)
        time.sleep(0.1)
    backlog = kitchen.events(2)
    assert [(e["type"], e["order_id"]) for e in backlog] == [
        ("order.placed", first["id"]),
        ("order.accepted", first["id"]),
    ]
    # Sweeping again, and new traffic, never repeats an event.
    sweep.get_user_function()(None)
    second = shop.place()
    (live,) = kitchen.events(1)
    assert (live["seq"], live["order_id"]) == (base + 3, second["id"])
    settle()
    assert kitchen.nothing_more() == []
    assert len({e["id"] for e in [*backlog, live]}) == 3


def test_during_an_outage_orders_wait_before_trying_the_hub_again(
    shop: Shop, webpubsub_hub: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def head_attempts() -> int:
        rows = execute(
            f"select attempts from {shop.schema}.outbox where published_at is null order by seq"
        )
        return rows[0]["attempts"]

    # A wide window, so no machine is too slow to place the orders inside it.
    monkeypatch.setattr(dispatch, "RETRY_AFTER_FAILURE_S", 60.0)
    webpubsub_hub.stop()
    try:
        for _ in range(4):
            shop.place()
            settle()
        assert head_attempts() == 1  # the first order tried the hub; the next three did not
        monkeypatch.setattr(dispatch, "RETRY_AFTER_FAILURE_S", 0.0)
        shop.place()
        settle()
        assert head_attempts() == 2  # once the wait is over, new activity tries again
    finally:
        webpubsub_hub.start()


def test_catching_up_past_purged_events_is_410_reload(shop: Shop) -> None:
    # A display away longer than the retention window must be told to reload the orders, not
    # be handed a page that silently starts later.
    base = shop.last_seq()
    first = shop.place()
    for version, step in enumerate(["accepted", "preparing"], start=1):
        assert shop.transition(first, step, version).status_code == 200
    settle()
    execute(f"update {shop.schema}.outbox set published_at = now() - interval '8 days'")
    with tenant_transaction(shop.schema) as conn:
        assert purge_published(conn, older_than_days=EVENT_RETENTION_DAYS) == base + 3
    shop.place()
    settle()

    def catch_up(after: int):
        return shop.client.get(
            "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(),
            params={"after": str(after)},
        )  # fmt: skip

    for after in range(base + 3):
        gone = catch_up(after)
        assert gone.status_code == 410, (after, gone.text)
        assert "reload" in gone.json()["detail"]
    current = catch_up(base + 3)
    assert [e["seq"] for e in current.json()["events"]] == [base + 4]


def test_a_truncated_ticket_list_says_so(shop: Shop) -> None:
    orders = [shop.place() for _ in range(3)]
    listing = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(),
        params={"limit": "2"},
    ).json()  # fmt: skip
    assert [o["id"] for o in listing["orders"]] == [o["id"] for o in orders[:2]]
    assert listing["truncated"] is True
    whole = shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff()).json()
    assert len(whole["orders"]) == 3 and whole["truncated"] is False


def test_a_display_following_the_version_rule_ends_where_the_list_does(shop: Shop) -> None:
    """Load the list while orders arrive and move, then apply the events after its as_of_seq
    only where they are newer than the ticket: the result is the list read at the end."""
    done = threading.Event()

    def kitchen_at_work() -> None:
        for _ in range(12):
            order = shop.place()
            assert shop.transition(order, "accepted", 1).status_code == 200
        done.set()

    worker = threading.Thread(target=kitchen_at_work)
    worker.start()
    listings = []
    while not done.is_set():
        listings.append(shop.client.get(
            "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff()).json())  # fmt: skip
    worker.join()
    settle()
    final = shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff()).json()
    expected = {o["id"]: (o["status"], o["version"]) for o in final["orders"]}
    events = shop.client.get(
        "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
    ).json()["events"]
    for listing in listings:
        seen = {o["id"]: (o["status"], o["version"]) for o in listing["orders"]}
        for event in (e for e in events if e["seq"] > listing["as_of_seq"]):
            known = seen.get(event["order_id"])
            if known is None or event["data"]["version"] > known[1]:
                seen[event["order_id"]] = (event["data"]["status"], event["data"]["version"])
        assert seen == expected


def test_a_poll_racing_a_new_order_is_not_told_its_events_are_gone(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.place()
    settle()
    real_events_after = kitchen.events_after

    def order_arrives_meanwhile(conn, after, *, limit, group=None):
        page = real_events_after(conn, after, limit=limit, group=group)
        shop.place()  # another request commits and is sequenced during this poll
        settle()
        return page

    monkeypatch.setattr(kitchen, "events_after", order_arrives_meanwhile)
    response = shop.client.get(
        "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "1"}
    )
    assert response.status_code == 200, response.text
