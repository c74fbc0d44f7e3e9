"""Running late (or early): `PUT /api/v1/kitchen/orders/{id}/ready-by` promises a new ready time
for an order still being made, without moving it, and everyone who follows the order sees it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from psycopg import sql

from shared import migrate
from tests.conftest import execute
from tests.order_fixtures import (
    Shop,
    order_access,
    outbox_events,
    promised_between,
    settle,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.storefront_helpers import error_paths, ok


def _revise(shop: Shop, order: dict, body: dict, headers: dict | None = None):
    return shop.client.put(
        f"/api/v1/kitchen/orders/{order['id']}/ready-by",
        host=shop.host,
        headers={**shop.staff(), **(headers or {})},
        json=body,
    )


def _ticket(shop: Shop, order: dict) -> dict:
    url = f"/api/v1/kitchen/orders/{order['id']}"
    return ok(shop.client.get(url, host=shop.host, headers=shop.staff()))


def test_a_kitchen_running_late_moves_the_ready_time_and_everyone_sees_it(shop: Shop) -> None:
    order = shop.place()
    first = ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))["ready_by"]
    before = datetime.now(UTC)
    revised = _revise(shop, order, {"ready_in_minutes": 25, "expected_version": 2})
    after = datetime.now(UTC)
    assert revised.status_code == 200, revised.text
    body = revised.json()
    assert body["ready_by"] in promised_between(before, after, 25) and body["ready_by"] != first
    assert (body["status"], body["version"], revised.headers["ETag"]) == ("accepted", 3, '"3"')

    view = ok(shop.customer_view(order))
    assert (view["status"], view["version"], view["ready_by"]) == ("accepted", 3, body["ready_by"])
    # Not a step of the order: the customer's history lists moves only.
    assert [step["status"] for step in view["history"]] == ["placed", "accepted"]
    ticket = _ticket(shop, order)
    assert (ticket["version"], ticket["ready_by"]) == (3, body["ready_by"])

    changed = outbox_events(shop, order)[-1]
    assert changed["type"] == "order.ready_by_changed"
    assert changed["data"] == {
        "ticket_number": order["ticket_number"],
        "status": "accepted",
        "version": 3,
        "ready_by": body["ready_by"],
        "previous_ready_by": first,
    }
    # To the same groups as every move: the kitchen, its stations, and the customer's page.
    assert changed["groups"] == outbox_events(shop, order)[1]["groups"]
    assert f"o.{order['id']}" in changed["groups"]


def test_an_order_being_prepared_without_a_promise_gets_its_first_one(shop: Shop) -> None:
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    ok(shop.transition(order, "preparing", 2))
    revised = ok(_revise(shop, order, {"ready_in_minutes": 1}, {"If-Match": '"3"'}))
    assert (revised["status"], revised["version"]) == ("preparing", 4)
    assert outbox_events(shop, order)[-1]["data"]["previous_ready_by"] is None
    # The next move keeps it and needs the new version.
    assert shop.transition(order, "ready", 3).status_code == 409
    assert ok(shop.transition(order, "ready", 4))["ready_by"] == revised["ready_by"]


@pytest.mark.parametrize("status", ["placed", "ready", "completed", "cancelled"])
def test_only_an_order_being_made_has_a_ready_time_to_change(shop: Shop, status: str) -> None:
    order = shop.place()
    version = shop.walk_to(order, status)
    refused = _revise(shop, order, {"ready_in_minutes": 10, "expected_version": version})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status_now"] == status
    view = ok(shop.customer_view(order))
    assert (view["version"], view["ready_by"]) == (version, None)
    assert outbox_events(shop, order)[-1]["type"] != "order.ready_by_changed"


def test_a_stale_version_changes_nothing_and_says_where_the_order_is(shop: Shop) -> None:
    order = shop.place()
    promised = ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))["ready_by"]
    stale = _revise(shop, order, {"ready_in_minutes": 30, "expected_version": 1})
    assert stale.status_code == 409, stale.text
    assert (stale.json()["current_version"], stale.json()["status_now"]) == (2, "accepted")
    assert _revise(shop, order, {"ready_in_minutes": 30}, {"If-Match": '"1"'}).status_code == 412
    missing = _revise(shop, order, {"ready_in_minutes": 30})
    assert missing.status_code == 422 and error_paths(missing) == ["expected_version"]
    view = ok(shop.customer_view(order))
    assert (view["version"], view["ready_by"]) == (2, promised)


@pytest.mark.parametrize(
    "body",
    [{}, {"ready_in_minutes": 0}, {"ready_in_minutes": 241}, {"ready_in_minutes": "15"},
     {"ready_in_minutes": 1.5}, {"ready_in_minutes": True}, {"ready_in_minutes": None}],
)  # fmt: skip
def test_a_new_ready_time_is_1_to_240_minutes(shop: Shop, body: dict) -> None:
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    refused = _revise(shop, order, {**body, "expected_version": 2})
    assert refused.status_code == 422 and error_paths(refused) == ["ready_in_minutes"]
    assert ok(shop.customer_view(order))["version"] == 2


def test_only_the_restaurants_staff_change_its_ready_times(
    shop: Shop, tenants, auth_header
) -> None:
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    body = {"ready_in_minutes": 10, "expected_version": 2}
    url = f"/api/v1/kitchen/orders/{order['id']}/ready-by"
    assert shop.client.put(url, host=shop.host, json=body).status_code == 401
    customer = shop.client.put(url, host=shop.host, headers=order_access(order), json=body)
    assert customer.status_code == 401
    other = tenants.create()
    foreign = shop.client.put(
        url,
        host=f"{other.slug}.stelly.test",
        headers=auth_header("owner", tenant=other.slug),
        json=body,
    )
    assert foreign.status_code == 404, foreign.text
    assert ok(shop.customer_view(order))["version"] == 2


def test_before_migration_0011_a_new_ready_time_waits_for_the_update(shop: Shop) -> None:
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    execute(
        sql.SQL(
            """alter table {s}.orders drop column ready_by;
               alter table {s}.orders alter column tax_rate_bp type integer;
               delete from {s}.schema_migrations where version >= 11"""
        ).format(s=sql.Identifier(shop.schema))
    )
    pending = _revise(shop, order, {"ready_in_minutes": 10, "expected_version": 2})
    assert pending.status_code == 409 and "update is pending" in pending.json()["detail"]
    assert ok(shop.customer_view(order))["version"] == 2
    migrate.migrate_tenant(shop.schema)
    assert ok(_revise(shop, order, {"ready_in_minutes": 10, "expected_version": 2}))["ready_by"]


def test_a_new_ready_time_is_a_change_to_the_order_and_moves_its_updated_at(shop: Shop) -> None:
    """The ticket says the order changed when the promise did, as the answer does."""
    order = shop.place()
    accepted = ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    revised = ok(_revise(shop, order, {"ready_in_minutes": 25, "expected_version": 2}))
    ticket = _ticket(shop, order)
    assert ticket["version"] == 3
    assert datetime.fromisoformat(ticket["updated_at"]) == datetime.fromisoformat(
        revised["updated_at"]
    )
    assert datetime.fromisoformat(ticket["updated_at"]) > datetime.fromisoformat(
        accepted["updated_at"]
    )


def test_a_new_ready_time_is_in_the_kitchens_catch_up_right_after_its_commit(shop: Shop) -> None:
    """The event is sequenced and sent right after the commit, not at the next timer run
    (10 s later): a display catching up at once sees the new promise."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    settle()
    revised = ok(_revise(shop, order, {"ready_in_minutes": 25, "expected_version": 2}))
    settle()
    page = ok(
        shop.client.get("/api/v1/kitchen/events", params={"after": "0"}, host=shop.host,
                        headers=shop.staff())
    )  # fmt: skip
    last = page["events"][-1]
    assert (last["type"], last["data"]["ready_by"]) == ("order.ready_by_changed",
                                                        revised["ready_by"])  # fmt: skip


