"""Retention run by the hourly housekeeping timer: old snapshots no order used, old phone numbers.

Rows are dated back instead of waiting; the purge runs through the app's own timer function.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from shared.db import tenant_transaction
from tests.conftest import execute
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401


def run_housekeeping(app_functions: list) -> None:
    purge = next(f for f in app_functions if f.get_function_name() == "purge_order_housekeeping")
    purge.get_user_function()(None)


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


def test_old_snapshots_no_order_used_go_and_the_rest_stay(shop: Shop, app_functions) -> None:
    # A sold-out dish toggled six times a month ago: each toggle re-issued the whole menu.
    ordered = order_version(shop, shop.place()["id"])  # priced from the first snapshot
    toggle_sold_out(shop, 6)
    backdate_snapshots(shop.schema, 31)
    newest = versions(shop.schema)[-1]

    run_housekeeping(app_functions)

    kept = versions(shop.schema)
    assert kept == sorted({ordered, newest}), kept
    # The storefront and new orders still read the newest snapshot.
    menu = shop.client.get("/api/v1/store/menu", host=shop.host).json()
    assert menu["version"] == newest
    assert shop.post_order().status_code == 201


def test_recent_snapshots_stay(shop: Shop, app_functions) -> None:
    toggle_sold_out(shop, 4)
    before = versions(shop.schema)
    run_housekeeping(app_functions)
    assert versions(shop.schema) == before


def test_snapshots_stay_immutable_outside_the_purge(shop: Shop) -> None:
    refused = pytest.raises(psycopg.errors.RestrictViolation)
    with refused, tenant_transaction(shop.schema) as conn:
        conn.execute("delete from menu_versions")
    assert versions(shop.schema) != []


def test_pickup_phone_numbers_are_forgotten_after_30_days(shop: Shop, app_functions) -> None:
    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": "Ada Lovelace", "phone": "+44 20 7946 0199"}
    old, recent = shop.place(body), shop.place(body)
    execute(
        sql.SQL(
            "update {}.orders set placed_at = placed_at - interval '31 days' where id = %s"
        ).format(sql.Identifier(shop.schema)),
        [old["id"]],
    )

    run_housekeeping(app_functions)

    rows = execute(
        sql.SQL(
            "select id::text, customer_name, customer_phone from {}.orders where id = any(%s)"
        ).format(sql.Identifier(shop.schema)),
        [[old["id"], recent["id"]]],
    )
    kept = {row["id"]: (row["customer_name"], row["customer_phone"]) for row in rows}
    assert kept[old["id"]] == ("Ada Lovelace", None)
    assert kept[recent["id"]] == ("Ada Lovelace", "+44 20 7946 0199")
