"""A manager re-importing the menu mid-service keeps what the kitchen has run out of: an 86 in
the draft stays, with its until, unless the document says `available`."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from psycopg import sql

from tests.conftest import execute
from tests.order_fixtures import MENU as SHEET
from tests.order_fixtures import (
    Shop,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.sold_out_helpers import KITCHEN, kitchen_86, names, sheet_with_basil
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


def _manager(shop: Shop) -> dict[str, Any]:
    return {"host": shop.host, "headers": shop.owner()}


def _draft(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get("/api/v1/admin/menu", **_manager(shop)))


def _store_menu(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get("/api/v1/store/menu", host=shop.host))


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


def test_an_option_86_whose_until_has_passed_is_not_kept(shop: Shop) -> None:
    """Ham 86'd until a time now past is on sale, and a re-import leaves it so."""
    execute(
        sql.SQL(
            "update {}.modifier_options set available = false, "
            "sold_out_until = now() - interval '1 minute' where id = %s"
        ).format(sql.Identifier(shop.schema)),
        [shop.menu.option("Margherita/Toppings/Ham")],
    )
    counts = _import_and_publish(shop, copy.deepcopy(SHEET))
    assert counts["sold_out_kept"] == 0
    assert "Ham" not in names(_kitchen_list(shop))


def test_a_dish_in_a_hidden_category_keeps_its_86(shop: Shop) -> None:
    """The kitchen 86es the staff-only Family meal (a hidden category); a re-import keeps it
    off."""
    family = shop.menu.items["Family meal"]
    ok(kitchen_86(shop, {"items": [{"id": family, "available": False}]}))
    counts = _import_and_publish(shop, copy.deepcopy(SHEET))
    assert counts["sold_out_kept"] == 1
    assert "Family meal" in names(_kitchen_list(shop))


def test_a_dish_listed_twice_keeps_each_ones_86(shop: Shop) -> None:
    """Drinks lists "Cola" twice (a small and a large bottle); the kitchen 86es the second; a
    re-import keeps the second off and the first on sale, first with first as for photos."""
    sheet = copy.deepcopy(SHEET)
    drinks = sheet["categories"][1]["items"]
    drinks.append({"name": "Cola", "price": 400, "station": "bar"})
    _import_and_publish(shop, sheet)
    _first, second = _named(_draft(shop)["categories"], "Drinks")["items"]
    ok(kitchen_86(shop, {"items": [{"id": second["id"], "available": False}]}))

    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 1
    colas = _named(_store_menu(shop)["categories"], "Drinks")["items"]
    assert [(c["price"], c["available"]) for c in colas] == [(250, True), (400, False)]


def test_a_dish_in_a_renamed_category_starts_on_sale(shop: Shop) -> None:
    """The 86'd Cola in a sheet whose "Drinks" is now "Beverages" is a new dish, on sale."""
    ok(kitchen_86(shop, {"items": [{"id": shop.menu.items["Cola"], "available": False}]}))
    sheet = copy.deepcopy(SHEET)
    sheet["categories"][1]["name"] = "Beverages"
    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 0
    assert "Cola" not in names(_kitchen_list(shop))


def test_an_option_in_a_renamed_group_starts_on_sale(shop: Shop) -> None:
    """The 86'd Ham in a sheet whose Margherita "Toppings" is now "Extras" is a new option,
    on sale."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    ok(kitchen_86(shop, {"options": [{"id": ham, "available": False}]}))
    sheet = copy.deepcopy(SHEET)
    pizza = _named(sheet["categories"][0]["items"], "Margherita")
    _named(pizza["modifier_groups"], "Toppings")["name"] = "Extras"
    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 0
    assert "Ham" not in names(_kitchen_list(shop))


def test_an_option_on_a_renamed_dish_starts_on_sale(shop: Shop) -> None:
    """Ham 86'd on the Margherita, in a sheet that renames the pizza "Marinara", is a new
    option, on sale."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    ok(kitchen_86(shop, {"options": [{"id": ham, "available": False}]}))
    sheet = copy.deepcopy(SHEET)
    _named(sheet["categories"][0]["items"], "Margherita")["name"] = "Marinara"
    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 0
    assert "Ham" not in names(_kitchen_list(shop))


@pytest.mark.parametrize(
    ("kind", "name"), [("items", "Cola"), ("options", "Margherita/Toppings/Ham")]
)
def test_a_deleted_86_imported_again_is_on_sale(shop: Shop, kind: str, name: str) -> None:
    """The manager deletes the 86'd Cola (or Ham) from the draft, then imports a sheet listing
    it: a deleted row is no 86 in the draft, so the new one is on sale."""
    row = shop.menu.items[name] if kind == "items" else shop.menu.option(name)
    ok(kitchen_86(shop, {kind: [{"id": row, "available": False}]}))
    deleted = shop.client.delete(f"/api/v1/admin/menu/{kind}/{row}", **_manager(shop))
    assert deleted.status_code == 204, deleted.text
    counts = _import_and_publish(shop, copy.deepcopy(SHEET))
    assert counts["sold_out_kept"] == 0
    assert name.split("/")[-1] not in names(_kitchen_list(shop))


