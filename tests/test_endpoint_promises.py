"""What each HTTP endpoint promises beyond its body: Cache-Control on private reads, Location on
creates, which host and which kinds it serves, ETags after writes elsewhere, what a failed or
repeated operation answers, and where a kitchen display's catch-up stays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.theming import preset_look
from tests.conftest import execute
from tests.order_fixtures import Shop, open_shop, settle, shop_fixture  # noqa: F401
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    unique_slug,
)
from tests.storefront_helpers import build_small_menu, customer_api, error_paths, ok, owner_api


def test_a_customers_order_is_never_kept_by_a_cache(shop: Shop) -> None:
    """A customer's order is `no-store`: it holds the customer's name and phone, and a CDN must
    not keep it (nor serve a status that has since moved on)."""
    order = shop.place()
    response = shop.customer_view(order)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["etag"] == '"1"'


def test_a_table_lookup_is_never_kept_by_a_cache(shop: Shop) -> None:
    """A table lookup is `no-store`: a rotated QR code must stop resolving at once, not live on in
    a CDN."""
    table = shop.client.post(
        "/api/v1/admin/tables", host=shop.host, headers=shop.owner(), json={"label": "T1"}
    )
    assert table.status_code == 201, table.text
    token = table.json()["qr_token"]
    response = shop.client.get(f"/api/v1/store/tables/{token}", host=shop.host)
    assert ok(response) == {"label": "T1", "table_token": token}
    assert response.headers["cache-control"] == "no-store"


def _local_zone_away_from_midnight() -> tuple[str, datetime]:
    """Tokyo (UTC+9) or Honolulu (UTC-10), whichever is not near local midnight now."""
    for zone in ("Asia/Tokyo", "Pacific/Honolulu"):
        local = datetime.now(ZoneInfo(zone))
        if 2 <= local.hour <= 21:
            return zone, local
    raise AssertionError("one of two zones 19 hours apart is always away from midnight")


def test_the_store_menu_reads_availability_windows_in_the_restaurants_zone(
    client, tenants, auth_header
) -> None:
    """Availability windows are read in the restaurant's time zone: an item available for the two
    local hours around now shows as available (read in UTC, 9 or 10 hours away, it would not)."""
    zone, local = _local_zone_away_from_midnight()
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    window = [(local - timedelta(hours=1)).strftime("%H:%M"),
              (local + timedelta(hours=1)).strftime("%H:%M")]  # fmt: skip
    menu = {"categories": [{"name": "Now", "items": [
        {"name": "Lunch special", "price": 900, "windows": {day: [window]}},
    ]}]}  # fmt: skip
    shop = open_shop(client, tenants, auth_header, settings={"timezone": zone}, menu=menu)
    rendered = ok(customer_api(client, shop.tenant).get("/v1/store/menu"))
    (item,) = rendered["categories"][0]["items"]
    assert (item["name"], item["available"]) == ("Lunch special", True)


def test_a_kitchen_list_naming_no_status_is_refused(shop: Shop) -> None:
    """A status list that names nothing (`?status=,`) is a 422 naming query.status, not an empty
    200 that leaves a display blank as if the kitchen had no tickets."""
    shop.place()
    for status in (",", " , "):
        response = shop.client.get(
            "/api/v1/kitchen/orders",
            host=shop.host,
            headers=shop.staff(),
            params={"status": status},
        )
        assert error_paths(response) == ["query.status"], status


def test_a_new_table_answers_where_it_lives(shop: Shop) -> None:
    """A new table's 201 names its URL in Location, and that URL reads it back."""
    created = shop.client.post(
        "/api/v1/admin/tables", host=shop.host, headers=shop.owner(), json={"label": "Patio"}
    )
    table = ok(created, 201)
    assert created.headers["location"] == f"/api/v1/admin/tables/{table['id']}"
    assert created.headers["etag"] == '"1"'
    again = shop.client.get(created.headers["location"], host=shop.host, headers=shop.owner())
    assert ok(again)["label"] == "Patio"


