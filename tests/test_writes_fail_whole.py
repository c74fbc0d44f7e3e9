"""Writes that fail midway leave nothing behind: each request here is refused AFTER some of its
rows were written in its transaction (a CHECK added to the restaurant's schema for the test, or
a 404 found after an earlier step wrote), so only one transaction can leave the state whole.

Checks that follow a refusal made before the first write (validation, a stale table code, a
token for another restaurant) cannot tell one transaction from several; these can.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from tests.conftest import add_refusal, drop_refusal, execute
from tests.image_fixtures import (  # noqa: F401
    brand_states,
    brand_upload,
    deliver,
    encoded,
    item_view,
    logo_png,
    menu_fixture,
    photo,
    upload,
)
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.storefront_helpers import build_small_menu, ok, owner_api


def _count(schema: str, table: str, where: str = "true") -> int:
    query = sql.SQL("select count(*) as n from {}.{} where {}").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(where)
    )
    return execute(query)[0]["n"]


def test_an_order_whose_last_write_fails_leaves_no_order_lines_events_or_outbox_rows(
    shop: Shop,
) -> None:
    """An order is one transaction up to its very last write, the Idempotency-Key's stored
    answer: when that is refused, the order, its lines, modifiers, first event and outbox event
    all go with it, and the key stays usable for the retry."""
    schema = shop.schema
    add_refusal(schema, "idempotency_keys", "response_status is distinct from 201")
    key = str(uuid.uuid4())
    refused = shop.post_order(shop.order_body(shop.pizza_line("Ham")), key=key)
    assert refused.status_code == 409, refused.text
    assert "database update" in refused.json()["detail"]
    for table in ("orders", "order_items", "order_item_modifiers", "order_events"):
        assert _count(schema, table) == 0, table
    assert _count(schema, "outbox", "type = 'order.placed'") == 0
    drop_refusal(schema, "idempotency_keys")
    placed = shop.post_order(shop.order_body(shop.pizza_line("Ham")), key=key)
    assert placed.status_code == 201, placed.text
    assert _count(schema, "orders") == 1
    assert _count(schema, "outbox", "type = 'order.placed'") == 1


def test_a_kitchen_move_whose_event_is_refused_leaves_the_order_where_it_was(shop: Shop) -> None:
    """A move, its order_events row and its outbox event are one transaction (README): when the
    outbox refuses the event after the row and the history were written, the order is still
    placed at version 1, and the display's retry is taken as it was sent."""
    order = shop.place()
    add_refusal(shop.schema, "outbox", "type <> 'order.accepted'")
    refused = shop.transition(order, "accepted", 1)
    assert refused.status_code == 409, refused.text
    assert "database update" in refused.json()["detail"]
    view = ok(shop.customer_view(order))
    assert (view["status"], view["version"]) == ("placed", 1)
    assert _count(shop.schema, "order_events", "to_status = 'accepted'") == 0
    drop_refusal(shop.schema, "outbox")
    # Still at version 1: the move the display retries is taken as it was sent.
    moved = shop.transition(order, "accepted", 1)
    assert moved.status_code == 200, moved.text
    assert _count(shop.schema, "order_events", "to_status = 'accepted'") == 1


def test_an_item_edit_refused_for_its_category_keeps_the_items_groups(
    client, tenants, auth_header
) -> None:
    """An item edit is one transaction: its group links are replaced before its category is
    found unknown, and the 404 leaves the item on its group at its version."""
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    item = built["item"]
    response = api.patch(
        f"/v1/admin/menu/items/{item['id']}",
        json={"modifier_group_ids": [], "category_id": str(uuid.uuid4())},
    )
    assert response.status_code == 404, response.text
    after = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert after["modifier_group_ids"] == [built["group"]["id"]]
    assert after["version"] == item["version"]