def test_a_restaurant_at_migration_0010_keeps_the_until(shop: Shop) -> None:
    """A restaurant the fleet run has taken to 0010 but not yet 0011 has `sold_out_until`: a
    re-import keeps the Cola's "until tomorrow"."""
    cola = shop.menu.items["Cola"]
    body = {"items": [{"id": cola, "available": False, "until": "tomorrow"}]}
    until = ok(kitchen_86(shop, body))["items"][0]["sold_out_until"]
    assert until is not None
    execute(
        sql.SQL(
            """alter table {s}.orders drop column ready_by;
               delete from {s}.schema_migrations where version >= 11"""
        ).format(s=sql.Identifier(shop.schema))
    )
    assert _import_and_publish(shop, copy.deepcopy(SHEET))["sold_out_kept"] == 1
    listed = _kitchen_list(shop)
    assert _named(listed["items"], "Cola")["sold_out_until"] == until


def test_a_document_that_says_false_takes_the_dish_off_with_no_until(shop: Shop) -> None:
    """The Cola is 86'd until tomorrow; the spreadsheet marks it off, which takes it off as
    before, with no until (it does not come back tomorrow), and is not counted kept."""
    cola = shop.menu.items["Cola"]
    ok(kitchen_86(shop, {"items": [{"id": cola, "available": False, "until": "tomorrow"}]}))
    sheet = copy.deepcopy(SHEET)
    _named(sheet["categories"][1]["items"], "Cola")["available"] = False
    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 0
    assert _named(_kitchen_list(shop)["items"], "Cola")["sold_out_until"] is None


def test_an_option_86_on_the_second_dish_of_a_merged_group_is_kept(shop: Shop) -> None:
    """Margherita and the Cola each have an "Extras" group (Basil +0.50 and +0.60, so two
    groups); the kitchen 86es Basil on the Cola; the manager re-imports with both at +0.50 and
    says nothing of Basil. Identical groups are shared, but not these two: the Cola's Basil
    stays sold out and the Margherita's on sale."""
    _import_and_publish(shop, sheet_with_basil(50, 60))
    drinks = _named(_store_menu(shop)["categories"], "Drinks")
    [basil] = _named(_named(drinks["items"], "Cola")["modifier_groups"], "Extras")["options"]
    ok(kitchen_86(shop, {"options": [{"id": basil["id"], "available": False}]}))

    _import_and_publish(shop, sheet_with_basil(50, 50))
    drinks = _named(_store_menu(shop)["categories"], "Drinks")
    [basil] = _named(_named(drinks["items"], "Cola")["modifier_groups"], "Extras")["options"]
    assert basil["available"] is False
    pizzas = _named(_store_menu(shop)["categories"], "Pizza")
    pizza_extras = _named(_named(pizzas["items"], "Margherita")["modifier_groups"], "Extras")
    assert [o["available"] for o in pizza_extras["options"]] == [True]


def test_an_option_86_on_the_second_of_two_namesake_dishes_stays_on_that_dish(shop: Shop) -> None:
    """Drinks lists "Cola" twice, each with its "Ice" group (its "No ice" free on the small
    bottle, +0.10 on the large); the kitchen 86es the large one's "No ice". A re-import that
    says nothing of it keeps it off the large Cola only, first with first as for dishes."""
    sheet = copy.deepcopy(SHEET)
    drinks = sheet["categories"][1]["items"]
    cola = _named(drinks, "Cola")
    for dish, delta in ((cola, 0), ({"name": "Cola", "price": 400, "station": "bar"}, 10)):
        ice = {
            "name": "Ice",
            "min": 0,
            "max": 1,
            "options": [{"name": "No ice", "price_delta": delta}],
        }
        dish["modifier_groups"] = [ice]
    drinks.append(dish)
    _import_and_publish(shop, sheet)
    _small, large = _named(_store_menu(shop)["categories"], "Drinks")["items"]
    [no_ice] = large["modifier_groups"][0]["options"]
    ok(kitchen_86(shop, {"options": [{"id": no_ice["id"], "available": False}]}))

    assert _import_and_publish(shop, sheet)["sold_out_kept"] == 1
    colas = _named(_store_menu(shop)["categories"], "Drinks")["items"]
    assert [c["modifier_groups"][0]["options"][0]["available"] for c in colas] == [True, False]
