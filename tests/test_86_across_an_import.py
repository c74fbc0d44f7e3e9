"""An 86 (or a bring-back) the kitchen makes between a menu re-import and its publish: it
reaches the draft's new rows of the same names, so the publish keeps what the kitchen said."""

from __future__ import annotations

import copy
from typing import Any

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


def _manager(shop: Shop) -> dict[str, Any]:
    return {"host": shop.host, "headers": shop.owner()}


def _import(shop: Shop, sheet: dict[str, Any]) -> dict[str, Any]:
    return ok(shop.client.post("/api/v1/admin/menu/import", **_manager(shop), json=sheet))


def _publish(shop: Shop) -> None:
    ok(shop.client.post("/api/v1/admin/menu/publish", **_manager(shop)), 201)


def _store_menu(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get("/api/v1/store/menu", host=shop.host))


def _store_item(shop: Shop, category: str, name: str) -> dict[str, Any]:
    return _named(_named(_store_menu(shop)["categories"], category)["items"], name)


def _kitchen_list(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))


def test_an_86_between_an_import_and_its_publish_reaches_the_dish_spelt_in_other_case(
    shop: Shop,
) -> None:
    """The 19:30 sheet spells the drink "COLA" in "DRINKS" (names match case aside); the cook
    86es the Cola customers still see; the 19:40 publish keeps the COLA off."""
    sheet = copy.deepcopy(SHEET)
    drinks = sheet["categories"][1]
    drinks["name"] = "DRINKS"
    _named(drinks["items"], "Cola")["name"] = "COLA"
    _import(shop, sheet)
    ok(kitchen_86(shop, {"items": [{"id": shop.menu.items["Cola"], "available": False}]}))

    _publish(shop)
    assert _store_item(shop, "DRINKS", "COLA")["available"] is False
    assert "COLA" in names(_kitchen_list(shop))


def _toppings_on_the_calzone(sheet: dict[str, Any]) -> dict[str, Any]:
    """The sheet with the Calzone on sale and offering the Margherita's very Toppings group
    (identical definitions: one group shared by both dishes)."""
    pizzas = sheet["categories"][0]["items"]
    toppings = _named(_named(pizzas, "Margherita")["modifier_groups"], "Toppings")
    calzone = _named(pizzas, "Calzone")
    calzone.pop("available")
    calzone["modifier_groups"] = [copy.deepcopy(toppings)]
    return sheet


def test_an_option_86_of_a_shared_group_reaches_the_draft_by_any_dish_listing_it(
    shop: Shop,
) -> None:
    """The live Toppings group is shared by the Margherita and the Calzone; the 19:30 sheet
    renames the Margherita "Marinara" and keeps the Calzone's Toppings; the cook 86es the live
    Ham; the 19:40 publish keeps the Calzone's Ham off (the draft's Ham goes by the Calzone's
    names too)."""
    sheet = _toppings_on_the_calzone(copy.deepcopy(SHEET))
    _import(shop, sheet)
    _publish(shop)
    calzone = _store_item(shop, "Pizza", "Calzone")
    live_ham = _named(_named(calzone["modifier_groups"], "Toppings")["options"], "Ham")

    _named(sheet["categories"][0]["items"], "Margherita")["name"] = "Marinara"
    _import(shop, sheet)
    ok(kitchen_86(shop, {"options": [{"id": live_ham["id"], "available": False}]}))

    _publish(shop)
    calzone = _store_item(shop, "Pizza", "Calzone")
    ham = _named(_named(calzone["modifier_groups"], "Toppings")["options"], "Ham")
    assert ham["available"] is False
    assert "Ham" in names(_kitchen_list(shop))


def test_an_option_86_of_a_dish_deleted_from_the_draft_leaves_other_dishes_on_sale(
    shop: Shop,
) -> None:
    """The 19:30 sheet gives the Calzone the Margherita's Toppings (one shared draft group);
    the manager then deletes the new Margherita from the draft; the cook 86es the live
    Margherita's Ham. A dish deleted from the draft has no row of its names, so the publish
    leaves the Calzone's Ham, which the kitchen never 86'd, on sale."""
    _import(shop, _toppings_on_the_calzone(copy.deepcopy(SHEET)))
    draft = ok(shop.client.get("/api/v1/admin/menu", **_manager(shop)))
    margherita = _named(_named(draft["categories"], "Pizza")["items"], "Margherita")
    deleted = shop.client.delete(f"/api/v1/admin/menu/items/{margherita['id']}", **_manager(shop))
    assert deleted.status_code == 204, deleted.text
    ham = shop.menu.option("Margherita/Toppings/Ham")
    [answer] = ok(kitchen_86(shop, {"options": [{"id": ham, "available": False}]}))["options"]
    assert answer["version"] is None

    _publish(shop)
    calzone = _store_item(shop, "Pizza", "Calzone")
    assert _named(_named(calzone["modifier_groups"], "Toppings")["options"], "Ham")["available"]
    assert "Ham" not in names(_kitchen_list(shop))


