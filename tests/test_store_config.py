"""`GET /api/v1/store/config`: contents, ETag/304, Cache-Control, and the cache chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.directory import directory_get
from shared.restaurant_settings import default_settings
from shared.store_config import store_config_bytes
from shared.tenancy import TenantResolver, _lookup_database
from shared.tenant_profile import update_tenant_profile
from shared.theming import PRESETS
from shared.versioning import Expected
from shared.weekly_windows import WEEKDAYS
from tests.conftest import execute
from tests.order_fixtures import open_shop
from tests.storefront_helpers import build_small_menu, customer_api, ok, owner_api

STORE_CACHE = "public, max-age=60, stale-while-revalidate=300"


def test_config_has_what_a_storefront_draws_first(client, tenants) -> None:
    tenant = tenants.create(
        settings={"business_name": "Sushi Go", "currency": "JPY", "timezone": "Asia/Tokyo",
                  "locale": "ja-JP", "contact": {"phone": "+81 3 0000 0000"}},
    )  # fmt: skip
    response = customer_api(client, tenant).get("/v1/store/config")
    config = ok(response)
    assert config["name"] == "Sushi Go"
    assert (config["currency"], config["currency_exponent"]) == ("JPY", 0)
    assert (config["locale"], config["timezone"]) == ("ja-JP", "Asia/Tokyo")
    assert config["tax"] == {"rate_bp": 0, "inclusive": False}
    assert (config["hours"], config["open_now"]) == (None, True)
    assert config["contact"] == {"phone": "+81 3 0000 0000"}
    assert set(config["theme"]) == {"colors", "typography", "shape", "assets"}
    assert response.headers["cache-control"] == STORE_CACHE
    assert response.content_type == "application/json"


def test_etag_and_304(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    customer = customer_api(client, tenant)
    etag = customer.get("/v1/store/config").headers["etag"]
    cached = customer.get("/v1/store/config", headers={"If-None-Match": etag})
    assert (cached.status_code, cached.body) == (304, b"")
    assert cached.headers["etag"] == etag
    assert cached.headers["cache-control"] == STORE_CACHE
    # If-None-Match compares weakly: the ETag a compressing CDN weakened, in a list, still matches.
    weakened = customer.get("/v1/store/config", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weakened.status_code == 304
    # A settings change is visible at once in this process: new ETag, new name.
    settings = {**default_settings("Renamed"), "currency": "EUR"}
    ok(owner_api(client, tenant, auth_header).put("/v1/admin/settings", json=settings))
    fresh = customer.get("/v1/store/config", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag
    assert fresh.json()["name"] == "Renamed"


def test_open_now_follows_the_hours(client, tenants) -> None:
    local = datetime.now(UTC)
    in_two_days = WEEKDAYS[(local + timedelta(days=2)).weekday()]
    closed = tenants.create(settings={"hours": {in_two_days: [["00:00", "24:00"]]}})
    config = ok(customer_api(client, closed).get("/v1/store/config"))
    assert config["open_now"] is False
    assert config["hours"] == {in_two_days: [["00:00", "24:00"]]}


def test_a_cached_config_is_one_rendering_per_minute(tenants) -> None:
    tenant = tenants.create(settings={"hours": {"mon": [["11:00", "15:00"]]}})
    monday_noon = datetime(2024, 3, 25, 12, 0, tzinfo=UTC)
    first = store_config_bytes(tenant, monday_noon)
    assert store_config_bytes(tenant, monday_noon + timedelta(seconds=30)) is first
    closing = store_config_bytes(tenant, datetime(2024, 3, 25, 15, 0, tzinfo=UTC))
    assert closing[1] != first[1]
    assert b'"open_now":false' in closing[0]


def test_cache_aside_and_invalidation_across_two_processes(tenants) -> None:
    """Two resolvers over one directory: the writer's fresh at once, the other after its TTL.

    Neither goes back to Postgres for the change: the directory already holds it.
    """
    tenant = tenants.create()
    domain = f"{tenant.slug}.stelly.test"
    database_reads: list[str] = []

    def database(d: str):
        database_reads.append(d)
        return _lookup_database(d)

    clocks = {"writer": 0.0, "reader": 0.0}
    writer = TenantResolver(ttl_s=5, clock=lambda: clocks["writer"], database_get=database)
    reader = TenantResolver(ttl_s=5, clock=lambda: clocks["reader"], database_get=database)
    assert writer.lookup(domain).settings == {}
    assert reader.lookup(domain).settings == {}
    assert database_reads == [domain]  # the second process found the directory filled

    settings = {**default_settings("Fresh Name")}
    record = update_tenant_profile(
        tenant_id=tenant.id,
        expected=Expected.of(1, from_if_match=True),
        settings=settings,
        resolver=writer,
    )
    assert record.version == 2
    assert directory_get(domain).settings["business_name"] == "Fresh Name"  # Postgres, then here
    assert writer.lookup(domain).settings["business_name"] == "Fresh Name"
    stale = reader.lookup(domain)
    assert stale.version == 1  # still inside the reader's TTL
    clocks["reader"] = 6.0
    fresh = reader.lookup(domain)
    assert (fresh.version, fresh.settings["business_name"]) == (2, "Fresh Name")
    assert database_reads == [domain]

    now = datetime.now(UTC)
    assert store_config_bytes(stale, now)[1] != store_config_bytes(fresh, now)[1]
    assert b'"name":"Fresh Name"' in store_config_bytes(fresh, now)[0]


def test_unknown_host_is_404(client) -> None:
    response = client.get("/api/v1/store/config", host="nobody-here.stelly.test")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_no_cache_keeps_a_storefront_error(client, tenants) -> None:
    # Front Door keeps an answer without Cache-Control for days: a host that answered 404
    # before its restaurant existed, or 410 before another claimed the domain, would stay so.
    closed = tenants.create(status="deleted")
    for path in ("/api/v1/store/config", "/api/v1/store/menu"):
        unknown = client.get(path, host="not-yet-a-restaurant.stelly.test")
        gone = client.get(path, host=f"{closed.slug}.stelly.test")
        assert (unknown.status_code, gone.status_code) == (404, 410)
        assert unknown.headers["cache-control"] == gone.headers["cache-control"] == "no-store"


def test_a_theme_at_the_size_limits_reaches_the_storefront(client, tenants, auth_header) -> None:
    # Long font URLs make the tenant record larger than one Table Storage property holds: the
    # directory spreads it over several, so the saved theme is what customers get.
    tenant = tenants.create()
    owner, customer = owner_api(client, tenant, auth_header), customer_api(client, tenant)
    ok(customer.get("/v1/store/config"))  # the directory holds the tenant's record
    tokens = json.loads(json.dumps(PRESETS["classic"]))
    tokens["colors"]["primary"] = "#1d4ed8"
    for role in ("heading", "body"):
        tokens["typography"][role]["urls"] = [f"fonts/{'a' * 2030}{i}.woff2" for i in range(8)]
    ok(owner.put("/v1/admin/theme", json=tokens))
    assert ok(customer.get("/v1/store/config"))["theme"]["colors"]["primary"] == "#1d4ed8"
    record = directory_get(f"{tenant.slug}.stelly.test")
    assert record is not None and record.theme["colors"]["primary"] == "#1d4ed8"


def test_a_new_currency_reaches_the_storefront_with_the_next_publish(
    client, tenants, auth_header
) -> None:
    # Prices are minor units of the published menu's currency: until the owner republishes
    # (re-pricing if needed), the storefront shows and charges in that one, and says so.
    shop = open_shop(client, tenants, auth_header)  # EUR
    owner = shop.owner()
    current = client.get("/api/v1/admin/settings", host=shop.host, headers=owner).json()
    changed = {**current, "currency": "JPY"}
    saved = client.put("/api/v1/admin/settings", host=shop.host, headers=owner, json=changed)
    assert saved.status_code == 200

    def currencies() -> tuple[str, int, str, str]:
        config = client.get("/api/v1/store/config", host=shop.host).json()
        menu = client.get("/api/v1/store/menu", host=shop.host).json()
        receipt = shop.place(shop.order_body(shop.cola_line()))
        return (config["currency"], config["currency_exponent"], menu["currency"],
                receipt["totals"]["currency"])  # fmt: skip

    assert currencies() == ("EUR", 2, "EUR", "EUR")
    published = client.post("/api/v1/admin/menu/publish", host=shop.host, headers=owner)
    assert published.status_code == 201
    assert currencies() == ("JPY", 0, "JPY", "JPY")


def test_publish_takes_the_currency_saved_now_not_the_one_this_instance_cached(
    client, tenants, auth_header
) -> None:
    # Another instance saved GBP; this one still holds the tenant record (EUR) it cached a
    # moment ago, and the owner's publish lands here. The snapshot keeps its currency until the
    # next publish, so a cached one would charge customers in EUR for good.
    tenant = tenants.create(settings={"currency": "EUR", "timezone": "UTC"})
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    assert ok(customer_api(client, tenant).get("/v1/store/config"))["currency"] == "EUR"
    execute(
        """update tenants set settings = settings || '{"currency": "GBP"}',
                  version = version + 1 where id = %s""",
        [tenant.id],
    )
    published = ok(api.post("/v1/admin/menu/publish"), 201)
    menu = ok(customer_api(client, tenant).get("/v1/store/menu"))
    assert (menu["version"], menu["currency"]) == (published["version"], "GBP")


def test_open_now_turns_at_the_minute_not_the_hour(tenants) -> None:
    """Rendered config is cached per minute: at 15:30 a restaurant closing then says closed."""
    tenant = tenants.create(settings={"hours": {"mon": [["11:00", "15:30"]]}})
    before = store_config_bytes(tenant, datetime(2024, 3, 25, 15, 29, tzinfo=UTC))
    assert b'"open_now":true' in before[0]
    after = store_config_bytes(tenant, datetime(2024, 3, 25, 15, 30, tzinfo=UTC))
    assert b'"open_now":false' in after[0]
