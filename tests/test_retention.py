"""Retention run by the hourly housekeeping timer: old snapshots no order used, old phone numbers,
rate-limit windows (client addresses), idempotency keys and published events.

Rows are dated back instead of waiting; the purge runs through the app's own timer function.
"""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest
from psycopg import sql

from shared.db import tenant_transaction, transaction
from shared.menus import eighty_six
from shared.menus.models import AvailabilityChange, Toggle
from shared.menus.snapshot_retention import purge_unused_snapshots
from shared.orders import placement
from shared.rate_limit import client_bucket
from tests.conftest import execute
from tests.devhost.durable_fixtures import loop_fixture  # noqa: F401
from tests.housekeeping_helpers import engine_fixture, run_housekeeping  # noqa: F401
from tests.order_fixtures import Shop, settle, shop_fixture  # noqa: F401


def backdate_snapshots(schema: str, days: int) -> None:
    with tenant_transaction(schema) as conn:
        conn.execute("alter table menu_versions disable trigger menu_versions_immutable")
        conn.execute(
            "update menu_versions set published_at = published_at - make_interval(days => %s)",
            [days],
        )
        conn.execute("alter table menu_versions enable trigger menu_versions_immutable")


def versions(schema: str) -> list[int]:
    query = sql.SQL("select version from {}.menu_versions order by version")
    return [row["version"] for row in execute(query.format(sql.Identifier(schema)))]


def order_version(shop: Shop, order_id: str) -> int:
    query = sql.SQL("select menu_version from {}.orders where id = %s")
    return execute(query.format(sql.Identifier(shop.schema)), [order_id])[0]["menu_version"]


def toggle_sold_out(shop: Shop, times: int) -> None:
    item = shop.menu.items["Cola"]
    for turn in range(times):
        response = shop.client.post(
            "/api/v1/admin/menu/availability",
            host=shop.host,
            headers=shop.owner(),
            json={"items": [{"id": item, "available": turn % 2 == 1}]},
        )
        assert response.status_code == 200, response.text


def test_old_snapshots_no_order_used_go_and_the_rest_stay(
    shop: Shop, app_functions, engine
) -> None:
    # A sold-out dish toggled six times a month ago: each toggle re-issued the whole menu.
    ordered = order_version(shop, shop.place()["id"])  # priced from the first snapshot
    toggle_sold_out(shop, 6)
    backdate_snapshots(shop.schema, 31)
    newest = versions(shop.schema)[-1]

    run_housekeeping(app_functions, engine)

    kept = versions(shop.schema)
    assert kept == sorted({ordered, newest}), kept
    # An admin looking back sees what is kept, and a purged version is gone, not unknown.
    history = shop.client.get("/api/v1/admin/menu/versions", host=shop.host, headers=shop.owner())
    assert [v["version"] for v in history.json()["versions"]] == kept[::-1]
    purged = shop.client.get(
        f"/api/v1/admin/menu/versions/{ordered + 1}", host=shop.host, headers=shop.owner()
    )
    assert purged.status_code == 410, purged.text
    assert "no longer kept" in purged.json()["detail"]
    # The storefront and new orders still read the newest snapshot.
    menu = shop.client.get("/api/v1/store/menu", host=shop.host).json()
    assert menu["version"] == newest
    assert shop.post_order().status_code == 201


def test_recent_snapshots_stay(shop: Shop, app_functions, engine) -> None:
    toggle_sold_out(shop, 4)
    before = versions(shop.schema)
    run_housekeeping(app_functions, engine)
    assert versions(shop.schema) == before


def test_snapshots_stay_immutable_outside_the_purge(shop: Shop) -> None:
    refused = pytest.raises(psycopg.errors.RestrictViolation)
    with refused, tenant_transaction(shop.schema) as conn:
        conn.execute("delete from menu_versions")
    assert versions(shop.schema) != []


