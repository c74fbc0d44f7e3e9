"""Text from around the world: names in NFC, names that show as nothing, ASCII-only codes."""

from __future__ import annotations

import unicodedata

import pytest

from tests.order_fixtures import Shop, module_shop_fixture  # noqa: F401  (module_shop)
from tests.storefront_helpers import ok, owner_api

SETTINGS = {
    "business_name": "Warung",
    "currency": "IDR",
    "timezone": "Asia/Jakarta",
    "locale": "id-ID",
    "tax": {"rate_bp": 1100, "inclusive": True},
}


def test_one_item_cannot_carry_two_groups_that_look_identical(client, tenants, auth_header) -> None:
    """Names are NFC: "Crème" typed composed and decomposed is one name, so the import's "two
    groups of one name on one item" rule sees the two identical-looking groups."""
    composed = "Crème"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed and unicodedata.normalize("NFC", decomposed) == composed
    api = owner_api(client, tenants.create(), auth_header)
    group = {"min": 0, "max": 1}
    menu = {
        "categories": [
            {
                "name": "Desserts",
                "items": [
                    {
                        "name": "Tarte",
                        "price": 650,
                        "modifier_groups": [
                            {**group, "name": composed, "options": [{"name": "Chantilly"}]},
                            {**group, "name": decomposed, "options": [{"name": "Anglaise"}]},
                        ],
                    }
                ],
            }
        ]
    }
    response = api.post("/v1/admin/menu/import", json=menu)
    assert response.status_code == 422, (response.status_code, response.text)


def test_a_decomposed_name_is_counted_as_the_characters_it_shows(
    client, tenants, auth_header
) -> None:
    """A Vietnamese dish name of 111 characters typed with combining accents (NFD, as some
    Vietnamese keyboards and macOS copy-paste produce) counts 111, and is stored composed."""
    name = (
        "Bánh mì thịt nướng đặc biệt với chả lụa, pa tê gan, dưa góp, rau thơm, "
        "ớt hiểm tươi và trứng ốp la kiểu Sài Gòn"
    )
    assert len(unicodedata.normalize("NFC", name)) == 111
    decomposed = unicodedata.normalize("NFD", name)
    api = owner_api(client, tenants.create(), auth_header)
    category = api.post("/v1/admin/menu/categories", json={"name": "Bánh mì"})
    assert category.status_code == 201, category.text
    response = api.post(
        "/v1/admin/menu/items",
        json={"category_id": category.json()["id"], "name": decomposed, "price": 45_000},
    )
    assert response.status_code == 201, (response.status_code, response.text)
    assert response.json()["name"] == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize(
    "blank",
    [
        "\u3164",  # HANGUL FILLER (Lo), the well-known "blank name"
        "\u115f",  # HANGUL CHOSEONG FILLER (Lo)
        "\ufe0f",  # VARIATION SELECTOR-16 (Mn)
        "\u034f",  # COMBINING GRAPHEME JOINER (Mn)
    ],
    ids=["hangul-filler", "choseong-filler", "variation-selector", "grapheme-joiner"],
)
def test_a_name_of_default_ignorable_characters_only_is_refused(
    client, tenants, auth_header, blank: str
) -> None:
    """A name made only of default-ignorable code points beyond format characters (Hangul
    fillers, variation selectors, the grapheme joiner) shows as nothing: refused."""
    api = owner_api(client, tenants.create(), auth_header)
    response = api.post("/v1/admin/menu/categories", json={"name": blank})
    assert response.status_code == 422, (response.status_code, response.text)


def test_a_pickup_name_of_a_hangul_filler_is_refused(module_shop: Shop) -> None:
    """A pickup name of one HANGUL FILLER would be a blank name on the kitchen's ticket."""
    body = module_shop.order_body(module_shop.cola_line())
    body["fulfilment"]["name"] = "\u3164"
    response = module_shop.post_order(body)
    assert response.status_code == 422, (response.status_code, response.text)


@pytest.mark.parametrize(
    "locale", ["es-\u0664\u0661\u0669", "es-\uff14\uff11\uff19"], ids=["arabic-indic", "fullwidth"]
)
def test_a_locale_with_non_ascii_digits_is_refused(client, tenants, auth_header, locale) -> None:
    """A region in Arabic-Indic or full-width digits is no BCP 47 tag (a storefront's
    `Intl.NumberFormat(locale)` would throw RangeError): `\\d` would match it, `[0-9]` does not."""
    api = owner_api(client, tenants.create(), auth_header)
    response = api.put("/v1/admin/settings", json={**SETTINGS, "locale": locale})
    assert response.status_code == 422, (response.status_code, response.text)


def test_a_tab_in_an_item_description_is_kept(client, tenants, auth_header) -> None:
    """Multi-line text keeps its tabs: a tab is not refused as a control character."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    description = "Crust:\tthin\nSauce:\ttomato"
    body = {"category_id": category["id"], "name": "Margherita", "price": 100}
    item = ok(api.post("/v1/admin/menu/items", json={**body, "description": description}), 201)
    assert item["description"] == description


def test_a_name_is_composed_not_rewritten_to_compatibility_forms(
    client, tenants, auth_header
) -> None:
    """Names are composed (NFC), not rewritten to compatibility forms: "½" and "™" stay."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizza ½ Metro™"}), 201)
    assert category["name"] == "Pizza ½ Metro™"