def test_an_86_with_an_until_between_an_import_and_its_publish_keeps_its_until(
    shop: Shop,
) -> None:
    """The cook 86es the live Cola "until tomorrow" after the 19:30 import (the answer's
    `version` is null: no draft row has that id); after the 19:40 publish the Cola is still
    sold out until tomorrow (it comes back by itself), not for good."""
    _import(shop, copy.deepcopy(SHEET))
    body = {"items": [{"id": shop.menu.items["Cola"], "available": False, "until": "tomorrow"}]}
    [answer] = ok(kitchen_86(shop, body))["items"]
    assert answer["version"] is None and answer["sold_out_until"] is not None

    _publish(shop)
    assert (
        _named(_kitchen_list(shop)["items"], "Cola")["sold_out_until"] == (answer["sold_out_until"])
    )


def test_an_option_86_between_an_import_and_its_publish_gives_the_drafts_group_a_new_etag(
    shop: Shop,
) -> None:
    """The cook 86es the live Ham after the 19:30 import: the draft's new Toppings group lists
    Ham sold out under a new ETag, so a manager's stale If-Match on it cannot overwrite that."""
    _import(shop, copy.deepcopy(SHEET))
    draft = ok(shop.client.get("/api/v1/admin/menu", **_manager(shop)))
    group_id = _named(draft["modifier_groups"], "Toppings")["id"]
    path = f"/api/v1/admin/menu/groups/{group_id}"
    before = shop.client.get(path, **_manager(shop))
    assert before.status_code == 200, before.text

    ham = shop.menu.option("Margherita/Toppings/Ham")
    ok(kitchen_86(shop, {"options": [{"id": ham, "available": False}]}))
    after = shop.client.get(path, **_manager(shop))
    assert _named(ok(after)["options"], "Ham")["available"] is False
    assert after.headers["etag"] != before.headers["etag"]


def test_an_86_of_the_second_of_two_dishes_of_one_name_keeps_the_first_on_sale(
    shop: Shop,
) -> None:
    """Drinks lists "Cola" twice (250 and 400); after the 19:30 re-import the cook 86es the
    live 400 Cola; the 19:40 publish keeps the 250 Cola on sale (first with first, as the
    import pairs them)."""
    sheet = copy.deepcopy(SHEET)
    sheet["categories"][1]["items"].append({"name": "Cola", "price": 400, "station": "bar"})
    _import(shop, sheet)
    _publish(shop)
    _first, second = _named(_store_menu(shop)["categories"], "Drinks")["items"]

    _import(shop, sheet)
    ok(kitchen_86(shop, {"items": [{"id": second["id"], "available": False}]}))
    colas = _named(_store_menu(shop)["categories"], "Drinks")["items"]
    assert [(c["price"], c["available"]) for c in colas] == [(250, True), (400, False)]

    _publish(shop)
    colas = _named(_store_menu(shop)["categories"], "Drinks")["items"]
    assert [(c["price"], c["available"]) for c in colas] == [(250, True), (400, False)]


def test_an_option_86_reaching_a_group_the_import_shared_takes_it_off_every_dish(
    shop: Shop,
) -> None:
    """Live: the Margherita's Extras/Basil (+0.50) and the Cola's (+0.60) are two groups; the
    19:30 sheet prices both +0.50, so the draft shares one group, one Basil row. The cook 86es
    the Cola's Basil: the draft has no Basil of the Cola's alone, and the publish takes Basil
    off both dishes (our decision: the safe side is not selling what the kitchen may not have;
    an 86 of a shared draft option always reaches every dish listing it)."""
    _import(shop, sheet_with_basil(50, 60))
    _publish(shop)
    live_cola = _store_item(shop, "Drinks", "Cola")
    [basil] = _named(live_cola["modifier_groups"], "Extras")["options"]

    _import(shop, sheet_with_basil(50, 50))
    ok(kitchen_86(shop, {"options": [{"id": basil["id"], "available": False}]}))
    _publish(shop)

    def basil_on(category: str, item: str) -> bool:
        dish = _store_item(shop, category, item)
        [option] = _named(dish["modifier_groups"], "Extras")["options"]
        return option["available"]

    assert basil_on("Drinks", "Cola") is False
    assert basil_on("Pizza", "Margherita") is False