def test_pickup_phone_numbers_are_forgotten_after_30_days(
    shop: Shop, app_functions, engine
) -> None:
    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": "Ada Lovelace", "phone": "+44 20 7946 0199"}
    old, recent = shop.place(body), shop.place(body)
    execute(
        sql.SQL(
            "update {}.orders set placed_at = placed_at - interval '31 days' where id = %s"
        ).format(sql.Identifier(shop.schema)),
        [old["id"]],
    )

    run_housekeeping(app_functions, engine)

    rows = execute(
        sql.SQL(
            "select id::text, customer_name, customer_phone from {}.orders where id = any(%s)"
        ).format(sql.Identifier(shop.schema)),
        [[old["id"], recent["id"]]],
    )
    kept = {row["id"]: (row["customer_name"], row["customer_phone"]) for row in rows}
    assert kept[old["id"]] == ("Ada Lovelace", None)
    assert kept[recent["id"]] == ("Ada Lovelace", "+44 20 7946 0199")


# The 0002 body of the trigger function: what every schema not yet at 0006 still runs.
_PRE_0006_TRIGGER = """
create or replace function menu_versions_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'menu_versions rows are immutable (version %)', old.version
        using errcode = 'restrict_violation';
end;
$$;
"""


def _as_before_0006(schema: str) -> None:
    """Put schema back where it is between deploying this code and the fleet migration."""
    with tenant_transaction(schema) as conn:
        conn.execute(_PRE_0006_TRIGGER)
        conn.execute("drop index orders_menu_version_idx")
        conn.execute("drop index orders_phone_kept_idx")
        conn.execute("delete from schema_migrations where version = 6")


def _in_schema(schema: str, query: str, params: list | None = None) -> list[dict]:
    return execute(sql.SQL(query).format(sql.Identifier(schema)), params)


def test_a_schema_not_yet_at_0006_keeps_its_snapshots_and_loses_nothing_else(
    shop: Shop, app_functions, engine
) -> None:
    # Between a deployment and its fleet migration the old trigger refuses the snapshot
    # purge; the restaurant's other clean-up still happens.
    toggle_sold_out(shop, 2)
    backdate_snapshots(shop.schema, 31)  # old snapshots no order used: the purge would take them
    _as_before_0006(shop.schema)

    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0199"}
    key = f"key-{uuid.uuid4()}"
    assert shop.post_order(body, key=key).status_code == 201
    old = shop.place(body)
    _in_schema(
        shop.schema,
        "update {}.orders set placed_at = placed_at - interval '31 days' where id = %s",
        [old["id"]],
    )
    _in_schema(
        shop.schema,
        "update {}.idempotency_keys set expires_at = now() - interval '1 hour' where key = %s",
        [key],
    )

    run_housekeeping(app_functions, engine)

    keys = _in_schema(shop.schema, "select key from {}.idempotency_keys where key = %s", [key])
    phone = _in_schema(
        shop.schema, "select customer_phone from {}.orders where id = %s", [old["id"]]
    )[0]["customer_phone"]
    assert (keys, phone) == ([], None), (
        f"expired key still there: {keys}; phone of a 31-day-old order: {phone!r}"
    )


