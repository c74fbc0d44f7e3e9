"""A pickup customer's name, phone number and note, followed through the app:
the log lines written along an order's life (happy or not), what the displays and the customer's
page receive live, and the answer kept for an Idempotency-Key replay.

README, "Data kept and for how long": Log Analytics keeps our log lines and spans 30 days, and
"they hold no name, phone, address or order token"; phones never go in events."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from opentelemetry.trace import SpanKind

from shared import log_redaction, telemetry
from shared.db import transaction
from tests.conftest import add_refusal, drop_refusal, execute
from tests.order_fixtures import (  # noqa: F401
    Clients,
    LiveClient,
    Shop,
    live_clients_fixture,
    order_access,
    settle,
    shop_fixture,
)
from tests.test_observability import captured  # noqa: F401 (module-scoped SDK providers)
from tests.test_telemetry import Captured

pytestmark = pytest.mark.usefixtures("webpubsub_hub")


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


def _refused_row(secret: str) -> psycopg.Error:
    """A real database error whose text quotes the refused row (DETAIL: Failing row contains)."""
    try:
        with transaction() as conn:
            conn.execute(f"create temp table guest (name text check (name <> '{secret}'))")
            conn.execute("insert into guest values (%s)", [secret])
    except psycopg.Error as error:
        assert secret in str(error)  # what Postgres tells
        return error
    raise AssertionError("the row was not refused")


@pytest.fixture(name="redacted_logs")
def redacted_logs_fixture(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    log_redaction.install()  # as function_app does on import; idempotent
    caplog.set_level(logging.DEBUG, logger="stelly")
    yield caplog


def _written(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(caplog.handler.format(record) for record in caplog.records)


def log_wrapped(error: psycopg.Error, wrap: Callable[[psycopg.Error], Exception]) -> Exception:
    """Raise error, wrap it (`raise wrap(error) from error`) and log the wrapper as code does:
    with its traceback, and as a `%s` argument. The wrapper, for more checks."""
    log = logging.getLogger("stelly.test")
    try:
        try:
            raise error
        except psycopg.Error as caught:
            raise wrap(caught) from caught
    except Exception as wrapped:
        log.exception("wrapped failure")
        log.warning("wrapped failure: %s", wrapped)
        return wrapped


def test_an_error_raised_while_handling_a_database_error_logs_none_of_its_row(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """Code that fails while handling a database error (a clean-up, a wrapping error) logs a
    traceback that prints the database error as its context: that one is told by type and
    SQLSTATE too, oldest first as Python prints a chain, with the frames the on-call engineer
    reads."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _refused_row(secret)
    try:
        try:
            raise refused
        except psycopg.Error:
            raise RuntimeError("cleanup failed")  # noqa: B904 (an implicit context)
    except RuntimeError:
        logging.getLogger("stelly.review").exception("handling failed")
    written = _written(redacted_logs)
    assert "CheckViolation [23514]" in written and "RuntimeError: cleanup failed" in written
    assert secret not in written
    assert written.index("CheckViolation") < written.index("RuntimeError: cleanup failed")
    assert "in test_an_error_raised_while_handling_a_database_error_logs_none_of_its_row" in written


def test_a_database_error_passed_as_an_argument_logs_none_of_its_row(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """A database error logged as a `%s` argument (`logger.warning("... %s", error)`) is
    written by its type, SQLSTATE and primary message, not Postgres's text quoting the row."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _refused_row(secret)
    logging.getLogger("stelly.review").warning("could not save %s: %s", "guest", refused)
    [record] = [r for r in redacted_logs.records if r.name == "stelly.review"]
    message = record.getMessage()
    assert message.startswith("could not save guest: CheckViolation [23514]: "), message
    assert secret not in _written(redacted_logs)


def test_the_span_of_a_500_from_the_database_holds_none_of_the_refused_row(
    captured: Captured,  # noqa: F811
    shop: Shop,
) -> None:
    """Our spans "hold no name, phone, address or order token" either: the span of a 500 from a
    database error records the exception by type, SQLSTATE and primary message (message and
    stacktrace both). Here the schema is ahead of the code (a later release's required
    `orders` column)."""
    execute(f"alter table {shop.schema}.orders add column loyalty_id text not null default ''")
    execute(f"alter table {shop.schema}.orders alter column loyalty_id drop default")
    marker = uuid.uuid4().hex[:8]
    name, phone = f"Ada {marker}", f"+44 20 79{int(marker, 16) % 10**6:06d}"
    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": name, "phone": phone}
    refused = shop.post_order(body)
    assert refused.status_code == 500, refused.text
    span = captured.server_span(refused.headers["x-correlation-id"])
    assert span.kind == SpanKind.SERVER and span.attributes[telemetry.TENANT] == shop.slug
    [exception] = [event.attributes for event in span.events if event.name == "exception"]
    assert exception["exception.message"].startswith("NotNullViolation [23502]: ")
    assert "NotNullViolation [23502]" in exception["exception.stacktrace"]
    recorded = repr(dict(exception))
    assert name not in recorded and phone not in recorded, recorded
