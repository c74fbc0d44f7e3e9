"""A restaurant in the middle of an upgrade to this release: rows written before it, and a
schema the fleet migration has not reached yet."""

from __future__ import annotations

import unicodedata
from typing import Any

from psycopg import sql

from shared import migrate
from tests.conftest import execute
from tests.order_fixtures import open_shop
from tests.storefront_helpers import build_small_menu, ok, owner_api
from tests.test_openapi import operations


def _as_at_0006(schema: str) -> None:
    """The schema as a restaurant the fleet run has not reached yet: 0007 not applied."""
    execute(
        sql.SQL(
            """alter table {s}.menu_items drop constraint menu_items_price_check,
                   add constraint menu_items_price_check check (price between 0 and 10000000);
               alter table {s}.modifier_options
                   drop constraint modifier_options_price_delta_check,
                   add constraint modifier_options_price_delta_check
                       check (price_delta between 0 and 10000000);
               delete from {s}.schema_migrations where version = 7"""
        ).format(s=sql.Identifier(schema))
    )


def _saved_before_this_release(schema: str, query: str, params: list) -> None:
    """Rows as an earlier release wrote them (schema at 0006), then the fleet run of this one."""
    execute(
        sql.SQL("delete from {}.schema_migrations where version >= 7").format(
            sql.Identifier(schema)
        )
    )
    execute(sql.SQL(query).format(sql.Identifier(schema)), params)
    migrate.migrate_tenant(schema)


def test_a_big_price_before_migration_0007_is_a_409_not_a_500(client, tenants, auth_header) -> None:
    """A price the API accepts (up to 1e9) on a restaurant the fleet run has not brought to 0007
    yet: a 409 saying its update is pending, not a 500."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    _as_at_0006(tenant.schema_name)

    response = api.patch(f"/v1/admin/menu/items/{item['id']}", json={"price": 20_000_000})

    assert response.status_code == 409, response.text
    assert "update is pending" in response.json()["detail"]


def test_an_import_before_migration_0007_is_a_409_that_every_write_documents(
    client, tenants, auth_header, document: dict[str, Any]
) -> None:
    """A manager in rupiah imports a Rp 1.500.000,00 dish before the fleet run has reached the
    restaurant: the same 409, and the draft unchanged. A client generated from the API
    description knows that 409 on every restaurant write, since any of them can meet a check
    its schema has not widened yet."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    draft = ok(api.get("/v1/admin/menu"))
    _as_at_0006(tenant.schema_name)
    dish = {"name": "Iga bakar", "price": 150_000_000}

    pending = api.post(
        "/v1/admin/menu/import", json={"categories": [{"name": "Mains", "items": [dish]}]}
    )

    assert pending.status_code == 409, pending.text
    assert "update is pending" in pending.json()["detail"]
    assert ok(api.get("/v1/admin/menu")) == draft
    undocumented = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if operation.get("x-stelly-host") == "tenant"
        and method != "GET"
        and "409" not in operation["responses"]
    ]
    assert undocumented == []


def test_a_group_named_like_an_older_group_in_another_spelling_is_refused_on_one_item(
    client, tenants, auth_header
) -> None:
    """Names saved before writes were composed are brought to NFC by tenant migration 0008, so
    the clash check sees a new "Crème" group beside the old, decomposed, "Crème" on one item."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    small = build_small_menu(api)
    body = {"name": "Crème", "min": 0, "max": 1, "options": [{"name": "Oui"}]}
    old = ok(api.post("/v1/admin/menu/groups", json=body), 201)
    # As the release before b81e4ed saved it from a macOS keyboard: e + combining grave.
    _saved_before_this_release(
        tenant.schema_name,
        "update {}.modifier_groups set name = %s where id = %s",
        [unicodedata.normalize("NFD", "Crème"), old["id"]],
    )
    new = ok(api.post("/v1/admin/menu/groups", json=body), 201)

    response = api.post(
        "/v1/admin/menu/items",
        json={
            "category_id": small["category"]["id"],
            "name": "Tarte",
            "price": 500,
            "modifier_group_ids": [old["id"], new["id"]],
        },
    )

    assert response.status_code == 422, response.text


def test_a_table_label_saved_with_a_variation_selector_blocks_its_look_alike(
    client, tenants, auth_header
) -> None:
    """Labels saved before the characters that show as nothing were stripped are respelled by
    tenant migration 0009, so a new "Terrasse ☀️" finds the old one taken."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    first = ok(api.post("/v1/admin/tables", json={"label": "Terrasse ☀️"}), 201)
    # As the release before this one saved it (it kept U+FE0F), next to a newer label that the
    # respelling would make clash with the first: that one is left for the restaurant.
    second = ok(api.post("/v1/admin/tables", json={"label": "Garden"}), 201)
    table = sql.SQL("update {}.dining_tables set label = %s where id = %s")
    execute(
        table.format(sql.Identifier(tenant.schema_name)), ["Terrasse\u00a0\u2600", second["id"]]
    )
    _saved_before_this_release(
        tenant.schema_name,
        "update {}.dining_tables set label = %s where id = %s",
        ["Terrasse \u2600\ufe0f", first["id"]],
    )
    labels = {t["id"]: t["label"] for t in ok(api.get("/v1/admin/tables"))["tables"]}
    assert sorted(labels.values()) == ["Terrasse \u2600", "Terrasse\u00a0\u2600"]

    response = api.post("/v1/admin/tables", json={"label": "Terrasse \u2600\ufe0f"})

    assert response.status_code == 409, response.text