def test_an_order_in_flight_never_names_a_purged_snapshot(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A snapshot is aged from when the next one replaced it: a menu left alone for a month
    # was live a moment ago, and an order priced from it may still be committing.
    backdate_snapshots(shop.schema, 31)  # the menu has been live, unchanged, for a month
    priced_from = versions(shop.schema)[-1]
    write = placement._write

    def write_after_an_86_and_the_hourly_purge(tenant, order, admitted, now):
        # Between pricing (admission) and the order's own transaction: an 86, then the purge.
        change = AvailabilityChange(items=[Toggle(id=shop.menu.items["Cola"], available=False)])
        eighty_six.set_availability(tenant=tenant, change=change, changed_by="manager")
        with tenant_transaction(tenant.schema_name) as conn:
            purge_unused_snapshots(conn)
        return write(tenant, order, admitted, now)

    monkeypatch.setattr(placement, "_write", write_after_an_86_and_the_hourly_purge)
    order = shop.place(shop.order_body(shop.pizza_line()))

    named = _in_schema(
        shop.schema, "select menu_version from {}.orders where id = %s", [order["id"]]
    )[0]["menu_version"]
    assert named == priced_from
    assert named in versions(shop.schema), (
        f"the order names version {named}; menu_versions holds {versions(shop.schema)}"
    )


@pytest.mark.usefixtures("webpubsub_hub")
def test_published_events_are_kept_for_seven_days_by_the_hourly_housekeeping(
    shop: Shop, app_functions, engine
) -> None:
    """README: published events are kept 7 days. An event published 6.5 days ago is still
    served to a catching-up display after the hourly housekeeping; at 7.5 days it is gone and
    the display is told to reload (410)."""
    shop.place()
    settle()

    def catch_up():
        return shop.client.get(
            "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
        )

    execute(f"update {shop.schema}.outbox set published_at = now() - interval '6 days 12 hours'")
    run_housekeeping(app_functions, engine)
    kept = catch_up()
    assert kept.status_code == 200, kept.text
    assert [e["seq"] for e in kept.json()["events"]][:1] == [1]

    execute(f"update {shop.schema}.outbox set published_at = now() - interval '7 days 12 hours'")
    run_housekeeping(app_functions, engine)
    shop.place()
    settle()
    gone = catch_up()
    assert gone.status_code == 410, gone.text


def test_one_restaurants_broken_schema_does_not_stop_the_others_housekeeping(
    shop: Shop, tenants, app_functions, engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A restaurant whose schema is gone makes its own clean-up fail, logged; the timer still
    ends normally and every other restaurant is cleaned up, also those after it (restaurants go
    by slug, and this one's sorts first)."""
    broken = tenants.create(slug=f"a{uuid.uuid4().hex[:10]}")
    assert broken.slug < shop.slug
    with transaction() as conn:
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(broken.schema_name)))
    key = f"key-{uuid.uuid4()}"
    assert shop.post_order(shop.order_body(shop.cola_line()), key=key).status_code == 201
    expire = "update {}.idempotency_keys set expires_at = now() - interval '1 hour' where key = %s"
    execute(sql.SQL(expire).format(sql.Identifier(shop.schema)), [key])

    caplog.set_level(logging.INFO, logger="stelly")
    run_housekeeping(app_functions, engine)  # does not raise

    left = sql.SQL("select key from {}.idempotency_keys where key = %s")
    assert execute(left.format(sql.Identifier(shop.schema)), [key]) == []
    logged = f"housekeeping for {broken.slug} failed"
    [failed] = [record for record in caplog.records if record.getMessage() == logged]
    # With its traceback (a database error's as text: shared/log_redaction.py).
    assert failed.levelno == logging.ERROR and "Traceback" in (failed.exc_text or "")


def test_rate_limit_windows_naming_a_clients_address_go_after_10_minutes_by_the_housekeeping(
    shop: Shop, app_functions, engine
) -> None:
    """Rate-limit windows name the client's address: one that started 11 minutes ago is gone
    after the hourly housekeeping; the current one (what the limit reads) stays with its count."""
    old_ip, current_ip = "203.0.113.71", "203.0.113.72"
    assert shop.post_order(ip=old_ip).status_code == 201
    assert shop.post_order(ip=current_ip).status_code == 201
    old_bucket, current_bucket = (f"orders:{client_bucket(ip)}" for ip in (old_ip, current_ip))
    _in_schema(
        shop.schema,
        "update {}.rate_limit_windows set window_start = window_start - interval '11 minutes'"
        " where bucket = %s",
        [old_bucket],
    )

    run_housekeeping(app_functions, engine)

    left = _in_schema(
        shop.schema,
        "select bucket, hits from {}.rate_limit_windows where bucket = any(%s)",
        [[old_bucket, current_bucket]],
    )
    assert [(row["bucket"], row["hits"]) for row in left] == [(current_bucket, 1)], left


def test_the_housekeeping_keeps_an_idempotency_key_inside_its_24_hours(
    shop: Shop, app_functions, engine
) -> None:
    """A key used 23 hours ago survives the hourly purge and still replays the first answer; one
    used 25 hours ago is gone."""
    body = shop.order_body(shop.cola_line())
    young, old = f"young-{uuid.uuid4()}", f"old-{uuid.uuid4()}"
    first = shop.post_order(body, key=young)
    assert first.status_code == 201, first.text
    assert shop.post_order(body, key=old).status_code == 201
    age = (
        "update {}.idempotency_keys set claimed_at = claimed_at - %s::interval,"
        " expires_at = expires_at - %s::interval where key = %s"
    )
    _in_schema(shop.schema, age, ["23 hours", "23 hours", young])
    _in_schema(shop.schema, age, ["25 hours", "25 hours", old])

    run_housekeeping(app_functions, engine)

    keys = _in_schema(
        shop.schema, "select key from {}.idempotency_keys where key = any(%s)", [[young, old]]
    )
    assert [row["key"] for row in keys] == [young], keys
    replay = shop.post_order(body, key=young)
    assert replay.status_code == 201 and replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["id"] == first.json()["id"]


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_housekeeping_never_takes_an_event_not_yet_published(
    shop: Shop, app_functions, engine
) -> None:
    """Only published events go after 7 days: one the hub never took (it carries the customer's
    name and notes) waits however old; a published one of that age is gone."""
    waiting, sent = shop.place(), shop.place()
    settle()
    _in_schema(
        shop.schema,
        "update {}.outbox set occurred_at = now() - interval '8 days',"
        " published_at = case when order_id = %s then null"
        "                     else now() - interval '8 days' end"
        " where order_id = any(%s)",
        [waiting["id"], [waiting["id"], sent["id"]]],
    )

    run_housekeeping(app_functions, engine)

    left = _in_schema(
        shop.schema,
        "select order_id::text from {}.outbox where order_id = any(%s)",
        [[waiting["id"], sent["id"]]],
    )
    assert [row["order_id"] for row in left] == [waiting["id"]], left


def test_forgetting_a_phone_number_keeps_the_name_lines_notes_and_history(
    shop: Shop, app_functions, engine
) -> None:
    """A pickup's phone number goes 30 days from the order; the name, the lines with their notes
    and the history stay, in the staff's ticket and the manager's order."""
    body = shop.order_body({**shop.cola_line(), "note": "no straw please"})
    body["fulfilment"] = {"type": "pickup", "name": "Grace Hopper", "phone": "+1 415 555 0142"}
    order = shop.place(body)
    assert shop.transition(order, "accepted", 1).status_code == 200
    _in_schema(
        shop.schema,
        "update {}.orders set placed_at = placed_at - interval '31 days' where id = %s",
        [order["id"]],
    )
    admin = f"/api/v1/admin/orders/{order['id']}"
    before = shop.client.get(admin, host=shop.host, headers=shop.owner()).json()
    assert before["fulfilment"]["phone"] == "+1 415 555 0142"

    run_housekeeping(app_functions, engine)

    after = shop.client.get(admin, host=shop.host, headers=shop.owner()).json()
    assert "phone" not in after["fulfilment"], after["fulfilment"]
    assert after["fulfilment"].get("name") == "Grace Hopper", after["fulfilment"]
    assert [line["note"] for line in after["lines"]] == ["no straw please"]
    assert after["history"] == before["history"] and len(after["history"]) == 2
    ticket = shop.client.get(
        f"/api/v1/kitchen/orders/{order['id']}", host=shop.host, headers=shop.staff()
    ).json()
    assert ticket["fulfilment"] == {"type": "pickup", "name": "Grace Hopper"}, ticket
    assert [line["note"] for line in ticket["lines"]] == ["no straw please"]
