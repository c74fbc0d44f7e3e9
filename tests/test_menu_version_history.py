"""The published versions an admin can look back on: who made each, and what customers saw."""

from __future__ import annotations

import pytest

from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.storefront_helpers import Api, build_small_menu, error_paths, ok, owner_api

VERSIONS = "/v1/admin/menu/versions"


def test_versions_name_who_published_and_who_86d_newest_first(client, tenants, auth_header) -> None:
    """Each version names the token subject behind it: the publish its publisher, an 86 the
    editor who made it (who took a dish off, and when)."""
    tenant = tenants.create()
    owner = Api(client, tenant, auth_header("owner", tenant=tenant.slug, subject="owner-ada"))
    manager = Api(client, tenant, auth_header("manager", tenant=tenant.slug, subject="mgr-bob"))
    item = build_small_menu(owner)["item"]
    publishing = owner.post("/v1/admin/menu/publish")
    published = ok(publishing, 201)
    assert publishing.headers["location"] == "/api/v1/admin/menu/versions/1"
    assert ok(owner.get(publishing.headers["location"].removeprefix("/api")))["version"] == 1
    change = {"items": [{"id": item["id"], "available": False}]}
    assert ok(manager.post("/v1/admin/menu/availability", json=change))["published_version"] == 2

    history = ok(manager.get(VERSIONS))

    assert history["live_version"] == 2 and history["next_cursor"] is None
    assert [(v["version"], v["source"], v["published_by"]) for v in history["versions"]] == [
        (2, "availability", "mgr-bob"),
        (1, "publish", "owner-ada"),
    ]
    first = history["versions"][1]
    assert (first["etag"], first["published_at"]) == (published["etag"], published["published_at"])


def test_versions_come_a_page_at_a_time(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    for _ in range(3):
        ok(api.post("/v1/admin/menu/publish"), 201)

    first = ok(api.get(VERSIONS, params={"limit": 2}))
    rest = ok(api.get(VERSIONS, params={"limit": 2, "cursor": first["next_cursor"]}))

    assert [v["version"] for v in first["versions"]] == [3, 2] and first["next_cursor"] == 2
    assert [v["version"] for v in rest["versions"]] == [1] and rest["next_cursor"] is None
    assert rest["live_version"] == 3
    assert ok(api.get(VERSIONS, params={"limit": 3}))["next_cursor"] is None  # one full page


def test_an_unpublished_menu_has_no_versions(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    assert ok(api.get(VERSIONS)) == {"live_version": 0, "versions": [], "next_cursor": None}
    missing = api.get(f"{VERSIONS}/1")
    assert missing.status_code == 404, missing.text
    assert missing.json()["detail"] == "No menu version 1 (the newest is 0)"


def test_a_tickets_menu_version_shows_what_the_order_was_charged(shop: Shop) -> None:
    """A manager explaining a bill: the ticket names the version it was priced from, and that
    version still shows the price after the menu was re-priced and published again."""
    order = shop.place(shop.order_body(shop.cola_line()))
    owner = Api(shop.client, shop.tenant, shop.owner())
    cola = shop.menu.items["Cola"]
    ok(owner.patch(f"/v1/admin/menu/items/{cola}", json={"price": 300}))
    republished = ok(owner.post("/v1/admin/menu/publish"), 201)["version"]

    ticket = shop.client.get(
        f"/api/v1/kitchen/orders/{order['id']}", host=shop.host, headers=shop.staff()
    ).json()
    then = ok(owner.get(f"{VERSIONS}/{ticket['menu_version']}"))
    now = ok(owner.get(f"{VERSIONS}/{republished}"))

    def cola_price(version: dict) -> int:
        items = [i for c in version["snapshot"]["categories"] for i in c["items"]]
        return next(i["price"] for i in items if i["id"] == cola)

    assert ticket["menu_version"] == republished - 1
    assert then["version"] == ticket["menu_version"] and then["source"] == "publish"
    assert (cola_price(then), cola_price(now)) == (order["totals"]["subtotal"], 300)


@pytest.mark.parametrize("version", ["0", "-1", "3", "2147483648", "latest"])
def test_a_version_never_published_is_404(client, tenants, auth_header, version: str) -> None:
    """Past the newest, below 1, beyond what a version number can be, or no number at all."""
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    for _ in range(2):
        ok(api.post("/v1/admin/menu/publish"), 201)
    response = api.get(f"{VERSIONS}/{version}")
    assert response.status_code == 404, response.text
    assert response.content_type == "application/problem+json"


def test_another_restaurants_versions_stay_its_own(client, tenants, auth_header) -> None:
    ours = owner_api(client, tenants.create(), auth_header)
    theirs = owner_api(client, tenants.create(), auth_header)
    build_small_menu(theirs)
    ok(theirs.post("/v1/admin/menu/publish"), 201)

    assert ok(ours.get(VERSIONS))["versions"] == []
    assert ours.get(f"{VERSIONS}/1").status_code == 404


def test_versions_are_for_editors_only(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    owner = owner_api(client, tenant, auth_header)
    build_small_menu(owner)
    ok(owner.post("/v1/admin/menu/publish"), 201)
    staff = owner_api(client, tenant, auth_header, role="staff")
    assert staff.get(VERSIONS).status_code == 403
    assert staff.get(f"{VERSIONS}/1").status_code == 403


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"cursor": 0}, {"cursor": 2**31}, {"cursor": "x"}, {"page": 2}],
)
def test_a_bad_page_request_names_the_parameter(client, tenants, auth_header, params: dict) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    [name] = params
    assert error_paths(api.get(VERSIONS, params=params)) == [f"query.{name}"]


def test_menu_versions_come_20_a_page_by_default_and_100_at_most(
    client, tenants, auth_header
) -> None:
    """README route table: `GET .../menu/versions` takes `limit` 1 to 100, default 20. 21 versions
    come 20 on the first page (with a cursor to the 21st), and `?limit=100` is accepted."""
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    for _ in range(21):
        ok(api.post("/v1/admin/menu/publish"), 201)

    first = ok(api.get(VERSIONS))
    assert len(first["versions"]) == 20 and first["next_cursor"] is not None
    assert [v["version"] for v in first["versions"]] == list(range(21, 1, -1))
    rest = ok(api.get(VERSIONS, params={"cursor": str(first["next_cursor"])}))
    assert [v["version"] for v in rest["versions"]] == [1] and rest["next_cursor"] is None
    everything = ok(api.get(VERSIONS, params={"limit": "100"}))
    assert len(everything["versions"]) == 21 and everything["next_cursor"] is None
