"""The contract a kitchen display and a customer's tracking page are written to (README,
"Orders and the kitchen"), held with real WebSocket clients against devhost's hub: starting up
across pages mid-service, losing the network, a station's own catch-up, the customer's feed."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import execute
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
from tests.storefront_helpers import ok
from tests.test_orders_realtime import customer_url, kitchen_url

pytestmark = pytest.mark.usefixtures("webpubsub_hub")
TICKETS = "/api/v1/kitchen/orders"
EVENTS = "/api/v1/kitchen/events"


def catch_up(shop: Shop, after: int, **params: str) -> list[dict]:
    """Every event after `after`, paging as README says (small pages to cross several)."""
    events: list[dict] = []
    while True:
        response = shop.client.get(
            EVENTS, host=shop.host, headers=shop.staff(),
            params={"after": str(after), "limit": "3", **params},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            return events


def tickets_page(shop: Shop, **params: str) -> dict:
    response = shop.client.get(TICKETS, host=shop.host, headers=shop.staff(), params=params)
    assert response.status_code == 200, response.text
    return response.json()


class Display:
    """The README's display: tickets by id, the highest seq applied, ids seen."""

    def __init__(self) -> None:
        self.tickets: dict[str, tuple[str, int, str | None]] = {}
        self.applied: list[int] = []
        self.ids: set[str] = set()
        self.last_seq = 0

    def load(self, tickets: list[dict]) -> None:
        for t in tickets:
            self.tickets[t["id"]] = (t["status"], t["version"], t["ready_by"])

    def apply(self, event: dict) -> None:
        if event["id"] in self.ids:
            return
        self.ids.add(event["id"])
        self.applied.append(event["seq"])
        self.last_seq = max(self.last_seq, event["seq"])
        if event["order_id"] is None:
            return
        data = event["data"]
        known = self.tickets.get(event["order_id"])
        if known is None and event["type"] != "order.placed":
            return  # a ticket that left the open list before we loaded it
        if known is None or data["version"] > known[1]:
            self.tickets[event["order_id"]] = (
                data["status"], data["version"], data.get("ready_by"),
            )  # fmt: skip

    def open_tickets(self) -> dict[str, tuple[str, int, str | None]]:
        finished = ("completed", "cancelled")
        return {k: v for k, v in self.tickets.items() if v[0] not in finished}


def as_seen(shop: Shop) -> dict[str, tuple[str, int, str | None]]:
    """The open tickets as the list reads now (every page)."""
    found: dict[str, tuple[str, int, str | None]] = {}
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = tickets_page(shop, **params)
        for t in page["orders"]:
            assert t["id"] not in found, "a ticket repeated across pages"
            found[t["id"]] = (t["status"], t["version"], t["ready_by"])
        if not page["truncated"]:
            return found
        params["cursor"] = page["next_cursor"]


