"""Publishing and the storefront menu: snapshot contract, immutability, 86 live, ETag/304."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from shared.db import tenant_transaction
from shared.menus.published import latest_snapshot, snapshot_at
from shared.weekly_windows import WEEKDAYS
from tests.conftest import execute, wait_for_lock_waiters
from tests.storefront_helpers import build_small_menu, customer_api, ok, owner_api

STORE_CACHE = "public, max-age=60, stale-while-revalidate=300"


def test_unpublished_tenant_gets_an_empty_menu(client, tenants) -> None:
    response = customer_api(client, tenants.create()).get("/v1/store/menu")
    assert ok(response) == {"version": 0, "categories": []}
    assert response.headers["cache-control"] == STORE_CACHE
    assert response.headers["etag"].startswith('"')


def test_publish_writes_the_snapshot_contract(client, tenants, auth_header) -> None:
    tenant = tenants.create(settings={"currency": "GBP", "timezone": "Europe/London"})
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    published = ok(api.post("/v1/admin/menu/publish"), 201)
    assert published["version"] == 1
    assert published["source"] == "publish"
    with tenant_transaction(tenant.schema_name) as conn:
        snapshot = latest_snapshot(conn)
    assert set(snapshot) >= {"version", "published_at", "currency", "categories"}
    assert (snapshot["version"], snapshot["currency"]) == (1, "GBP")
    category = snapshot["categories"][0]
    assert set(category) >= {"id", "name", "rank", "visible", "items"}
    item = category["items"][0]
    assert item == {
        "id": built["item"]["id"], "name": "Margherita", "description": "", "price": 950,
        "allergens": ["gluten", "milk"], "dietary": ["vegetarian"], "available": True,
        "sold_out_until": None, "station": "pizza", "windows": None, "image": None,
        "modifier_groups": [{
            "id": built["group"]["id"], "name": "Size", "min": 1, "max": 1, "free_quantity": 0,
            "options": [
                {"id": built["group"]["options"][0]["id"], "name": "Regular", "price_delta": 0,
                 "default": True, "available": True, "sold_out_until": None},
                {"id": built["group"]["options"][1]["id"], "name": "Large", "price_delta": 300,
                 "default": False, "available": True, "sold_out_until": None},
            ],
        }],
    }  # fmt: skip
    row = execute(f"select etag, published_by from {tenant.schema_name}.menu_versions")[0]
    assert row["etag"] == published["etag"]
    assert row["published_by"]


def test_snapshots_are_immutable(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item = build_small_menu(api)["item"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    ok(api.patch(f"/v1/admin/menu/items/{item['id']}", json={"price": 1200}))
    ok(api.post("/v1/admin/menu/publish"), 201)
    with tenant_transaction(tenant.schema_name) as conn:
        first, second = snapshot_at(conn, 1), snapshot_at(conn, 2)
    assert first["categories"][0]["items"][0]["price"] == 950
    assert second["categories"][0]["items"][0]["price"] == 1200
    for statement in ("update {}.menu_versions set etag = 'x'", "delete from {}.menu_versions"):
        with pytest.raises(psycopg.errors.RestrictViolation):
            execute(statement.format(tenant.schema_name))


def test_store_menu_shows_the_published_menu_as_customers_see_it(
    client, tenants, auth_header
) -> None:
    tenant = tenants.create(settings={"currency": "EUR"})
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    hidden = ok(
        api.post("/v1/admin/menu/categories", json={"name": "Staff", "visible": False}), 201
    )
    ok(
        api.post(
            "/v1/admin/menu/items", json={"category_id": hidden["id"], "name": "Meal", "price": 0}
        ),
        201,
    )
    ok(api.post("/v1/admin/menu/publish"), 201)

    menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
    assert (menu["version"], menu["currency"]) == (1, "EUR")
    assert [c["name"] for c in menu["categories"]] == ["Pizza"]
    item = menu["categories"][0]["items"][0]
    assert item["id"] == built["item"]["id"]
    assert (item["price"], item["available"], item["image"]) == (950, True, None)
    assert "station" not in item and "windows" not in item
    group = item["modifier_groups"][0]
    assert (group["name"], group["min"], group["max"]) == ("Size", 1, 1)
    assert [(o["name"], o["price_delta"]) for o in group["options"]] == [
        ("Regular", 0),
        ("Large", 300),
    ]


def test_store_menu_etag_and_304(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    customer = customer_api(client, tenant)
    first = customer.get("/v1/store/menu")
    etag = first.headers["etag"]
    again = customer.get("/v1/store/menu", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.body == b""
    assert (again.headers["etag"], again.headers["cache-control"]) == (etag, STORE_CACHE)
    ok(api.post("/v1/admin/menu/publish"), 201)
    changed = customer.get("/v1/store/menu", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["version"] == 2


def test_86_goes_live_without_publishing_other_edits(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    item_id, large = built["item"]["id"], built["group"]["options"][1]
    ok(api.post("/v1/admin/menu/publish"), 201)
    ok(api.patch(f"/v1/admin/menu/items/{item_id}", json={"price": 1990}))  # a draft edit

    result = ok(
        api.post(
            "/v1/admin/menu/availability",
            json={
                "items": [{"id": item_id, "available": False}],
                "options": [{"id": large["id"], "available": False}],
            },
        )
    )
    assert result["published_version"] == 2
    assert [(i["id"], i["available"], i["version"]) for i in result["items"]] == [
        (item_id, False, 3)
    ]
    menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
    item = menu["categories"][0]["items"][0]
    assert (item["available"], item["price"]) == (False, 950)
    assert [o["available"] for o in item["modifier_groups"][0]["options"]] == [True, False]
    assert ok(api.get(f"/v1/admin/menu/items/{item_id}"))["available"] is False

    # Back on: live again; an unchanged flag issues no new version.
    back = ok(
        api.post(
            "/v1/admin/menu/availability", json={"items": [{"id": item_id, "available": True}]}
        )
    )
    assert back["published_version"] == 3
    again = ok(
        api.post(
            "/v1/admin/menu/availability", json={"items": [{"id": item_id, "available": True}]}
        )
    )
    assert again["published_version"] is None
    assert ok(customer_api(client, tenant).get("/v1/store/menu"))["categories"][0]["items"][0][
        "available"
    ]


def test_86_before_any_publish_changes_only_the_draft(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item_id = build_small_menu(api)["item"]["id"]
    result = ok(
        api.post(
            "/v1/admin/menu/availability", json={"items": [{"id": item_id, "available": False}]}
        )
    )
    assert result["published_version"] is None
    ok(api.post("/v1/admin/menu/publish"), 201)
    menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
    assert menu["categories"][0]["items"][0]["available"] is False


def test_published_photo_stays_while_a_newer_upload_is_pending_or_rejected(
    client, tenants, auth_header
) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item_id = build_small_menu(api)["item"]["id"]

    def set_image(image: str | None, status: str) -> dict | None:
        execute(
            f"update {tenant.schema_name}.menu_items set image = %s::jsonb, image_status = %s"
            " where id = %s",
            [image, status, item_id],
        )
        ok(api.post("/v1/admin/menu/publish"), 201)
        menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
        return menu["categories"][0]["items"][0]["image"]

    # The first upload is still being processed: nothing to show yet.
    assert set_image(None, "pending") is None
    photo = '{"w400": "http://127.0.0.1:10000/devstoreaccount1/assets/x/400.webp"}'
    assert set_image(photo, "ready") == {
        "w400": "http://127.0.0.1:10000/devstoreaccount1/assets/x/400.webp"
    }
    # A replacement is pending, then rejected: customers keep seeing the finished photo.
    assert set_image(photo, "pending") is not None
    assert set_image(photo, "rejected") is not None


def test_windows_decide_availability_in_the_tenants_zone(client, tenants, auth_header) -> None:
    tenant = tenants.create(settings={"timezone": "Pacific/Auckland"})
    api = owner_api(client, tenant, auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "All day"}), 201)
    local = datetime.now(UTC).astimezone(ZoneInfo("Pacific/Auckland"))
    today = WEEKDAYS[local.weekday()]
    # Two days on: never now, even if the minute rolls over midnight during the test.
    tomorrow = WEEKDAYS[(local + timedelta(days=1)).weekday()]
    later = WEEKDAYS[(local + timedelta(days=2)).weekday()]
    all_day = [["00:00", "24:00"]]
    for name, windows in (
        ("Now", {today: all_day, tomorrow: all_day}),
        ("Later", {later: all_day}),
    ):
        body = {"category_id": category["id"], "name": name, "price": 100, "windows": windows}
        ok(api.post("/v1/admin/menu/items", json=body), 201)
    ok(api.post("/v1/admin/menu/publish"), 201)
    items = ok(customer_api(client, tenant).get("/v1/store/menu"))["categories"][0]["items"]
    assert [(i["name"], i["available"]) for i in items] == [("Now", True), ("Later", False)]


def _dish_names(client, tenant) -> list[str]:
    store = ok(customer_api(client, tenant).get("/v1/store/menu"))
    return [item["name"] for category in store["categories"] for item in category["items"]]


def test_one_tenants_menu_never_shows_on_another_host(client, tenants, auth_header) -> None:
    """Unpublished, the other restaurant's menu is empty; once both are at version 1, in the
    same time zone, each host renders its own (the renderings are per restaurant, not per
    version number)."""
    mine, theirs = tenants.create(), tenants.create()
    api = owner_api(client, mine, auth_header)
    build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    assert _dish_names(client, mine) == ["Margherita"]
    assert ok(customer_api(client, theirs).get("/v1/store/menu")) == {
        "version": 0,
        "categories": [],
    }
    other = owner_api(client, theirs, auth_header)
    pasta = ok(other.post("/v1/admin/menu/categories", json={"name": "Pasta"}), 201)
    dish = {"category_id": pasta["id"], "name": "Carbonara", "price": 1200}
    ok(other.post("/v1/admin/menu/items", json=dish), 201)
    assert ok(other.post("/v1/admin/menu/publish"), 201)["version"] == 1
    assert _dish_names(client, theirs) == ["Carbonara"]
    assert _dish_names(client, mine) == ["Margherita"]


def test_concurrent_publishes_and_86s_get_consecutive_versions(
    client, tenants, auth_header
) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item_id = build_small_menu(api)["item"]["id"]
    ok(api.post("/v1/admin/menu/publish"), 201)

    def publish(_: int) -> int:
        return api.post("/v1/admin/menu/publish").status_code

    def toggle(n: int) -> int:
        body = {"items": [{"id": item_id, "available": n % 2 == 0}]}
        return api.post("/v1/admin/menu/availability", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(publish, range(6))) + list(pool.map(toggle, range(6)))
    assert statuses == [201] * 6 + [200] * 6
    versions = execute(f"select version from {tenant.schema_name}.menu_versions order by 1")
    assert [row["version"] for row in versions] == list(range(1, len(versions) + 1))


def test_a_publish_waiting_on_an_86_publishes_it(client, tenants, auth_header) -> None:
    """An 86 commits its draft row and its re-issued snapshot together, holding the versions
    lock; a publish that starts meanwhile must read the draft after it, not before."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    item_id = build_small_menu(api)["item"]["id"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with tenant_transaction(tenant.schema_name) as conn:  # an 86, halfway through
            conn.execute("lock table menu_versions in share row exclusive mode")
            conn.execute("update menu_items set available = false where id = %s", [item_id])
            publishing = pool.submit(api.post, "/v1/admin/menu/publish")
            wait_for_lock_waiters("menu_versions")
        assert ok(publishing.result(), 201)["version"] == 2
    menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
    assert menu["categories"][0]["items"][0]["available"] is False


