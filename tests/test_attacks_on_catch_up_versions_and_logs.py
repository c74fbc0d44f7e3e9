"""Probed as an attacker would, through the real app: a station's catch-up (`GET
/kitchen/events?station=`), per-part profile versions, log and span redaction of database
errors (wrapping errors, named arguments, values quoted in primary messages, background
spans), late idempotency releases, and the edges around them."""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest

from shared import log_redaction
from shared.db import transaction
from shared.migrate import MigrationError
from shared.orders import idempotency
from shared.provisioning.requests import ProvisionJob
from shared.provisioning.steps import run_step
from tests.conftest import execute
from tests.order_fixtures import (  # noqa: F401
    Shop,
    open_shop,
    order_access,
    settle,
    shop_fixture,
)
from tests.test_customer_data_in_logs import (  # noqa: F401 (the fixture)
    _refused_row,
    _written,
    log_wrapped,
    redacted_logs_fixture,
)
from tests.test_observability import captured  # noqa: F401 (module-scoped SDK providers)
from tests.test_provisioning_steps import job_fixture  # noqa: F401 (fixture)
from tests.test_telemetry import Captured

pytestmark = pytest.mark.usefixtures("webpubsub_hub")
EVENTS = "/api/v1/kitchen/events"


def _events(shop: Shop, headers: dict | None = None, **params: str):
    return shop.client.get(
        EVENTS, host=shop.host, headers=headers or shop.staff(), params=params or None
    )


# --- GET /kitchen/events?station= ------------------------------------------------------------


def test_a_misspelt_station_catching_up_is_a_422_not_a_silent_jump_to_the_newest_seq(
    shop: Shop,
) -> None:
    """README (Orders and the kitchen): `?station=` takes any station of the restaurant's menu
    or open tickets, "any other answers 422 naming the known ones". The catch-up takes the same
    parameter: a display set up with `station=bra` must learn it at once, not be handed
    `next_after` = the newest seq with no events, silently skipping every bar ticket for good."""
    start = shop.last_seq()
    shop.place(shop.order_body(shop.cola_line()))
    settle()
    typo = _events(shop, after=str(start), station="bra")
    assert typo.status_code == 422, typo.text
    assert "bar" in typo.text and "oven" in typo.text


def test_another_restaurants_kitchen_token_reads_no_events_of_this_one_by_station(
    shop: Shop, client, tenants, auth_header
) -> None:
    """Pins: a kitchen token is for its own restaurant only, the station catch-up included (the
    station's group name is built from the host's restaurant, never from the token or query)."""
    other = open_shop(client, tenants, auth_header)
    shop.place(shop.order_body(shop.cola_line()))
    settle()
    for params in ({"after": "0"}, {"after": "0", "station": "bar"}):
        foreign = _events(shop, headers=other.staff(), **params)
        assert foreign.status_code == 403, (params, foreign.text)
        assert "Ada" not in foreign.text
    # The other restaurant's own catch-up for "bar" holds none of this one's orders.
    own = _events(other, after="0", station="bar")
    assert own.status_code == 200, own.text
    assert [e for e in own.json()["events"] if e["order_id"] is not None] == []


@pytest.mark.parametrize(
    "pairs",
    [
        [("after", "0"), ("station", "BAR")],
        [("after", "0"), ("station", "bar%")],
        [("after", "0"), ("station", "bar' or 1=1--")],
        [("after", "0"), ("station", "x" * 33)],
        [("after", "-1"), ("station", "bar")],
        [("after", "1.5")],
        [("after", "0"), ("limit", "501")],
        [("after", "0"), ("station", "bar"), ("stations", "oven")],
        [("after", "0"), ("station", "bar"), ("station", "oven")],
        [("after", "0"), ("after", "99999999999999999999")],
        [("after", "0"), ("station", "bar"), ("limit", "1"), ("limit", "100000")],
    ],
)
def test_odd_or_repeated_catch_up_parameters_are_a_small_422_or_a_bounded_page(
    shop: Shop, pairs: list
) -> None:
    """Pins for the station catch-up: a station of the wrong shape, an `after` or `limit` out
    of range, a misspelt key, or a parameter sent twice (a proxy appending its own) is a 422
    that quotes little, or a normal page of at most 500 events; never a 500."""
    shop.place(shop.order_body(shop.cola_line(), shop.pizza_line()))
    settle()
    answer = shop.client.get(EVENTS, host=shop.host, headers=shop.staff(), params=pairs)
    repeated = len({name for name, _ in pairs}) < len(pairs)
    assert answer.status_code in ((200, 422) if repeated else (422,)), (pairs, answer.text)
    if answer.status_code == 422:
        assert len(answer.body) < 4096, (pairs, len(answer.body))
    else:
        assert len(answer.json()["events"]) <= 500