def test_a_ready_by_body_with_a_field_it_does_not_take_is_refused(shop: Shop) -> None:
    """A display sending `"to": "ready"` here is told this route moves nothing, rather than
    getting a 200 and believing the order moved."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    refused = _revise(shop, order, {"ready_in_minutes": 10, "expected_version": 2, "to": "ready"})
    assert error_paths(refused) == ["to"]
    assert (ok(shop.customer_view(order))["version"]) == 2


def test_a_refused_new_ready_time_names_the_moves_the_order_has_now(shop: Shop) -> None:
    """A display that lost a race, or whose order is already ready, learns where the ticket
    is and what it can do next, as for a move."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    stale = _revise(shop, order, {"ready_in_minutes": 10, "expected_version": 1})
    assert stale.status_code == 409, stale.text
    assert (stale.json()["status_now"], stale.json()["allowed"]) == (
        "accepted",
        ["preparing", "cancelled"],
    )
    ok(shop.transition(order, "preparing", 2))
    ok(shop.transition(order, "ready", 3))
    ready = _revise(shop, order, {"ready_in_minutes": 10, "expected_version": 4})
    assert ready.status_code == 409, ready.text
    assert (ready.json()["status_now"], ready.json()["allowed"]) == (
        "ready",
        ["completed", "preparing"],
    )
