"""A busy Friday night seen by the kitchen and the customers, with a flaky network: every order
reaches the kitchen once and in order, double taps and races move a ticket once, and a hub outage
loses nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import execute
from tests.hub_server import HubServer
from tests.order_fixtures import (  # noqa: F401
    RELIABLE,
    Clients,
    LiveClient,
    Shop,
    live_clients_fixture,
    order_access,
    settle,
    shop_fixture,
)
from tests.storefront_helpers import problem
from tests.test_orders_realtime import customer_url, kitchen_url

pytestmark = pytest.mark.usefixtures("webpubsub_hub")
EVENTS = "/api/v1/kitchen/events"
TICKETS = "/api/v1/kitchen/orders"


def catch_up(shop: Shop, after: int, limit: int = 7, **params: str) -> list[dict]:
    events: list[dict] = []
    while True:
        response = shop.client.get(
            EVENTS, host=shop.host, headers=shop.staff(),
            params={"after": str(after), "limit": str(limit), **params},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            return events


def all_tickets(shop: Shop, **params: str) -> list[dict]:
    found: list[dict] = []
    query = {"limit": "9", **params}
    while True:
        page = shop.client.get(TICKETS, host=shop.host, headers=shop.staff(), params=query)
        assert page.status_code == 200, page.text
        found += page.json()["orders"]
        if not page.json()["truncated"]:
            return found
        query["cursor"] = page.json()["next_cursor"]


def test_forty_orders_in_minutes_reach_the_kitchen_each_once_and_in_seq(shop: Shop) -> None:
    base = shop.last_seq()
    with ThreadPoolExecutor(8) as pool:
        placed = list(pool.map(lambda _: shop.post_order(key=str(uuid.uuid4())), range(40)))
    assert [r.status_code for r in placed] == [201] * 40
    orders = [r.json() for r in placed]
    numbers = sorted(int(o["ticket_number"][1:]) for o in orders)
    assert numbers == list(range(1, 41))
    settle()
    events = catch_up(shop, base)
    assert [e["seq"] for e in events] == list(range(base + 1, base + 41))
    assert sorted(e["order_id"] for e in events) == sorted(o["id"] for o in orders)
    tickets = all_tickets(shop)
    assert sorted(t["id"] for t in tickets) == sorted(o["id"] for o in orders)


def test_a_double_tap_on_ready_moves_once_and_tells_the_second_where_it_is(shop: Shop) -> None:
    order = shop.place()
    version = shop.walk_to(order, "preparing")
    first = shop.transition(order, "ready", version)
    assert first.status_code == 200
    again = problem(shop.transition(order, "ready", version), 409)
    assert again["status_now"] == "ready" and again["current_version"] == version + 1
    settle()
    ready = [e for e in catch_up(shop, 0) if e["type"] == "order.ready"]
    assert len(ready) == 1
    hist = shop.customer_view(order).json()["history"]
    assert [h["status"] for h in hist] == ["placed", "accepted", "preparing", "ready"]


def test_two_cooks_moving_one_ticket_at_once_make_one_move(shop: Shop) -> None:
    order = shop.place()
    barrier = threading.Barrier(2)

    def move(to: str):
        barrier.wait()
        extra = {"reason": "Out of dough"} if to == "cancelled" else {}
        return shop.transition(order, to, 1, **extra)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(move, ["accepted", "cancelled"]))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    won = next(r.json() for r in results if r.status_code == 200)
    settle()
    moves = [e for e in catch_up(shop, 0) if e["order_id"] == order["id"]]
    assert [e["type"] for e in moves] == ["order.placed", f"order.{won['status']}"]


def test_an_86_mid_rush_refuses_the_cart_then_the_same_key_orders_once_back(shop: Shop) -> None:
    key = str(uuid.uuid4())
    cart = shop.order_body(shop.cola_line())
    cola = shop.menu.items["Cola"]
    off = shop.client.post(
        "/api/v1/kitchen/availability", host=shop.host, headers=shop.staff(),
        json={"items": [{"id": cola, "available": False}]},
    )  # fmt: skip
    assert off.status_code == 200, off.text
    refused = problem(shop.post_order(cart, key=key), 422)
    assert "lines[0].item_id" in str(refused)
    back = shop.client.post(
        "/api/v1/kitchen/availability", host=shop.host, headers=shop.staff(),
        json={"items": [{"id": cola, "available": True}]},
    )  # fmt: skip
    assert back.status_code == 200, back.text
    first = shop.post_order(cart, key=key)
    assert first.status_code == 201, first.text
    retry = shop.post_order(cart, key=key)
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"] == 1
    settle()
    lists = [e["data"]["items"] for e in catch_up(shop, 0) if e["type"] == "menu.sold_out"]
    cola_off = [item["name"] for item in lists[-2]]
    assert (sorted(cola_off), [item["name"] for item in lists[-1]]) == (
        ["Calzone", "Cola"],
        ["Calzone"],
    )


def test_hub_down_and_back_loses_no_event_and_catch_up_serves_them_meanwhile(
    shop: Shop, webpubsub_hub: HubServer, live_clients: Clients
) -> None:
    base = shop.last_seq()
    webpubsub_hub.stop()
    try:
        a = shop.place()
        assert shop.transition(a, "accepted", 1, ready_in_minutes=10).status_code == 200
        b = shop.place()
        settle()
        during = catch_up(shop, base)
        assert [e["seq"] for e in during] == [base + 1, base + 2, base + 3]
        nego = shop.client.get("/api/v1/kitchen/negotiate", host=shop.host, headers=shop.staff())
        assert nego.status_code == 200, nego.text  # a display can still get its URL
    finally:
        webpubsub_hub.start()
    kitchen = live_clients(kitchen_url(shop))
    time.sleep(1.1)  # the post-commit path tries a hub that failed at most once a second
    c = shop.place()
    got = kitchen.events(4)
    assert [e["seq"] for e in got] == [base + 1, base + 2, base + 3, base + 4]
    assert [e["order_id"] for e in got] == [a["id"], a["id"], b["id"], c["id"]]
    settle()
    assert kitchen.nothing_more() == []


def test_customer_tracks_live_while_the_kitchen_moves_it(shop: Shop, live_clients: Clients) -> None:
    order = shop.place()
    settle()
    page = live_clients(customer_url(shop, order))
    view = shop.customer_view(order)
    etag = view.headers["etag"]
    same = shop.client.get(
        order["links"]["self"], host=shop.host,
        headers={**order_access(order), "If-None-Match": etag},
    )  # fmt: skip
    assert same.status_code == 304
    assert shop.transition(order, "accepted", 1, ready_in_minutes=20).status_code == 200
    (accepted,) = page.events(1)
    moved = shop.client.get(
        order["links"]["self"], host=shop.host,
        headers={**order_access(order), "If-None-Match": etag},
    )  # fmt: skip
    assert moved.status_code == 200
    assert moved.json()["ready_by"] == accepted["data"]["ready_by"]
    assert moved.json()["status"] == "accepted" and moved.json()["version"] == 2
    cancel = shop.client.post(
        order["links"]["cancel"], host=shop.host, headers=order_access(order), json={}
    )
    body = problem(cancel, 409)
    assert body["status_now"] == "accepted"


def test_pause_mid_rush_refuses_new_carts_and_every_display_hears_it(
    shop: Shop, live_clients: Clients
) -> None:
    bar = live_clients(kitchen_url(shop, station="bar"))
    before = shop.place(shop.order_body(shop.cola_line()))
    bar.events(1)
    paused = shop.client.put(
        "/api/v1/kitchen/pause", host=shop.host, headers=shop.staff(),
        json={"minutes": 30, "note": "Kitchen full"},
    )  # fmt: skip
    assert paused.status_code == 200, paused.text
    refused = problem(shop.post_order(key=str(uuid.uuid4())), 422)
    assert "not taking orders until" in refused["detail"] and "(Kitchen full)" in refused["detail"]
    config = shop.client.get("/api/v1/store/config", host=shop.host).json()
    assert config["open_now"] is False and config["paused"]["note"] == "Kitchen full"
    # Orders already placed carry on.
    assert shop.transition(before, "accepted", 1).status_code == 200
    resumed = shop.client.delete("/api/v1/kitchen/pause", host=shop.host, headers=shop.staff())
    assert resumed.status_code == 204
    assert shop.post_order(key=str(uuid.uuid4())).status_code == 201
    got = [e["type"] for e in bar.events(3)]
    assert got == ["store.paused", "order.accepted", "store.resumed"]


def test_a_reliable_display_after_a_hub_restart_is_told_to_start_over_and_catches_up(
    shop: Shop, webpubsub_hub: HubServer
) -> None:
    """The hub restarts (its state is gone): a reliable display coming back with its connection
    id must be told the connection cannot be recovered (1008), not be welcomed into a
    connection that lost its messages; a new negotiate and `events?after=` give every event."""
    url = kitchen_url(shop)
    with connect(url, subprotocols=[RELIABLE], open_timeout=5, proxy=None) as ws:
        hello = json.loads(ws.recv(timeout=5))
        order = shop.place()
        first = json.loads(ws.recv(timeout=5))["data"]
    webpubsub_hub.stop()
    try:
        assert shop.transition(order, "accepted", 1).status_code == 200
        second = shop.place()
        settle()
    finally:
        webpubsub_hub.start()
    parts = urlsplit(url)
    back = (
        f"{parts.scheme}://{parts.netloc}{parts.path}?awps_connection_id={hello['connectionId']}"
        f"&awps_reconnection_token={hello['reconnectionToken']}"
    )
    with (
        connect(back, subprotocols=[RELIABLE], open_timeout=5, proxy=None) as resumed,
        pytest.raises(ConnectionClosed) as closed,
    ):
        while True:
            frame = json.loads(resumed.recv(timeout=5))
            assert frame.get("type") != "message", frame
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    missed = catch_up(shop, first["seq"])
    assert [(e["type"], e["order_id"]) for e in missed] == [
        ("order.accepted", order["id"]),
        ("order.placed", second["id"]),
    ]