def test_a_display_starting_mid_service_across_pages_ends_on_every_ticket_once(
    shop: Shop, live_clients: Clients
) -> None:
    """A display starting up while the kitchen works pages its tickets, connects, then catches
    up from the first page's as_of_seq and applies live events by version: it ends with every
    open ticket as the list reads afterwards, each event applied once and no seq skipped.
    (Pins README's startup recipe across keyset pages, the live feed and catch-up together.)"""
    orders = [shop.place() for _ in range(5)]
    assert shop.transition(orders[0], "accepted", 1, ready_in_minutes=10).status_code == 200
    settle()
    display = Display()
    first = tickets_page(shop, limit="2")
    follow_from = first["as_of_seq"]
    display.load(first["orders"])
    # Between two page reads: a ticket of the next page moves, one of this page moves, a new
    # order arrives, and the customer of another cancels.
    assert shop.transition(orders[3], "accepted", 1).status_code == 200
    assert shop.transition(orders[0], "preparing", 2).status_code == 200
    newcomer = shop.place()
    cancel = shop.client.post(
        orders[4]["links"]["cancel"], host=shop.host, headers=order_access(orders[4]), json={}
    )
    assert cancel.status_code == 200, cancel.text
    cursor, pages = first["next_cursor"], 1
    while cursor:
        page = tickets_page(shop, limit="2", cursor=cursor)
        display.load(page["orders"])
        cursor, pages = page["next_cursor"], pages + 1
        if pages == 2:
            # Between the next two reads the kitchen runs late on the first ticket.
            late = shop.client.put(
                f"/api/v1/kitchen/orders/{orders[0]['id']}/ready-by", host=shop.host,
                headers=shop.staff(), json={"ready_in_minutes": 30, "expected_version": 3},
            )  # fmt: skip
            assert late.status_code == 200, late.text
    assert pages == 3
    # Before the socket connects, more happens; after it connects, more still.
    assert shop.transition(newcomer, "accepted", 1).status_code == 200
    live = live_clients(kitchen_url(shop))
    assert shop.transition(orders[1], "accepted", 1).status_code == 200
    another = shop.place()
    for event in catch_up(shop, follow_from):
        display.apply(event)
    for event in live.events(2):
        display.apply(event)
    settle()
    for event in live.nothing_more():
        display.apply(event)
    assert display.open_tickets() == as_seen(shop)
    assert another["id"] in display.tickets
    assert sorted(display.applied) == list(range(follow_from + 1, shop.last_seq() + 1))


def _receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def test_a_reliable_display_that_loses_its_network_gets_every_event_once_on_recovery(
    shop: Shop,
) -> None:
    """A display on `json.reliable.webpubsub.azure.v1` (negotiated URL) acks what it applied,
    loses its network mid-service, and comes back with its connection id and reconnection
    token as the notes describe: the unacked and missed events arrive, each once by
    sequenceId, in seq order, and together they are what `events?after=` serves.
    (Pins the app's events through the reliable protocol's recovery.)"""
    start = shop.last_seq()
    url = kitchen_url(shop)
    got: list[dict] = []
    last_sequence_id = 0

    def take(frame: dict[str, Any]) -> None:
        # A reliable client drops replays it already has, by sequence id.
        nonlocal last_sequence_id
        if frame.get("type") != "message" or frame["sequenceId"] <= last_sequence_id:
            return
        assert frame["sequenceId"] == last_sequence_id + 1, "a message was skipped"
        last_sequence_id = frame["sequenceId"]
        got.append(frame["data"])

    with connect(url, subprotocols=[RELIABLE], open_timeout=5, proxy=None) as ws:
        hello = _receive(ws)
        assert hello["event"] == "connected" and hello["reconnectionToken"]
        order = shop.place()
        take(_receive(ws))
        assert shop.transition(order, "accepted", 1).status_code == 200
        take(_receive(ws))
        ws.send(json.dumps({"type": "sequenceAck", "sequenceId": 1}))
        ws.send(json.dumps({"type": "ping"}))  # its pong: the ack was taken
        while (frame := _receive(ws))["type"] != "pong":
            take(frame)
        ws.socket.shutdown(socket.SHUT_RDWR)  # the tablet's Wi-Fi drops
    # Service goes on while it is away.
    assert shop.transition(order, "preparing", 2).status_code == 200
    second = shop.place()
    assert shop.transition(order, "ready", 3).status_code == 200
    settle()
    parts = urlsplit(url)
    back = (
        f"{parts.scheme}://{parts.netloc}{parts.path}?awps_connection_id={hello['connectionId']}"
        f"&awps_reconnection_token={hello['reconnectionToken']}"
    )
    with connect(back, subprotocols=[RELIABLE], open_timeout=5, proxy=None) as resumed:
        again = _receive(resumed)
        assert again["event"] == "connected"
        assert again["connectionId"] == hello["connectionId"]
        while len(got) < 5:
            take(_receive(resumed))
        assert shop.transition(second, "accepted", 1).status_code == 200
        while len(got) < 6:
            take(_receive(resumed))
    assert [e["seq"] for e in got] == list(range(start + 1, start + 7))
    assert got == catch_up(shop, start)