def test_a_new_option_answers_where_it_lives(client, tenants, auth_header) -> None:
    """A new option's 201 names its URL in Location, and that URL reads it back."""
    api = owner_api(client, tenants.create(), auth_header)
    group = build_small_menu(api)["group"]
    created = api.post(
        f"/v1/admin/menu/groups/{group['id']}/options", json={"name": "Family", "price_delta": 700}
    )
    option = ok(created, 201)
    assert created.headers["location"] == f"/api/v1/admin/menu/options/{option['id']}"
    again = api.get(created.headers["location"].removeprefix("/api"))
    assert ok(again)["name"] == "Family"


ASSETS = "http://127.0.0.1:10000/devstoreaccount1/assets"


def _theme(**changes: Any) -> dict[str, Any]:
    """The classic preset without its assets, with top-level sections replaced by changes."""
    return {**preset_look("classic"), **changes}


def test_a_theme_that_sends_assets_replaces_them(client, tenants, auth_header) -> None:
    """A theme that leaves `assets` out keeps the logo; one that sends them replaces (or removes)
    it."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    ok(api.put("/v1/admin/theme", json=_theme(assets={"logo": f"{ASSETS}/t/old.webp"})))
    kept = ok(api.put("/v1/admin/theme", json=_theme()))
    assert kept["assets"]["logo"] == f"{ASSETS}/t/old.webp"
    replaced = ok(api.put("/v1/admin/theme", json=_theme(assets={"logo": f"{ASSETS}/t/new.webp"})))
    assert replaced["assets"]["logo"] == f"{ASSETS}/t/new.webp"
    removed = ok(api.put("/v1/admin/theme", json=_theme(assets={})))
    assert removed["assets"].get("logo") is None
    served = ok(customer_api(client, tenant).get("/v1/store/config"))["theme"]
    assert served["assets"].get("logo") is None


def test_copying_a_preset_keeps_the_logo(client, tenants, auth_header) -> None:
    """A manager who saves a preset's tokens as they came keeps the restaurant's logo: presets come
    without assets."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    ok(api.put("/v1/admin/theme", json=_theme(assets={"logo": f"{ASSETS}/t/logo.webp"})))
    presets = ok(api.get("/v1/admin/theme/presets"))
    assert presets["default"] in [p["name"] for p in presets["presets"]]
    for preset in presets["presets"]:
        assert "assets" not in preset["tokens"], preset["name"]
        saved = ok(api.put("/v1/admin/theme", json=preset["tokens"]))
        assert saved["assets"]["logo"] == f"{ASSETS}/t/logo.webp", preset["name"]


def test_settings_and_theme_reads_carry_the_current_version_not_a_cached_one(
    client, tenants, auth_header
) -> None:
    """Settings and theme reads come from Postgres, not the request's cached tenant: after a write
    by another app instance, an editor's GET answers the new ETag, so its next If-Match write
    is not refused as stale."""
    tenant = tenants.create(settings={"business_name": "Before", "currency": "EUR"})
    api = owner_api(client, tenant, auth_header)
    first = api.get("/v1/admin/settings")
    assert (ok(first)["business_name"], first.headers["etag"]) == ("Before", '"1"')
    # Another instance saves new settings (this process's tenant cache is not told).
    execute(
        """update tenants set settings = settings || '{"business_name": "After"}'::jsonb,
                  version = version + 1 where id = %s""",
        [tenant.id],
    )
    settings = api.get("/v1/admin/settings")
    assert (ok(settings)["business_name"], settings.headers["etag"]) == ("After", '"2"')
    assert api.get("/v1/admin/theme").headers["etag"] == '"2"'
    changed = {**ok(settings), "business_name": "Again"}
    saved = api.put("/v1/admin/settings", json=changed, headers={"If-Match": '"2"'})
    assert (ok(saved)["business_name"], saved.headers["etag"]) == ("Again", '"3"')


def test_a_restaurants_platform_record_is_not_served_on_a_restaurant_host(
    client, tenants, auth_header
) -> None:
    """The platform API answers on the platform host only: on a restaurant's own host its record
    (owner, domains, audit) is a 404, even for a platform_admin token."""
    tenant = tenants.create()
    admin = auth_header("platform_admin")
    path = f"/api/v1/platform/tenants/{tenant.slug}"
    on_platform = client.get(path, host="stelly.test", headers=admin)
    assert ok(on_platform)["slug"] == tenant.slug
    elsewhere = client.get(path, host=f"{tenant.slug}.stelly.test", headers=admin)
    assert elsewhere.status_code == 404, elsewhere.text
    assert "platform host" in elsewhere.json()["detail"]