def test_a_station_catch_up_410s_when_another_stations_event_in_its_span_was_purged(
    shop: Shop,
) -> None:
    """Pins the 410 rule for a station: an oven event (not the bar's) purged between the bar's
    seq and the newest makes the bar's catch-up 410, since it cannot tell the purged event was
    not its own; and a later bar event after the purged span still arrives."""
    start = shop.last_seq()
    shop.place(shop.order_body(shop.pizza_line()))
    cola = shop.place(shop.order_body(shop.cola_line()))
    settle()
    execute(f"delete from {shop.schema}.outbox where seq = %s", [start + 1])
    gone = _events(shop, after=str(start), station="bar")
    assert gone.status_code == 410, gone.text
    later = _events(shop, after=str(start + 1), station="bar")
    assert later.status_code == 200, later.text
    assert [e["order_id"] for e in later.json()["events"]] == [cola["id"]]


def test_a_catch_up_with_after_at_the_newest_seq_is_not_410_after_a_purge_before_it(
    shop: Shop,
) -> None:
    """Pins: the purge of events at or before the display's seq is none of its business: a
    display at the newest seq is told nothing new (200), with or without a station."""
    start = shop.last_seq()
    shop.place(shop.order_body(shop.cola_line()))
    settle()
    execute(f"delete from {shop.schema}.outbox where seq <= %s", [start + 1])
    for params in ({}, {"station": "bar"}):
        page = _events(shop, after=str(start + 1), **params)
        assert page.status_code == 200, (params, page.text)
        assert page.json() == {"events": [], "next_after": start + 1, "has_more": False}


# --- Per-part profile versions -------------------------------------------------------------


def _owner_put(shop: Shop, path: str, body: dict, **headers: str):
    return shop.client.put(
        f"/api/v1/admin/{path}", host=shop.host, headers={**shop.owner(), **headers}, json=body
    )


def _get(shop: Shop, path: str):
    got = shop.client.get(f"/api/v1/admin/{path}", host=shop.host, headers=shop.owner())
    assert got.status_code == 200, got.text
    return got


def test_per_part_versions_let_no_stale_or_future_version_through(shop: Shop) -> None:
    """Pins (README, settings and theme): a save is stale when its own part changed after the
    version the writer read. With the per-part rule: a stale If-Match still wins over a
    current expected_version in the body (412); `*` defers to a stale body version (409); a
    guessed future version is no version anyone read, for settings and theme alike (409)."""
    read = _get(shop, "settings")
    theme = _get(shop, "theme")
    version = int(read.headers["etag"].strip('"'))
    changed = {**read.json(), "business_name": "One"}
    assert _owner_put(shop, "settings", changed).status_code == 200  # now version + 1
    body = {**read.json(), "business_name": "Two", "expected_version": version + 1}
    stale = _owner_put(shop, "settings", body, **{"If-Match": f'"{version}"'})
    assert stale.status_code == 412, stale.text
    body = {**read.json(), "business_name": "Two", "expected_version": version}
    star = _owner_put(shop, "settings", body, **{"If-Match": "*"})
    assert star.status_code == 409, star.text
    for path, part in (("settings", read), ("theme", theme)):
        ahead = _owner_put(shop, path, {**part.json(), "expected_version": version + 2})
        assert ahead.status_code == 409, (path, ahead.text)
    assert _get(shop, "settings").json()["business_name"] == "One"


def test_a_huge_expected_version_is_refused_without_echoing_it_whole(shop: Shop) -> None:
    """README: a refusal stays small whatever was sent. A 4,000-digit expected_version (the
    JSON integer Python still parses) must not come back whole in the 409's detail; If-Match
    takes at most 9 digits, and tests/test_refusal_size.py holds refusals under 4 KiB."""
    read = _get(shop, "settings")
    huge = "9" * 4000
    raw = read.text[:-1] + f', "expected_version": {huge}}}'
    answer = shop.client.put(
        "/api/v1/admin/settings",
        host=shop.host,
        headers={**shop.owner(), "Content-Type": "application/json"},
        body=raw.encode(),
    )
    assert answer.status_code in (409, 422), answer.text[:300]
    assert len(answer.body) < 4096, len(answer.body)


# --- Log redaction ---------------------------------------------------------------------------


