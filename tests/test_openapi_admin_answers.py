"""A manager's admin app and a platform admin's console built only from `GET /api/openapi.json`:
the answers the running app gives them must be the answers its description declares (status,
media type, closed body schema, headers), as tests/test_openapi_answers.py checks a storefront's
and a kitchen display's. Each admin shape is met with its optional parts present at least once,
so a shape that is wrong about a photo, an 86's until or an old snapshot fails here."""

from __future__ import annotations

from typing import Any

import pytest

from devhost.testclient import TestResponse as Answer
from tests.image_fixtures import deliver, encoded, logo_png, photo, put_with_grant, uploads_name
from tests.order_fixtures import MENU, Shop, order_access, settle, shop_fixture  # noqa: F401
from tests.storefront_helpers import owner_api
from tests.test_images_odd_files import upload_and_process
from tests.test_openapi_answers import mismatches

pytestmark = pytest.mark.usefixtures("webpubsub_hub")

ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NOT_A_PHOTO = b"Dear manager,\nthis is not a photo.\n" * 20


class Journey:
    """One caller's requests on one host, each kept with the path template it was declared
    under, to check against the description at the end."""

    def __init__(self, shop: Shop, headers: dict[str, str], host: str | None = None) -> None:
        self.client, self.host, self.headers = shop.client, host or shop.host, headers
        self.answers: list[tuple[str, str, Answer]] = []

    def __call__(
        self, method: str, path: str, url: str, status: int = 200, **kw: Any
    ) -> dict[str, Any]:
        headers = {**self.headers, **kw.pop("headers", {})}
        response = self.client.request(method, "/api" + url, host=self.host, headers=headers, **kw)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        self.answers.append((method, path, response))
        return response.json() if response.body else {}


