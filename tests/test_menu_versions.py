"""What a publish and an 86 put into menu_versions, and what the storefront renders from them."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from shared import migrate
from shared.db import tenant_transaction
from shared.menus.publish import publish_menu
from shared.menus.published import latest_snapshot
from shared.menus.storefront import StorefrontMenus
from tests.conftest import execute, wait_for_lock_waiters
from tests.storefront_helpers import (
    build_small_menu,
    customer_api,
    ok,
    owner_api,
    publish_first_item_at,
)


def test_publish_uses_the_currency_saved_now_not_a_cached_tenant_record(
    client, tenants, auth_header
) -> None:
    """A process whose tenant cache is seconds old still publishes the currency the manager
    just saved."""
    tenant = tenants.create(settings={"currency": "EUR"})  # the record a process has cached
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    settings = api.get("/v1/admin/settings")
    changed = {**ok(settings), "currency": "GBP"}
    ok(api.put("/v1/admin/settings", json=changed, headers={"If-Match": settings.headers["etag"]}))
    publish_menu(tenant=tenant, published_by=None)
    with tenant_transaction(tenant.schema_name) as conn:
        assert latest_snapshot(conn)["currency"] == "GBP"
    assert ok(customer_api(client, tenant).get("/v1/store/menu"))["currency"] == "GBP"


def test_an_86_is_recorded_as_an_availability_version(client, tenants, auth_header) -> None:
    """README: an 86 makes a version with `source = 'availability'`."""
    api = owner_api(client, tenants.create(), auth_header)
    item_id = build_small_menu(api)["item"]["id"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    body = {"items": [{"id": item_id, "available": False}]}
    ok(api.post("/v1/admin/menu/availability", json=body))
    rows = execute(f"select source from {api.tenant.schema_name}.menu_versions order by version")
    assert [row["source"] for row in rows] == ["publish", "availability"]


def test_a_window_opening_shows_on_the_storefront_without_a_new_version(
    client, tenants, auth_header
) -> None:
    """The storefront rendering is per minute while windows exist: lunch shows at 11:00."""
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    lunch = {"mon": [["11:00", "15:00"]]}
    ok(api.patch(f"/v1/admin/menu/items/{item['id']}", json={"windows": lunch}))
    ok(api.post("/v1/admin/menu/publish"), 201)
    menus = StorefrontMenus()

    def available_at(hour: int, minute: int) -> bool:
        at = datetime(2026, 6, 1, hour, minute, tzinfo=UTC)  # a Monday
        body, _ = menus.rendered(api.tenant.schema_name, "UTC", at)
        return json.loads(body)["categories"][0]["items"][0]["available"]

    assert [available_at(10, 59), available_at(11, 0), available_at(15, 0)] == [False, True, False]


def test_an_86_waiting_on_a_publish_re_issues_that_publish_stamped_after_it(
    client, tenants, auth_header
) -> None:
    """An 86 that began before a publish but waited for the menu lock behind it re-issues that
    publish (not the snapshot before it, whose older price would come back), and is the newer
    version, so it must not be stamped with the earlier moment its transaction began."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item_id = build_small_menu(api)["item"]["id"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with tenant_transaction(tenant.schema_name) as conn:  # a publish, halfway through
            conn.execute("lock table menu_versions in share row exclusive mode")
            eighty_six = pool.submit(
                api.post,
                "/v1/admin/menu/availability",
                json={"items": [{"id": item_id, "available": False}]},
            )
            wait_for_lock_waiters("menu_versions")
            time.sleep(0.05)  # the 86's transaction began a measurable while before this one ends
            publish_first_item_at(conn, 1200)
        assert ok(eighty_six.result())["published_version"] == 3
    item = ok(customer_api(client, tenant).get("/v1/store/menu"))["categories"][0]["items"][0]
    assert (item["price"], item["available"]) == (1200, False)
    with tenant_transaction(tenant.schema_name) as conn:
        stamps = [row["published_at"] for row in conn.execute(
            "select published_at from menu_versions order by version")]  # fmt: skip
    assert stamps == sorted(stamps), stamps


def test_a_re_created_restaurants_version_1_is_not_served_from_the_old_ones_rendering(
    client, tenants, auth_header
) -> None:
    """A restaurant deleted and created again under the same schema starts again at version 1.
    The storefront tells the two version 1s apart by their ETags, so a process that rendered the
    old menu serves the new one once its pointer is re-checked."""
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    menus = StorefrontMenus(pointer_ttl_s=0)  # re-checks the live pointer on every read
    schema, at = api.tenant.schema_name, datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def first_item() -> dict:
        menu = json.loads(menus.rendered(schema, "UTC", at)[0])
        return {"version": menu["version"], "price": menu["categories"][0]["items"][0]["price"]}

    old = first_item()
    execute(f"drop schema {schema} cascade")  # the restaurant deleted, and created again
    migrate.migrate_tenant(schema)
    item_id = build_small_menu(api)["item"]["id"]  # the same menu, at another price
    ok(api.patch(f"/v1/admin/menu/items/{item_id}", json={"price": old["price"] + 100}))
    ok(api.post("/v1/admin/menu/publish"), 201)
    assert first_item() == {"version": 1, "price": old["price"] + 100}
    assert old["version"] == 1