def test_a_station_display_catches_up_on_its_own_stations_tickets(
    shop: Shop, live_clients: Clients
) -> None:
    """The bar's display (negotiated with ?station=bar) drops, the oven gets two pizza orders
    and the bar a cola, and it comes back: catching up as README says (`events?after=<last seq
    seen>`) must give what its own feed would have, the cola, not pizza tickets for the bar.
    Its feed skips seqs of other stations, so by README's "on seeing a jump" rule it catches up
    after nearly every oven event."""
    bar = live_clients(kitchen_url(shop, station="bar"))
    shop.place(shop.order_body(shop.cola_line()))
    (seen,) = bar.events(1)
    bar.close()
    shop.place(shop.order_body(shop.pizza_line()))
    cola = shop.place(shop.order_body(shop.cola_line()))
    shop.place(shop.order_body(shop.pizza_line("Ham")))
    settle()
    bar = live_clients(kitchen_url(shop, station="bar"))
    missed = shop.client.get(
        EVENTS, host=shop.host, headers=shop.staff(),
        params={"after": str(seen["seq"]), "station": "bar"},
    )  # fmt: skip
    assert missed.status_code == 200, missed.text
    assert [e["order_id"] for e in missed.json()["events"]] == [cola["id"]]


def test_the_tracking_page_hears_only_its_orders_moves_with_what_it_shows(
    shop: Shop, live_clients: Clients
) -> None:
    """The customer's page (its negotiated URL) gets each move of its own order, running late
    included, each carrying the status, version and ready_by its next GET shows, and nothing
    else: not a pause, not the 86 list, not another customer's order, no phone number and no
    staff member's name. (Pins README's "a customer token joins o.<order id> and nothing else"
    against the kitchen's other news.)"""
    mine = shop.place()
    theirs = shop.place()
    settle()
    page = live_clients(customer_url(shop, mine))
    staff = shop.staff()
    assert shop.client.put(
        "/api/v1/kitchen/pause", host=shop.host, headers=staff,
        json={"minutes": 10, "note": "Kitchen full"},
    ).status_code == 200  # fmt: skip
    assert shop.transition(theirs, "accepted", 1).status_code == 200
    assert shop.transition(mine, "accepted", 1, ready_in_minutes=15).status_code == 200
    eighty_six = shop.client.post(
        "/api/v1/kitchen/availability", host=shop.host, headers=staff,
        json={"items": [{"id": shop.menu.items["Cola"], "available": False}]},
    )  # fmt: skip
    assert eighty_six.status_code == 200, eighty_six.text
    late = shop.client.put(
        f"/api/v1/kitchen/orders/{mine['id']}/ready-by", host=shop.host, headers=staff,
        json={"ready_in_minutes": 25, "expected_version": 2},
    )  # fmt: skip
    assert late.status_code == 200, late.text
    resumed = shop.client.delete("/api/v1/kitchen/pause", host=shop.host, headers=staff)
    assert resumed.status_code == 204
    for version, to in enumerate(("preparing", "ready", "completed"), start=3):
        assert shop.transition(mine, to, version).status_code == 200
    events = page.events(5)
    settle()
    assert page.nothing_more() == []
    assert {e["order_id"] for e in events} == {mine["id"]}
    assert [e["type"] for e in events] == [
        "order.accepted",
        "order.ready_by_changed",
        "order.preparing",
        "order.ready",
        "order.completed",
    ]
    assert [e["data"]["version"] for e in events] == [2, 3, 4, 5, 6]
    assert "+44" not in json.dumps(events) and "staff:" not in json.dumps(events)
    shown = shop.customer_view(mine).json()
    assert (events[-1]["data"]["status"], events[-1]["data"]["version"],
            events[-1]["data"]["ready_by"]) == (shown["status"], shown["version"],
                                                 shown["ready_by"])  # fmt: skip