def _as_at_0009(schema: str) -> None:
    """The schema as a restaurant the fleet run has not reached yet: 0010 and later not
    applied."""
    execute(
        sql.SQL(
            """alter table {s}.menu_items drop column sold_out_until;
               alter table {s}.modifier_options drop column sold_out_until;
               alter table {s}.orders drop column ready_by;
               delete from {s}.schema_migrations where version >= 10"""
        ).format(s=sql.Identifier(schema))
    )


def test_a_restaurant_before_migration_0010_86es_without_until(
    client, tenants, auth_header
) -> None:
    """This release's code before the fleet run has added `sold_out_until`: the menu reads and
    publishes, a plain 86 goes live and survives a re-import, and one with an until is a 409
    that changes nothing."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    _as_at_0009(tenant.schema_name)

    until = {"items": [{"id": item["id"], "available": False, "until": "tomorrow"}]}
    pending = api.post("/v1/admin/menu/availability", json=until)
    plain_86 = {"items": [{"id": item["id"], "available": False}]}
    plain = ok(api.post("/v1/admin/menu/availability", json=plain_86))

    assert pending.status_code == 409, pending.text
    assert "update is pending" in pending.json()["detail"]
    assert plain["items"][0]["sold_out_until"] is None and plain["published_version"] == 2
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["available"] is False
    assert ok(api.post("/v1/admin/menu/publish"), 201)["version"] == 3
    # A re-import keeps the 86 (there is no until to keep yet).
    document = {"categories": [{"name": "Pizza", "items": [{"name": "Margherita", "price": 900}]}]}
    assert ok(api.post("/v1/admin/menu/import", json=document))["sold_out_kept"] == 1
    [dish] = ok(api.get("/v1/admin/menu"))["categories"][0]["items"]
    assert dish["available"] is False
    migrate.migrate_tenant(tenant.schema_name)
    until["items"][0]["id"] = dish["id"]
    assert ok(api.post("/v1/admin/menu/availability", json=until))["items"][0]["sold_out_until"]


def test_a_kitchen_before_migration_0011_moves_orders_without_a_ready_time(
    client, tenants, auth_header
) -> None:
    """This release's code before the fleet run has added `orders.ready_by`: every view of the
    order reads (no promise), a move without one works, one with a promise is a 409 that moves
    nothing, and after the migration it is kept."""
    shop = open_shop(client, tenants, auth_header)
    order = shop.place()
    execute(
        sql.SQL(
            """alter table {s}.orders drop column ready_by;
               alter table {s}.orders alter column tax_rate_bp type integer;
               delete from {s}.schema_migrations where version >= 11"""
        ).format(s=sql.Identifier(shop.schema))
    )

    pending = shop.transition(order, "accepted", 1, ready_in_minutes=15)
    assert pending.status_code == 409, pending.text
    assert "update is pending" in pending.json()["detail"]
    assert ok(shop.transition(order, "accepted", 1))["ready_by"] is None
    assert ok(shop.customer_view(order))["ready_by"] is None
    kitchen = ok(client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff()))
    assert [t["ready_by"] for t in kitchen["orders"]] == [None]
    day = ok(client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    assert [o["ready_by"] for o in day["orders"]] == [None]
    migrate.migrate_tenant(shop.schema)
    assert ok(shop.transition(order, "preparing", 2, ready_in_minutes=15))["ready_by"]