def test_a_group_whose_option_the_database_refuses_is_not_created(
    client, tenants, auth_header
) -> None:
    """A new group and its options are one transaction: when the database refuses an option
    (a CHECK added to this restaurant's schema) after the group row was written, no group
    stays."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    add_refusal(tenant.schema_name, "modifier_options", "price_delta <> 4242")
    response = api.post(
        "/v1/admin/menu/groups",
        json={"name": "Dips", "max": 2, "options": [
            {"name": "Garlic"}, {"name": "Refused", "price_delta": 4242},
        ]},
    )  # fmt: skip
    assert response.status_code == 409, response.text
    menu = ok(api.get("/v1/admin/menu"))
    assert [g["name"] for g in menu["modifier_groups"]] == ["Size"]
    assert _count(tenant.schema_name, "modifier_groups") == 1


def test_a_photo_whose_live_menu_reissue_fails_is_not_half_applied(menu, app_functions) -> None:
    """The item's new image and the live menu re-issued with it are one transaction: when the
    re-issue is refused (a CHECK on this restaurant's menu_versions), the item stays pending
    with its old image, and the host's redelivery puts the photo in both at once."""
    api, item = menu
    schema = api.tenant.schema_name
    name = upload(api, item["id"], encoded(photo(800, 600), "JPEG"))
    add_refusal(schema, "menu_versions", "source <> 'image'")
    with pytest.raises(psycopg.errors.CheckViolation):
        deliver(app_functions, name)
    pending = item_view(api, item["id"])
    assert (pending["image_status"], pending["image"]) == ("pending", None)
    drop_refusal(schema, "menu_versions")
    deliver(app_functions, name)  # the host retries the failed trigger
    ready = item_view(api, item["id"])
    assert ready["image_status"] == "ready"
    live = execute(
        sql.SQL("select snapshot from {}.menu_versions order by version desc limit 1").format(
            sql.Identifier(schema)
        )
    )[0]["snapshot"]
    assert live["categories"][0]["items"][0]["image"] == ready["image"]


def test_an_86_whose_live_menu_reissue_fails_leaves_the_item_available(
    client, tenants, auth_header
) -> None:
    """An 86 sets the draft flag and re-issues the live menu in one transaction: when the
    re-issue is refused (a CHECK on this restaurant's menu_versions), the draft keeps the item
    available at its version, so the admin and the storefront never disagree."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    add_refusal(tenant.schema_name, "menu_versions", "source <> 'availability'")
    response = api.post(
        "/v1/admin/menu/availability", json={"items": [{"id": item["id"], "available": False}]}
    )
    assert response.status_code == 409, response.text
    after = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert (after["available"], after["version"]) == (True, item["version"])
    assert ok(api.get("/v1/admin/menu"))["published_version"] == 1


def test_a_group_delete_refused_while_detaching_it_keeps_the_group_and_its_options(
    client, tenants, auth_header
) -> None:
    """Deleting a group soft-deletes it and its options and detaches it from its items, in one
    transaction: when the database refuses the items' version bump (a CHECK added for the
    test), the group, its options and the item's link all stay."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    item, group = built["item"], built["group"]
    add_refusal(tenant.schema_name, "menu_items", f"version <> {item['version'] + 1}")
    response = api.delete(f"/v1/admin/menu/groups/{group['id']}")
    assert response.status_code == 409, response.text
    kept = ok(api.get(f"/v1/admin/menu/groups/{group['id']}"))
    assert [o["name"] for o in kept["options"]] == ["Regular", "Large"]
    assert kept["version"] == group["version"]
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["modifier_group_ids"] == [group["id"]]


def test_a_logo_whose_record_is_refused_does_not_reach_the_theme(
    client, tenants, auth_header, app_functions
) -> None:
    """A logo going live sets theme.assets and marks its brand_images row ready in one
    transaction: when the row's write is refused (a CHECK on this restaurant's brand_images),
    the theme keeps no logo, and the host's redelivery puts it in both."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    name = brand_upload(api, "logo", logo_png(600, 200))
    before = api.get("/v1/admin/theme")
    assert ok(before)["assets"]["logo"] is None
    add_refusal(tenant.schema_name, "brand_images", "status <> 'ready'")
    with pytest.raises(psycopg.errors.CheckViolation):
        deliver(app_functions, name)
    after = api.get("/v1/admin/theme")
    assert (ok(after), after.headers["etag"]) == (before.json(), before.headers["etag"])
    assert brand_states(api)["logo"]["status"] != "ready"
    drop_refusal(tenant.schema_name, "brand_images")
    deliver(app_functions, name)  # the host retries the failed trigger
    assert brand_states(api)["logo"]["status"] == "ready"
    assert ok(api.get("/v1/admin/theme"))["assets"]["logo"].startswith("http")


def _option_change(api, group: dict, change: str):
    regular, large = group["options"]
    groups, options = f"/v1/admin/menu/groups/{group['id']}", "/v1/admin/menu/options"
    if change == "add":
        return api.post(f"{groups}/options", json={"name": "Family"})
    if change == "rename":
        body = {"name": "Big", "expected_version": large["version"]}
        return api.patch(f"{options}/{large['id']}", json=body)
    if change == "delete":
        return api.delete(f"{options}/{large['id']}", params={"expected_version": large["version"]})
    return api.post(f"{groups}/options/reorder", json={"ids": [large["id"], regular["id"]]})


@pytest.mark.parametrize("change", ["add", "rename", "delete", "reorder"])
def test_an_option_change_whose_groups_version_is_refused_is_not_made(
    client, tenants, auth_header, change: str
) -> None:
    """Adding, renaming, deleting or reordering an option bumps its group's version (the group's
    ETag covers its options) in the same transaction: when the bump is refused (a CHECK added
    for the test), the option change is not there either, so no group body changes under an
    unchanged ETag."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    group = build_small_menu(api)["group"]
    add_refusal(tenant.schema_name, "modifier_groups", f"version <> {group['version'] + 1}")
    response = _option_change(api, group, change)
    assert response.status_code == 409, response.text
    kept = api.get(f"/v1/admin/menu/groups/{group['id']}")
    assert [(o["name"], o["rank"]) for o in ok(kept)["options"]] == [
        (o["name"], o["rank"]) for o in group["options"]
    ]
    assert kept.headers["etag"] == f'"{group["version"]}"'