def test_a_display_in_the_kitchen_and_a_station_group_gets_each_event_once(
    shop: Shop, live_clients: Clients
) -> None:
    """A kitchen display that also joins the oven's group (both are its restaurant's) gets a
    pizza-and-cola order's events once each, as README promises of the filtered broadcast."""
    display = live_clients(kitchen_url(shop))
    assert display.join(f"t.{shop.slug}.station.oven")["success"] is True
    assert display.join(f"t.{shop.slug}.station.bar")["success"] is True
    order = shop.place(shop.order_body(shop.pizza_line(), shop.cola_line()))
    assert shop.transition(order, "accepted", 1).status_code == 200
    events = display.events(2)
    settle()
    assert display.nothing_more() == []
    assert [e["type"] for e in events] == ["order.placed", "order.accepted"]


def _events(shop: Shop, **params: str) -> dict:
    response = shop.client.get(EVENTS, host=shop.host, headers=shop.staff(), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_station_catch_up_runs_next_after_on_to_the_newest_seq(shop: Shop) -> None:
    """Two pizza orders (the oven's) after the bar's last event: the bar catching up gets none
    of them and a next_after at the newest seq, so its next jump starts from there."""
    start = shop.last_seq()
    shop.place(shop.order_body(shop.pizza_line()))
    shop.place(shop.order_body(shop.pizza_line("Ham")))
    settle()
    newest = shop.last_seq()
    assert newest == start + 2
    bar = _events(shop, after=str(start), station="bar")
    assert (bar["events"], bar["next_after"], bar["has_more"]) == ([], newest, False)
    oven = _events(shop, after=str(start), station="oven")
    assert [e["seq"] for e in oven["events"]] == [start + 1, start + 2]


def test_a_page_holding_exactly_the_last_events_has_no_more(shop: Shop) -> None:
    """A page whose limit is exactly the events left says has_more false, so a display stops
    paging there."""
    start = shop.last_seq()
    for _ in range(3):
        shop.place()
    settle()
    page = _events(shop, after=str(start), limit="3")
    assert [e["seq"] for e in page["events"]] == [start + 1, start + 2, start + 3]
    assert (page["has_more"], page["next_after"]) == (False, start + 3)
    shorter = _events(shop, after=str(start), limit="2")
    assert (shorter["has_more"], shorter["next_after"]) == (True, start + 2)


def test_one_purged_event_right_after_the_displays_seq_is_410(shop: Shop) -> None:
    """The retention purge took only the event right after the display's seq: catching up is a
    410 (reload), for the whole kitchen and for a station alike, not a page that skips it."""
    start = shop.last_seq()
    shop.place(shop.order_body(shop.cola_line()))
    shop.place(shop.order_body(shop.cola_line()))
    settle()
    execute(f"delete from {shop.schema}.outbox where seq = %s", [start + 1])
    for params in ({}, {"station": "bar"}):
        gone = shop.client.get(
            EVENTS, host=shop.host, headers=shop.staff(), params={"after": str(start), **params}
        )
        assert gone.status_code == 410, (params, gone.text)
    assert _events(shop, after=str(start + 1))["events"][0]["seq"] == start + 2


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_catch_up_after_the_seq_just_beyond_the_newest_is_410(shop: Shop) -> None:
    """README: asking after a seq beyond the newest, which no display can have seen, is 410.
    One beyond the newest is the likeliest such seq (a database restored from a backup a moment
    old): answered "nothing new, next_after = it", the display would wait there while the next
    event reuses that seq."""
    shop.place(shop.order_body(shop.cola_line(), shop.pizza_line()))
    settle()
    newest = ok(shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff()))[
        "as_of_seq"
    ]
    for params in ({}, {"station": "bar"}):
        at_newest = shop.client.get(
            EVENTS, host=shop.host, headers=shop.staff(), params={"after": str(newest), **params}
        )
        assert at_newest.status_code == 200, (params, at_newest.text)
        beyond = shop.client.get(
            EVENTS, host=shop.host, headers=shop.staff(),
            params={"after": str(newest + 1), **params},
        )  # fmt: skip
        assert beyond.status_code == 410, (params, beyond.text)
        assert "as_of_seq" in beyond.json()["detail"]