def _store_items(client, tenant) -> dict[str, dict]:
    menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
    return {item["name"]: item for c in menu["categories"] for item in c["items"]}


def test_86_after_an_import_reaches_the_dish_customers_still_see(
    client, tenants, auth_header
) -> None:
    # An import replaced the draft, but customers still order from the live menu until the next
    # publish: its dishes must still be 86-able without publishing the unfinished draft.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    # The manager prepares next season's menu in the draft; customers still see the live one.
    ok(
        api.post(
            "/v1/admin/menu/import",
            json={"categories": [{"name": "Bowls", "items": [{"name": "Poke", "price": 1290}]}]},
        )
    )
    assert "Margherita" in _store_items(client, tenant)

    # Tonight the Margherita sells out: 86 it, live at once (README: no publish needed).
    response = api.post(
        "/v1/admin/menu/availability",
        json={"items": [{"id": built["item"]["id"], "available": False}]},
    )
    assert response.status_code == 200, response.text
    # Only the storefront has it, so there is no draft row (and no draft version) to report.
    assert response.json()["items"] == [
        {"id": built["item"]["id"], "available": False, "sold_out_until": None, "version": None}
    ]
    assert response.json()["published_version"] is not None
    assert _store_items(client, tenant)["Margherita"]["available"] is False
    # An id neither in the draft nor on the storefront is still a 404.
    unknown = api.post(
        "/v1/admin/menu/availability",
        json={"items": [{"id": str(uuid.uuid4()), "available": False}]},
    )
    assert unknown.status_code == 404


def test_item_whose_required_group_is_all_86d_is_not_shown_orderable(
    client, tenants, auth_header
) -> None:
    # Every option of a required group 86'd: no order for the item can succeed, so the
    # storefront must not offer it.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)  # Margherita requires one Size: Regular or Large
    ok(api.post("/v1/admin/menu/publish"), 201)
    regular, large = built["group"]["options"]
    response = api.post(
        "/v1/admin/menu/availability",
        json={
            "options": [
                {"id": regular["id"], "available": False},
                {"id": large["id"], "available": False},
            ]
        },
    )
    assert response.status_code == 200, response.text
    order = client.post(
        "/api/v1/store/orders",
        host=f"{tenant.slug}.stelly.test",
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "10.0.0.7"},
        json={
            "lines": [{"item_id": built["item"]["id"], "quantity": 1, "option_ids": []}],
            "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0000"},
        },
    )
    assert order.status_code == 422, order.text
    assert "choose at least 1" in order.text, order.text
    item = _store_items(client, tenant)["Margherita"]
    assert item["available"] is False