def _component(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def _filled(document: dict[str, Any], schema: dict[str, Any], value: Any, seen: set[str]) -> None:
    """Record `Component.property` for every property value is seen to have, not null."""
    name = _component(schema)
    if name:
        schema = document["components"]["schemas"][name]
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if value is not None and len(branches) == 1:
        schema = branches[0]
        name = name or _component(schema)
        if _component(schema):
            return _filled(document, schema, value, seen)
    if isinstance(value, dict):
        for key, field in schema.get("properties", {}).items():
            if value.get(key) is not None:
                seen.add(f"{name}.{key}")
                _filled(document, field, value[key], seen)
    elif isinstance(value, list):
        for entry in value:
            _filled(document, schema.get("items", {}), entry, seen)


def _optional(schema: dict[str, Any]) -> bool:
    branches = schema.get("anyOf", [])
    return any(branch.get("type") == "null" for branch in branches)


def never_filled(
    document: dict[str, Any], answers: list[tuple[str, str, Answer]], names: set[str]
) -> list[str]:
    """The optional (nullable or not required) properties of the components named that no
    answer showed with a value: a shape whose optional parts were never checked."""
    seen: set[str] = set()
    for method, path, response in answers:
        if response.status_code < 300 and response.body:
            answer = document["paths"][path][method.lower()]["responses"][str(response.status_code)]
            schema = answer["content"]["application/json"]["schema"]
            _filled(document, schema, response.json(), seen)
    missing = []
    for name in sorted(names):
        schema = document["components"]["schemas"][name]
        required = set(schema.get("required", ()))
        for key, field in schema["properties"].items():
            wanted = key not in required or _optional(field)
            if wanted and f"{name}.{key}" not in seen:
                missing.append(f"{name}.{key}")
    return missing


def check(document: dict[str, Any], journey: Journey, names: set[str]) -> None:
    found = [line for answer in journey.answers for line in mismatches(document, *answer)]
    assert found == [], "\n".join(found)
    assert set(names) <= set(document["components"]["schemas"]), names
    assert never_filled(document, journey.answers, names) == []


MENU_SHAPES = {
    "CategoryOut", "ItemOut", "OptionOut", "GroupOut", "DraftCategoryOut", "DraftMenuOut",
    "CategoriesReorderedOut", "ItemsReorderedOut", "OptionsReorderedOut", "AvailabilityEntryOut",
    "AvailabilityOut", "ImportCountsOut", "VersionHeadOut", "PublishedOut", "VersionsPageOut",
    "SnapshotOptionOut", "SnapshotGroupOut", "SnapshotItemOut", "SnapshotCategoryOut",
    "SnapshotOut", "MenuVersionOut", "UploadGrantOut", "UploadHeadersOut",
}  # fmt: skip


def test_a_managers_menu_answers_match_their_shapes(
    document: dict[str, Any], shop: Shop, app_functions: list
) -> None:
    """Build a menu row by row, edit and reorder it, give a dish a photo (and another a file
    that is refused), publish, 86 with an until from the office and from the line (a dish only
    the live menu still has too), read the versions, import: every answer is its shape."""
    manager = shop.auth("manager", tenant=shop.slug)
    call = Journey(shop, manager)
    api = owner_api(shop.client, shop.tenant, shop.auth, role="manager")

    groups, categories, items = (
        "/v1/admin/menu/groups",
        "/v1/admin/menu/categories",
        "/v1/admin/menu/items",
    )
    group = call(
        "POST",
        groups,
        groups,
        201,
        json={
            "name": "Sauce",
            "min": 0,
            "max": 2,
            "free_quantity": 1,
            "options": [{"name": "Chili", "price_delta": 50, "default": True}, {"name": "Garlic"}],
        },
    )
    category = call("POST", categories, categories, 201, json={"name": "Specials"})
    diavola = call(
        "POST",
        items,
        items,
        201,
        json={
            "category_id": category["id"],
            "name": "Diavola",
            "description": "Hot salami",
            "price": 1200,
            "allergens": ["gluten", "milk"],
            "dietary": ["spicy"],
            "windows": ALL_DAY,
            "station": "oven",
            "modifier_group_ids": [group["id"]],
        },
    )
    marinara = call(
        "POST",
        items,
        items,
        201,
        json={"category_id": category["id"], "name": "Marinara", "price": 800},
    )
    options = f"{groups}/{{id}}/options"
    basil = call(
        "POST",
        options,
        f"{groups}/{group['id']}/options",
        201,
        json={"name": "Basil", "price_delta": 30},
    )
    for path, row, change in (
        (categories, category, {"name": "Chef's specials"}),
        (items, diavola, {"description": "Hot salami, chili oil"}),
        (groups, group, {"name": "Sauces"}),
        ("/v1/admin/menu/options", basil, {"price_delta": 20}),
    ):
        call("GET", f"{path}/{{id}}", f"{path}/{row['id']}")
        call("PATCH", f"{path}/{{id}}", f"{path}/{row['id']}", json=change)

    draft = call("GET", "/v1/admin/menu", "/v1/admin/menu")
    ids = [c["id"] for c in draft["categories"]][::-1]
    call("POST", f"{categories}/reorder", f"{categories}/reorder", json={"ids": ids})
    call(
        "POST",
        f"{categories}/{{id}}/items/reorder",
        f"{categories}/{category['id']}/items/reorder",
        json={"ids": [marinara["id"], diavola["id"]]},
    )
    option_ids = [
        o["id"] for o in call("GET", f"{groups}/{{id}}", f"{groups}/{group['id']}")["options"]
    ]
    call(
        "POST",
        f"{options}/reorder",
        f"{groups}/{group['id']}/options/reorder",
        json={"ids": option_ids[::-1]},
    )

    upload_and_process(api, diavola["id"], encoded(photo(800, 600), "JPEG"), app_functions)
    refused = upload_and_process(api, marinara["id"], NOT_A_PHOTO, app_functions)
    assert refused["image_status"] == "rejected" and refused["image_reason"], refused
    grant = f"{items}/{{id}}/image-upload"
    margherita = shop.menu.items["Margherita"]
    call("POST", grant, f"{items}/{margherita}/image-upload", json={"content_type": "image/png"})

    call("POST", "/v1/admin/menu/publish", "/v1/admin/menu/publish", 201)
    chili = next(o["id"] for o in group["options"] if o["name"] == "Chili")
    sold_out = call(
        "POST",
        "/v1/admin/menu/availability",
        "/v1/admin/menu/availability",
        json={
            "items": [{"id": diavola["id"], "available": False, "until": "tomorrow"}],
            "options": [{"id": chili, "available": False, "until": "tomorrow"}],
        },
    )
    assert sold_out["published_version"] and sold_out["items"][0]["sold_out_until"], sold_out
    call("GET", "/v1/admin/menu", "/v1/admin/menu")
    versions = "/v1/admin/menu/versions"
    page = call("GET", versions, versions, params={"limit": "1"})
    assert page["next_cursor"] is not None, page
    seen = call("GET", f"{versions}/{{version}}", f"{versions}/{sold_out['published_version']}")
    dish = next(
        i for c in seen["snapshot"]["categories"] for i in c["items"] if i["name"] == "Diavola"
    )
    assert dish["image"] and dish["sold_out_until"] and dish["windows"], dish

    # Gone from the draft, still on the live menu: the line 86es what customers can order.
    ok_gone = shop.client.delete(f"/api{items}/{marinara['id']}", host=shop.host, headers=manager)
    assert ok_gone.status_code == 204, ok_gone.text
    line = call(
        "POST",
        "/v1/kitchen/availability",
        "/v1/kitchen/availability",
        headers=shop.staff(),
        json={
            "items": [
                {"id": marinara["id"], "available": False},
                {"id": diavola["id"], "available": True},
            ]
        },
    )
    assert line["items"][0]["version"] is None and line["items"][1]["version"], line
    call("POST", "/v1/admin/menu/import", "/v1/admin/menu/import", json=MENU)
    check(document, call, MENU_SHAPES)


DESK_SHAPES = {
    "TableOut", "TablesOut", "DayOrderOut", "DayStatusCountsOut", "DaySalesOut", "ItemSoldOut",
    "DaySummaryOut", "DayBookOut", "ManagerLineOut", "ManagerTotalsOut", "ManagerStepOut",
    "ManagerOrderOut", "UploadGrantOut", "UploadHeadersOut", "BrandImageOut", "BrandImagesOut",
    "ThemePresetOut", "ThemePresetsOut",
}  # fmt: skip


def test_a_managers_tables_orders_images_and_presets_match_their_shapes(
    document: dict[str, Any], shop: Shop, app_functions: list
) -> None:
    """Tables and their QR codes, a day of orders (a pickup promised a time, a dine-in its
    customer cancelled) in the day book and one by one, a hero image that goes live and a logo
    that is refused, the theme presets: every answer is its shape."""
    call = Journey(shop, shop.owner())
    tables, table = "/v1/admin/tables", "/v1/admin/tables/{id}"
    window = call("POST", tables, tables, 201, json={"label": "Window", "seats": 4})
    call("POST", tables, tables, 201, json={"label": "Bar"})
    call("GET", tables, tables)
    call("GET", table, f"{tables}/{window['id']}")
    moved = call(
        "PUT",
        table,
        f"{tables}/{window['id']}",
        json={"label": "Window 1", "seats": 2, "expected_version": window["version"]},
    )
    call(
        "PATCH",
        table,
        f"{tables}/{window['id']}",
        json={"seats": 6, "expected_version": moved["version"]},
    )
    call("POST", f"{table}/qr", f"{tables}/{window['id']}/qr")

    pickup = shop.place(
        shop.order_body(
            {**shop.pizza_line("Ham", "Olives", "Mushrooms"), "note": "Well done"},
            shop.cola_line(2),
            tip=100,
        )
    )
    accepted = shop.transition(pickup, "accepted", 1, ready_in_minutes=15)
    assert accepted.status_code == 200, accepted.text
    body = shop.dine_in_body("Terrace")
    body["fulfilment"]["name"] = "Grace"
    dine_in = shop.place(body)
    cancelled = shop.client.post(
        f"/api/v1/store/orders/{dine_in['id']}/cancel",
        host=shop.host,
        headers=order_access(dine_in),
        json={"reason": "Wrong table"},
    )
    assert cancelled.status_code == 200, cancelled.text
    shop.place()
    book = "/v1/admin/orders"
    day = call("GET", book, book, params={"limit": "2"})
    assert day["next_cursor"] is not None and day["summary"]["items"], day
    call("GET", book, book, params={"status": "cancelled"})
    for order in (pickup, dine_in):
        call("GET", f"{book}/{{id}}", f"{book}/{order['id']}")
    found = "/v1/admin/customer-orders"
    assert call("GET", found, found, params={"name": "Grace"})["orders"], "Grace's dine-in"
    call("DELETE", f"{book}/{{id}}/customer", f"{book}/{dine_in['id']}/customer")

    brand = "/v1/admin/branding/{kind}/image-upload"
    for kind, data in (("hero", logo_png(1600, 600)), ("logo", NOT_A_PHOTO)):
        grant = call(
            "POST",
            brand,
            f"/v1/admin/branding/{kind}/image-upload",
            json={"content_type": "image/png", "size": len(data)},
        )
        assert put_with_grant(grant, data).status_code == 201
        deliver(app_functions, uploads_name(grant))
    states = call("GET", "/v1/admin/branding/images", "/v1/admin/branding/images")
    assert states["hero"]["image"] and states["logo"]["reason"], states
    call("GET", "/v1/admin/theme/presets", "/v1/admin/theme/presets")
    settle()
    check(document, call, DESK_SHAPES)


def test_a_platform_admins_answers_match_their_shapes(
    document: dict[str, Any], shop: Shop, auth_header, tenants
) -> None:
    """The tenants page, one restaurant, its suspension and reinstatement, on the platform host:
    every answer is the shape the description gives it."""
    tenants.create()
    call = Journey(shop, auth_header("platform_admin"), host="stelly.test")
    tenants, one = "/v1/platform/tenants", "/v1/platform/tenants/{slug}"
    page = call("GET", tenants, tenants, params={"limit": "1"})
    assert page["next_cursor"] is not None, page
    call("GET", one, f"{tenants}/{shop.slug}")
    suspension = f"{one}/suspension"
    held = call(
        "PUT",
        suspension,
        f"{tenants}/{shop.slug}/suspension",
        json={"reason": "Unpaid invoice 2026-11"},
    )
    assert held["status"] == "suspended" and held["status_reason"], held
    call("DELETE", suspension, f"{tenants}/{shop.slug}/suspension")
    found = [line for answer in call.answers for line in mismatches(document, *answer)]
    assert found == [], "\n".join(found)


def test_every_json_success_but_the_description_itself_has_a_shape(
    document: dict[str, Any],
) -> None:
    """A client generated from the description learns nothing from `{"type": "object"}`: every
    2xx JSON answer names its model, except the description's own (an OpenAPI document)."""
    bare = [
        f"{method.upper()} {path} {status}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, answer in operation["responses"].items()
        if status.startswith("2")
        and answer.get("content", {}).get("application/json", {}).get("schema")
        == {"type": "object"}
    ]
    assert bare == ["GET /openapi.json 200"], bare