@pytest.mark.devhost
def test_a_failed_operation_answers_its_error_and_no_output(host: PlatformHost) -> None:
    """A failed operation's status has the failure in `error` and `output` null, so a client that
    reads `output` as a success's result never takes an error message for one."""
    slug = unique_slug("outp")
    started = host.provision(slug, fail_at_step="create_schema")
    assert started.status_code == 202, started.text
    failed = host.wait(started.json()["id"])
    assert failed["status"] == "failed", failed
    assert "create_schema failed: injected failure" in failed["error"]
    assert failed["output"] is None


def test_brand_upload_urls_are_for_the_logo_and_the_hero_only(client, tenants, auth_header) -> None:
    """Brand upload URLs are for the logo and the hero only: any other kind (`favicon`) is a 404
    naming the two, not a write grant for a blob the storefront never shows."""
    api = owner_api(client, tenants.create(), auth_header, role="manager")
    jpeg = {"content_type": "image/jpeg"}
    assert "upload_url" in ok(api.post("/v1/admin/branding/logo/image-upload", json=jpeg))
    assert "upload_url" in ok(api.post("/v1/admin/branding/hero/image-upload", json=jpeg))
    for kind in ("favicon", "Logo", "banner"):
        refused = api.post(f"/v1/admin/branding/{kind}/image-upload", json=jpeg)
        assert refused.status_code == 404, (kind, refused.text)
        assert "logo and hero" in refused.json()["detail"], kind


def test_kitchen_catch_up_with_nothing_new_stays_where_it_is(shop: Shop) -> None:
    """A display polling with nothing new keeps its place (next_after is the `after` it asked
    for), so the next poll does not replay every event from the start."""
    shop.place()
    settle()
    staff = {"host": shop.host, "headers": shop.staff()}
    newest = ok(shop.client.get("/api/v1/kitchen/orders", **staff))["as_of_seq"]
    assert newest >= 1
    page = ok(shop.client.get("/api/v1/kitchen/events", params={"after": str(newest)}, **staff))
    assert page == {"events": [], "next_after": newest, "has_more": False}


def test_qr_codes_name_the_primary_domain(client, tenants, auth_header) -> None:
    """QR codes name the restaurant's primary domain, so printed codes outlive secondary domains."""
    slug = unique_slug("qr")
    primary, secondary = f"{slug}.stelly.test", f"a-{slug}.example.test"
    tenant = tenants.create(slug=slug, domains=[primary, secondary])
    owner = auth_header("owner", tenant=tenant.slug)
    created = client.post("/api/v1/admin/tables", host=primary, headers=owner, json={"label": "1"})
    table = ok(created, 201)
    assert table["qr_url"] == f"https://{primary}/?table={table['qr_token']}"
    (listed,) = ok(client.get("/api/v1/admin/tables", host=primary, headers=owner))["tables"]
    assert listed["qr_url"] == table["qr_url"]


def test_a_new_item_answers_where_it_lives(client, tenants, auth_header) -> None:
    """A new item's 201 names its URL in Location, and that URL reads it back."""
    api = owner_api(client, tenants.create(), auth_header)
    category = build_small_menu(api)["category"]
    created = api.post(
        "/v1/admin/menu/items", json={"category_id": category["id"], "name": "Bread", "price": 300}
    )
    item = ok(created, 201)
    assert created.headers["location"] == f"/api/v1/admin/menu/items/{item['id']}"
    assert ok(api.get(created.headers["location"].removeprefix("/api")))["name"] == "Bread"


@pytest.mark.devhost
def test_repeating_the_create_of_a_suspended_restaurant_starts_nothing(host: PlatformHost) -> None:
    """The same create request again, for a restaurant the platform has suspended, answers 200
    naming the finished operation and leaves it suspended: it must not run provisioning again."""
    slug = unique_slug("susp")
    created = host.provision(slug)
    assert created.status_code == 202, created.text
    assert host.wait(created.json()["id"])["status"] == "completed"
    execute("update tenants set status = 'suspended' where slug = %s", [slug])
    again = host.provision(slug)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == f"provision-{slug}"
    status = execute("select status from tenants where slug = %s", [slug])[0]["status"]
    assert status == "suspended"
