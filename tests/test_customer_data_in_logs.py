"""A pickup customer's name, phone number and note, followed through the app:
the log lines written along an order's life (happy or not), what the displays and the customer's
page receive live, and the answer kept for an Idempotency-Key replay.

README, "Data kept and for how long": Log Analytics keeps our log lines and spans 30 days, and
"they hold no name, phone, address or order token"; phones never go in events."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

import pytest

from tests.conftest import add_refusal, drop_refusal, execute
from tests.order_fixtures import (  # noqa: F401
    LiveClient,
    Shop,
    live_clients_fixture,
    order_access,
    settle,
    shop_fixture,
)

pytestmark = pytest.mark.usefixtures("webpubsub_hub")
Clients = Callable[[str], LiveClient]


def _customer() -> tuple[str, str, str]:
    """A name, phone number and line note found nowhere else in the database or the logs."""
    marker = uuid.uuid4().hex[:8]
    digits = str(int(marker, 16) % 10**6).zfill(6)
    return f"Ada {marker}", f"+44 20 79{digits}", f"ring twice {marker}"


def _pickup(shop: Shop, name: str, phone: str, note: str) -> dict:
    body = shop.order_body({**shop.pizza_line("Ham"), "note": note})
    body["fulfilment"] = {"type": "pickup", "name": name, "phone": phone}
    return body


def _url(shop: Shop, path: str, headers: dict, **params: str) -> str:
    response = shop.client.get(path, host=shop.host, headers=headers, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()["url"]


def _log_lines_holding(caplog: pytest.LogCaptureFixture, *needles: str) -> list[str]:
    """Every captured record holding a needle, as a log handler writes it: its message, its
    exception text (the JSON lines' `exception` field, App Insights' exception record) and its
    extra fields."""
    found = []
    for record in caplog.records:
        text = " ".join([caplog.handler.format(record), str(record.__dict__)])
        hits = [needle for needle in needles if needle in text]
        if hits:
            found.append(f"{record.name} {record.getMessage()!r} holds {hits}")
    return found


@pytest.fixture(name="logs")
def logs_fixture(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="stelly")
    return caplog


def test_an_orders_whole_life_logs_no_name_phone_or_note_and_sends_no_phone_live(
    shop: Shop, live_clients: Clients, logs: pytest.LogCaptureFixture
) -> None:
    """Pin (logs, live events, idempotency, customer cancel): a pickup placed with an
    Idempotency-Key and replayed, followed live by the kitchen, a station display and the
    customer's page, moved to completed, read by the kitchen, the manager and the customer, and
    a second one cancelled by its customer: no log line carries the name, phone or note; no
    message a display or the customer's page receives carries the phone; the answer stored for
    the replay holds neither name nor phone."""
    name, phone, note = _customer()
    kitchen = live_clients(_url(shop, "/api/v1/kitchen/negotiate", shop.staff()))
    station = live_clients(_url(shop, "/api/v1/kitchen/negotiate", shop.staff(), station="oven"))
    body = _pickup(shop, name, phone, note)
    key = f"privacy-{uuid.uuid4()}"
    placed = shop.post_order(body, key=key)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    settle()
    customer = live_clients(_url(shop, order["links"]["negotiate"], order_access(order)))
    replay = shop.post_order(body, key=key)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    shop.walk_to(order, "completed")
    second = shop.place(body)
    cancelled = shop.client.post(
        f"{second['links']['cancel']}", host=shop.host, headers=order_access(second),
        json={"reason": "Wrong shop"},
    )  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    settle()
    reads = [
        shop.customer_view(order),
        shop.client.get(f"/api/v1/kitchen/orders/{order['id']}", host=shop.host,
                        headers=shop.staff()),
        shop.client.get(f"/api/v1/admin/orders/{order['id']}", host=shop.host,
                        headers=shop.owner()),
        shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()),
        shop.client.get("/api/v1/kitchen/events", host=shop.host, headers=shop.staff(),
                        params={"after": "0"}),
    ]  # fmt: skip
    assert all(read.status_code == 200 for read in reads), [r.text for r in reads]
    # Not vacuous: the staff's ticket shows the phone, every display heard of both orders.
    assert reads[1].json()["fulfilment"]["phone"] == phone
    live = kitchen.events(7) + station.events(7) + customer.events(4)
    assert {event["order_id"] for event in live} == {order["id"], second["id"]}

    assert [e for e in live if phone in json.dumps(e)] == []
    assert phone not in reads[4].text
    assert _log_lines_holding(logs, name, phone, note) == []
    [stored] = execute(
        f"select response_body::text as body from {shop.schema}.idempotency_keys where key = %s",
        [key],
    )
    assert name not in stored["body"] and phone not in stored["body"], stored["body"]


def test_an_order_the_database_refuses_logs_no_customer_name_or_phone(
    shop: Shop, logs: pytest.LogCaptureFixture
) -> None:
    """A restaurant whose schema is ahead of the code (README, Migrations: "the code was rolled
    back, the schema stays ahead"; here a later release's required `orders` column) answers
    every order with a 500 quoting a correlation id. The operator then reads the log lines of
    those 500s: they say what failed, with its traceback, never who ordered (README: log lines
    "hold no name, phone, address or order token"), though Postgres's text of the error quotes
    the refused row."""
    execute(f"alter table {shop.schema}.orders add column loyalty_id text not null default ''")
    execute(f"alter table {shop.schema}.orders alter column loyalty_id drop default")
    name, phone, note = _customer()
    refused = shop.post_order(_pickup(shop, name, phone, note))
    assert refused.status_code == 500, refused.text
    [told] = [r.exc_text for r in logs.records if r.name == "stelly.http" and r.exc_text]
    assert told.startswith("Traceback") and "NotNullViolation [23502]" in told
    assert 'null value in column "loyalty_id"' in told  # what failed, for the on-call engineer
    assert _log_lines_holding(logs, name, phone, note) == []


def test_an_event_the_database_refuses_to_sequence_logs_no_customer_name_or_note(
    shop: Shop, logs: pytest.LogCaptureFixture
) -> None:
    """The outbox publisher failing on the database (here a write to the outbox refused, as
    tests/conftest.add_refusal stands in for) logs that the restaurant's dispatch failed and
    retries; the line names the restaurant, not the customer, though Postgres's text of the
    error quotes the outbox row's values (the order.placed data's start, where the first
    line's note sits: what a customer writes, "ring twice, flat 3")."""
    add_refusal(shop.schema, "outbox", "type <> 'order.placed' or seq is null")
    try:
        name, phone, note = _customer()
        assert shop.post_order(_pickup(shop, name, phone, note)).status_code == 201
        settle()
        assert any(r.name == "stelly.events" and r.exc_text for r in logs.records)
        leaked = _log_lines_holding(logs, name, phone, note)
    finally:
        drop_refusal(shop.schema, "outbox")
    assert leaked == []
