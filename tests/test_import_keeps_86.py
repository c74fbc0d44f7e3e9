"""A manager re-importing the menu mid-service keeps what the kitchen has run out of: an 86 in
the draft stays, with its until, unless the document says `available`."""

from __future__ import annotations

import copy
from typing import Any

from psycopg import sql

from tests.conftest import execute
from tests.order_fixtures import MENU as SHEET
from tests.order_fixtures import (
    Shop,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.sold_out_helpers import KITCHEN, kitchen_86, names
from tests.storefront_helpers import ok


def _named(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [entry for entry in entries if entry["name"] == name]
    return found


def _sheet(**said: bool) -> dict[str, Any]:
    """The manager's spreadsheet (the test menu), saying `available` for the Cola or Ham when
    asked to."""
    sheet = copy.deepcopy(SHEET)
    if "cola" in said:
        _named(sheet["categories"][1]["items"], "Cola")["available"] = said["cola"]
    if "ham" in said:
        pizza = _named(sheet["categories"][0]["items"], "Margherita")
        toppings = _named(pizza["modifier_groups"], "Toppings")
        _named(toppings["options"], "Ham")["available"] = said["ham"]
    return sheet


def _import_and_publish(shop: Shop, sheet: dict[str, Any]) -> dict[str, Any]:
    manager = {"host": shop.host, "headers": shop.owner()}
    counts = ok(shop.client.post("/api/v1/admin/menu/import", **manager, json=sheet))
    ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)
    return counts


def _cola_order(shop: Shop):
    """An order for the Cola as the storefront lists it now (an import makes new ids)."""
    menu = ok(shop.client.get("/api/v1/store/menu", host=shop.host))
    cola = _named(_named(menu["categories"], "Drinks")["items"], "Cola")
    return shop.post_order(shop.order_body({"item_id": cola["id"], "quantity": 1}))


def _kitchen_list(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))


def test_a_reimport_keeps_the_kitchens_86es_with_their_untils(shop: Shop) -> None:
    """The cook 86es Ham until tomorrow and the Cola; the manager re-imports prices from the
    spreadsheet, which says nothing of either, and publishes: both stay off, Ham until the same
    time, and customers still cannot order them."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    body = {
        "items": [{"id": shop.menu.items["Cola"], "available": False}],
        "options": [{"id": ham, "available": False, "until": "tomorrow"}],
    }
    before = ok(kitchen_86(shop, body))
    counts = _import_and_publish(shop, _sheet())
    assert counts["sold_out_kept"] == 2
    listed = _kitchen_list(shop)
    assert names(listed) == ["Calzone", "Cola", "Ham", "Truffle"]
    assert (
        _named(listed["options"], "Ham")["sold_out_until"]
        == (before["options"][0]["sold_out_until"])
    )
    refused = _cola_order(shop)
    assert refused.status_code == 422, refused.text
    assert "not available" in refused.json()["errors"][0]["message"]


def test_a_document_that_says_available_has_the_last_word(shop: Shop) -> None:
    """The spreadsheet restocks Ham and the Cola (`"available": true`): both are back on sale;
    one that marks a dish off (`false`) takes it off, as it always did."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    body = {
        "items": [{"id": shop.menu.items["Cola"], "available": False}],
        "options": [{"id": ham, "available": False}],
    }
    ok(kitchen_86(shop, body))
    counts = _import_and_publish(shop, _sheet(cola=True, ham=True))
    assert counts["sold_out_kept"] == 0
    assert names(_kitchen_list(shop)) == ["Calzone", "Truffle"]
    assert _cola_order(shop).status_code == 201


def test_an_86_whose_until_has_passed_is_not_kept(shop: Shop) -> None:
    """The Cola was 86'd until a time now past: it is on sale, and the import leaves it so."""
    cola = shop.menu.items["Cola"]
    execute(
        sql.SQL(
            "update {}.menu_items set available = false, "
            "sold_out_until = now() - interval '1 minute' where id = %s"
        ).format(sql.Identifier(shop.schema)),
        [cola],
    )
    counts = _import_and_publish(shop, _sheet())
    assert counts["sold_out_kept"] == 0
    assert "Cola" not in names(_kitchen_list(shop))
    [draft_cola] = execute(
        sql.SQL(
            "select available, sold_out_until from {}.menu_items "
            "where name = 'Cola' and deleted_at is null"
        ).format(sql.Identifier(shop.schema))
    )
    assert (draft_cola["available"], draft_cola["sold_out_until"]) == (True, None)


def test_a_renamed_dish_starts_on_sale(shop: Shop) -> None:
    """Matching is by name, as for photos: the Cola renamed "Coca-Cola" in the spreadsheet is a
    new dish, on sale."""
    ok(kitchen_86(shop, {"items": [{"id": shop.menu.items["Cola"], "available": False}]}))
    sheet = _sheet()
    _named(sheet["categories"][1]["items"], "Cola")["name"] = "Coca-Cola"
    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 0
    assert names(_kitchen_list(shop)) == ["Calzone", "Truffle"]
