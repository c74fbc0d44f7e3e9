"""Sold out until, as customers and the kitchen see it over time: a publish keeps the until,
the cached menu turns when it passes, and the 86 list drops what is back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.menus.eighty_six import set_availability
from shared.menus.models import AvailabilityChange
from shared.menus.storefront import StorefrontMenus
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401 (fixtures)
from tests.sold_out_helpers import ADMIN, KITCHEN, kitchen_86, names, sold_out_events
from tests.storefront_helpers import ok

MENU = "/api/v1/store/menu"


def _sold_out_an_hour_ago(shop: Shop, **toggled: list[str]) -> None:
    """86 the ids of toggled ("items", "options") two hours ago, until an hour ago."""
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    an_hour_ago = (two_hours_ago + timedelta(hours=1)).isoformat()
    change = AvailabilityChange.model_validate(
        {
            kind: [{"id": i, "available": False, "until": an_hour_ago} for i in ids]
            for kind, ids in toggled.items()
        }
    )
    set_availability(tenant=shop.tenant, change=change, changed_by="chef", now=two_hours_ago)


def test_the_86_list_and_the_displays_drop_an_86_whose_until_has_passed(shop: Shop) -> None:
    ham = shop.menu.option("Margherita/Toppings/Ham")
    _sold_out_an_hour_ago(shop, items=[shop.menu.items["Cola"]], options=[ham])
    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    assert names(listed) == ["Calzone", "Truffle"]

    olives = shop.menu.option("Margherita/Toppings/Olives")
    ok(kitchen_86(shop, {"options": [{"id": olives, "available": False}]}))
    assert names(sold_out_events(shop)[-1]["data"]) == ["Calzone", "Olives", "Truffle"]


def test_a_publish_after_an_86_with_until_keeps_the_until(shop: Shop) -> None:
    """The next publish carries the draft's flag and until, so the dish still comes back by
    itself (without them it would stay sold out until someone remembered)."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    body = {
        "items": [{"id": shop.menu.items["Cola"], "available": False, "until": "tomorrow"}],
        "options": [{"id": ham, "available": False, "until": "tomorrow"}],
    }
    answer = ok(shop.client.post(ADMIN, host=shop.host, headers=shop.owner(), json=body))
    until = answer["items"][0]["sold_out_until"]
    published = shop.client.post("/api/v1/admin/menu/publish", host=shop.host, headers=shop.owner())
    assert published.status_code == 201
    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    untils = {e["name"]: e["sold_out_until"] for e in listed["items"] + listed["options"]}
    assert untils == {"Calzone": None, "Cola": until, "Ham": until, "Truffle": None}


def _menu_at(menus: StorefrontMenus, shop: Shop, at: datetime) -> dict[str, bool]:
    menu = json.loads(menus.rendered(shop.tenant.schema_name, "UTC", at)[0])
    found = {}
    for category in menu["categories"]:
        for item in category["items"]:
            found[item["name"]] = item["available"]
            for group in item["modifier_groups"]:
                for option in group["options"]:
                    found[f"{item['name']}/{group['name']}/{option['name']}"] = option["available"]
    return found


@pytest.mark.parametrize("what", ["items", "options"])
def test_a_menu_whose_only_clock_is_an_until_is_rendered_anew_when_it_passes(
    shop: Shop, what: str
) -> None:
    """The test menu has no windows: an until alone makes the cached rendering change by the
    minute, so the dish is back on the storefront the minute its until comes."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    until = (now + timedelta(minutes=5)).isoformat()
    name = "Cola" if what == "items" else "Margherita/Toppings/Ham"
    row_id = shop.menu.items["Cola"] if what == "items" else shop.menu.option(name)
    change = AvailabilityChange.model_validate(
        {what: [{"id": row_id, "available": False, "until": until}]}
    )
    set_availability(tenant=shop.tenant, change=change, changed_by="chef", now=now)
    menus = StorefrontMenus()
    assert _menu_at(menus, shop, now + timedelta(minutes=4))[name] is False
    assert _menu_at(menus, shop, now + timedelta(minutes=5))[name] is True


def test_a_required_choice_whose_86s_have_run_out_can_be_chosen_again(shop: Shop) -> None:
    """Every size 86'd until an hour ago: the pizza is orderable again, not left without a
    size to choose."""
    sizes = [shop.menu.option(f"Margherita/Size/{size}") for size in ("Regular", "Large")]
    _sold_out_an_hour_ago(shop, options=sizes)
    menu = ok(shop.client.get(MENU, host=shop.host))
    [pizza] = [i for c in menu["categories"] for i in c["items"] if i["name"] == "Margherita"]
    assert pizza["available"] is True


def test_customers_see_an_options_availability_not_its_until(shop: Shop) -> None:
    ham = shop.menu.option("Margherita/Toppings/Ham")
    body = {"options": [{"id": ham, "available": False, "until": "tomorrow"}]}
    ok(shop.client.post(ADMIN, host=shop.host, headers=shop.owner(), json=body))
    menu = ok(shop.client.get(MENU, host=shop.host))
    options = [
        option
        for category in menu["categories"]
        for item in category["items"]
        for group in item["modifier_groups"]
        for option in group["options"]
    ]
    assert [o["available"] for o in options if o["id"] == ham] == [False]
    assert all("sold_out_until" not in option for option in options)