def _crust_group(api) -> dict:
    """A second group, so an item can be linked to two (link ranks 0 and 1)."""
    body = {"name": "Crust", "min": 0, "max": 1, "options": [{"name": "Thin"}]}
    return ok(api.post("/v1/admin/menu/groups", json=body), 201)


def test_an_item_whose_second_group_link_is_refused_is_not_created(
    client, tenants, auth_header
) -> None:
    """A new item and its group links are one transaction: when the database refuses the
    second link (a CHECK on this restaurant's item_modifier_groups) after the item row and the
    first link were written, neither the item nor a link stays."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    crust = _crust_group(api)
    add_refusal(tenant.schema_name, "item_modifier_groups", "rank <> 1")
    body = {
        "category_id": built["category"]["id"], "name": "Calzone", "price": 1200,
        "modifier_group_ids": [built["group"]["id"], crust["id"]],
    }  # fmt: skip
    response = api.post("/v1/admin/menu/items", json=body)
    assert response.status_code == 409, response.text
    assert "database update" in response.json()["detail"]
    names = [i["name"] for i in ok(api.get("/v1/admin/menu"))["categories"][0]["items"]]
    assert names == ["Margherita"]
    assert _count(tenant.schema_name, "menu_items") == 1
    assert _count(tenant.schema_name, "item_modifier_groups") == 1


def test_an_item_edit_whose_second_group_link_is_refused_keeps_the_items_groups(
    client, tenants, auth_header
) -> None:
    """Replacing an item's groups is one transaction: when the database refuses the second new
    link (a CHECK on this restaurant's item_modifier_groups), the item keeps its one group at
    its version, not the first of the new ones."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    item, size = built["item"], built["group"]
    crust = _crust_group(api)
    add_refusal(tenant.schema_name, "item_modifier_groups", "rank <> 1")
    response = api.patch(
        f"/v1/admin/menu/items/{item['id']}", json={"modifier_group_ids": [crust["id"], size["id"]]}
    )
    assert response.status_code == 409, response.text
    after = ok(api.get(f"/v1/admin/menu/items/{item['id']}"))
    assert after["modifier_group_ids"] == [size["id"]]
    assert after["version"] == item["version"]


def test_an_option_86_whose_live_menu_reissue_fails_leaves_the_option_and_its_group_as_they_were(
    client, tenants, auth_header
) -> None:
    """An option's 86 sets its draft flag, bumps its group's version and re-issues the live
    menu in one transaction: when the re-issue is refused (a CHECK on this restaurant's
    menu_versions), the option is still available at its version and the group's ETag is
    unchanged, so the admin and the storefront never disagree."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    group = build_small_menu(api)["group"]
    large = group["options"][1]
    ok(api.post("/v1/admin/menu/publish"), 201)
    add_refusal(tenant.schema_name, "menu_versions", "source <> 'availability'")
    response = api.post(
        "/v1/admin/menu/availability", json={"options": [{"id": large["id"], "available": False}]}
    )
    assert response.status_code == 409, response.text
    assert "database update" in response.json()["detail"]
    option = ok(api.get(f"/v1/admin/menu/options/{large['id']}"))
    assert (option["available"], option["version"]) == (True, large["version"])
    kept = api.get(f"/v1/admin/menu/groups/{group['id']}")
    assert kept.headers["etag"] == f'"{group["version"]}"'
    assert [o["available"] for o in ok(kept)["options"]] == [True, True]
    assert ok(api.get("/v1/admin/menu"))["published_version"] == 1