def test_a_wrapping_error_that_quotes_the_database_error_logs_none_of_its_row(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """shared/migrate.py wraps a database error as MigrationError(f"... failed: {error}"): its
    own message carries Postgres's DETAIL (a fleet migration adding a unique index over
    customers' rows quotes the duplicated key). Logged with logger.exception, or as an
    argument, that copy is told by type, SQLSTATE and primary message too."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _refused_row(secret)
    log_wrapped(refused, lambda e: MigrationError(f"t_x: tenant/0099_x.sql failed: {e}"))
    assert secret not in _written(redacted_logs)


def test_a_database_error_passed_as_a_named_argument_logs_none_of_its_row(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """`logger.warning("... %(error)s", {"error": error})` is the other way logging takes
    arguments: the redaction that catches `%s` misses it."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _refused_row(secret)
    logging.getLogger("stelly.review").warning("could not save: %(error)s", {"error": refused})
    assert secret not in _written(redacted_logs)


def test_a_database_error_whose_primary_message_quotes_the_value_logs_none_of_it(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """shared/log_redaction.py keeps the primary message because it "names the constraint or
    column, never values": Postgres's primary message of a refused cast quotes the value
    (`invalid input syntax for type integer: "<value>"`), so that text reaches the log line."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    with (
        pytest.raises(psycopg.errors.InvalidTextRepresentation) as raised,
        transaction() as conn,
    ):
        conn.execute("select %s::text::integer", [secret])
    refused = raised.value
    logging.getLogger("stelly.review").warning("could not read: %s", refused)
    assert secret not in _written(redacted_logs)
    assert secret not in log_redaction.error_text(refused)


def test_a_provisioning_steps_span_holds_none_of_the_row_the_database_refused(
    captured: Captured,  # noqa: F811
    job: ProvisionJob,
) -> None:
    """README (Data kept): "every log record and span of the app tells a database error by its
    type, SQLSTATE and primary message". The `provision <step>` span (and `outbox publish`,
    `provision undo`) is opened by telemetry.span_from_traceparent with OpenTelemetry's default
    record_exception: a database error raised in the step is recorded with Postgres's text,
    here the restaurant row the seed step wrote, owner's e-mail included."""
    for step in ("reserve", "create_schema", "migrate"):
        assert run_step(step, job, "review-op")["ok"], step
    execute(
        "alter table public.tenants add constraint review_refusal "
        f"check (slug <> '{job.slug}' or settings = '{{}}'::jsonb)"
    )
    try:
        with pytest.raises(psycopg.errors.CheckViolation):
            run_step("seed", job, "review-op")
    finally:
        execute("alter table public.tenants drop constraint review_refusal")
    [span] = [s for s in captured.spans.get_finished_spans() if s.name == "provision seed"]
    recorded = repr([dict(event.attributes or {}) for event in span.events])
    assert "review_refusal" in recorded  # the step's span did record the error
    assert job.request.owner_email not in recorded, recorded[:400]


# --- The receipt's links, hosts, If-Match ---------------------------------------------------


def test_a_replayed_receipt_links_the_cancel_which_opens_only_on_its_restaurant(
    shop: Shop, client, tenants, auth_header
) -> None:
    """Pins README: a replay derives the token and the links again (cancel included); the
    cancel link with its token on another restaurant's host cancels nothing (404)."""
    key = str(uuid.uuid4())
    first = shop.post_order(key=key)
    assert first.status_code == 201, first.text
    replay = shop.post_order(key=key)
    assert replay.status_code == 201, replay.text
    receipt = replay.json()
    assert receipt["links"] == first.json()["links"]
    assert receipt["access_token"] == first.json()["access_token"]
    other = open_shop(client, tenants, auth_header)
    foreign = other.client.post(
        receipt["links"]["cancel"], host=other.host, headers=order_access(receipt), json={}
    )
    assert foreign.status_code == 404, foreign.text
    cancelled = shop.client.post(
        receipt["links"]["cancel"], host=shop.host, headers=order_access(receipt), json={}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


def test_a_suspended_restaurants_books_open_to_its_own_managers_only(
    shop: Shop, client, tenants, auth_header
) -> None:
    """Pins: `while_suspended` on the books lets the restaurant's own owner and manager by,
    nobody else: another restaurant's manager, a platform admin and the customer's order token
    are refused, and another restaurant's order id is a 404 on these books."""
    mine = shop.place()
    other = open_shop(client, tenants, auth_header)
    theirs = other.place()
    admin = shop.auth("platform_admin", subject="ops-ada")
    suspended = shop.client.put(
        f"/api/v1/platform/tenants/{shop.slug}/suspension",
        host="stelly.test", headers=admin, json={"reason": "review"},
    )  # fmt: skip
    assert suspended.status_code == 200, suspended.text
    books = "/api/v1/admin/orders"
    for headers in (other.auth("manager", tenant=other.slug), admin, order_access(mine)):
        for path in (books, f"{books}/{mine['id']}"):
            refused = shop.client.get(path, host=shop.host, headers=headers)
            assert refused.status_code in (401, 403), (path, refused.text)
            assert "Ada" not in refused.text
    manager = shop.auth("manager", tenant=shop.slug)
    foreign = shop.client.get(f"{books}/{theirs['id']}", host=shop.host, headers=manager)
    assert foreign.status_code == 404, foreign.text
    odd = shop.client.get(books, host=shop.host, headers=manager, params={"cursor": "-1 or 1"})
    assert odd.status_code == 422, odd.text


# --- Late idempotency releases -------------------------------------------------------------


def test_a_late_release_never_deletes_a_completed_orders_answer(shop: Shop) -> None:
    """Pins: a release retried in the background after its request's order completed (the
    answer stored, the claim cleared) removes nothing, so the customer's retry gets the same
    order back, not a second one; nor does it touch a claim of another token."""
    key = str(uuid.uuid4())
    first = shop.post_order(key=key)
    assert first.status_code == 201, first.text
    for token in (uuid.uuid4(),):
        idempotency.release_key(shop.schema, idempotency.Claim(key, token))
    [row] = execute(
        f"select response_status, claim from {shop.schema}.idempotency_keys where key = %s", [key]
    )
    assert (row["response_status"], row["claim"]) == (201, None)
    again = shop.post_order(key=key)
    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])
    [count] = execute(f"select count(*) as n from {shop.schema}.orders")
    assert count["n"] == 1
