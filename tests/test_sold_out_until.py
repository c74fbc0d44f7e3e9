"""Sold out until: an 86 that ends by itself ("until tomorrow" or a named time), and the
kitchen's 86 list and 86'ing from the line."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.menus.eighty_six import set_availability
from shared.menus.models import AvailabilityChange
from tests.order_fixtures import MENU as SHEET
from tests.order_fixtures import (  # noqa: F401 (fixtures)
    LiveClient,
    Shop,
    live_clients_fixture,
    open_shop,
    order_access,
    settle,
    shop_fixture,
)
from tests.sold_out_helpers import (
    ADMIN,
    KITCHEN,
    kitchen_86,
    names,
    sold_out_events,
    written_state,
)
from tests.storefront_helpers import error_paths, ok
from tests.test_orders_realtime import kitchen_url

MENU = "/api/v1/store/menu"


def _store_items(shop: Shop) -> dict[str, dict]:
    menu = ok(shop.client.get(MENU, host=shop.host))
    return {item["name"]: item for c in menu["categories"] for item in c["items"]}


def _toppings(shop: Shop) -> dict[str, bool]:
    [toppings] = [
        g for g in _store_items(shop)["Margherita"]["modifier_groups"] if g["name"] == "Toppings"
    ]
    return {option["name"]: option["available"] for option in toppings["options"]}


def test_sold_out_until_tomorrow_is_off_the_storefront_and_says_when_it_is_back(
    shop: Shop,
) -> None:
    ham = shop.menu.option("Margherita/Toppings/Ham")
    answer = ok(
        shop.client.post(
            ADMIN,
            host=shop.host,
            headers=shop.owner(),
            json={
                "items": [{"id": shop.menu.items["Cola"], "available": False, "until": "tomorrow"}],
                "options": [{"id": ham, "available": False, "until": "tomorrow"}],
            },
        )
    )
    # The shop has no hours (always open, UTC): tomorrow starts at the next midnight.
    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    until = midnight.replace(microsecond=0).isoformat()
    assert [(e["available"], e["sold_out_until"]) for e in answer["items"]] == [(False, until)]
    assert [(e["available"], e["sold_out_until"]) for e in answer["options"]] == [(False, until)]
    assert _store_items(shop)["Cola"]["available"] is False
    assert _toppings(shop)["Ham"] is False
    # Customers see availability, not the kitchen's until.
    assert "sold_out_until" not in _store_items(shop)["Cola"]
    refused = shop.post_order(shop.order_body(shop.cola_line()))
    assert error_paths(refused) == ["lines[0].item_id"]

    # Brought back by hand before then: on sale, and the until is gone.
    back = ok(
        shop.client.post(
            ADMIN,
            host=shop.host,
            headers=shop.owner(),
            json={"items": [{"id": shop.menu.items["Cola"], "available": True}]},
        )
    )
    assert back["items"][0]["sold_out_until"] is None
    assert _store_items(shop)["Cola"]["available"] is True


def test_an_86_that_has_run_out_is_on_sale_without_anyone_bringing_it_back(shop: Shop) -> None:
    """86'd two hours ago until an hour ago: the storefront offers it and an order takes it,
    while the draft keeps the kitchen's flag and its until, which say the same."""
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    an_hour_ago = (two_hours_ago + timedelta(hours=1)).isoformat()
    ham = shop.menu.option("Margherita/Toppings/Ham")
    change = AvailabilityChange.model_validate(
        {
            "items": [{"id": shop.menu.items["Cola"], "available": False, "until": an_hour_ago}],
            "options": [{"id": ham, "available": False, "until": an_hour_ago}],
        }
    )
    set_availability(tenant=shop.tenant, change=change, changed_by="chef", now=two_hours_ago)
    assert _store_items(shop)["Cola"]["available"] is True
    assert _toppings(shop)["Ham"] is True
    order = shop.place(shop.order_body(shop.cola_line(), shop.pizza_line("Ham")))
    cola, pizza = ok(shop.customer_view(order))["lines"]
    assert (cola["name"], pizza["name"]) == ("Cola", "Margherita")
    assert "Ham" in [modifier["name"] for modifier in pizza["modifiers"]]
    item = ok(
        shop.client.get(
            f"/api/v1/admin/menu/items/{shop.menu.items['Cola']}",
            host=shop.host,
            headers=shop.owner(),
        )
    )
    assert item["available"] is False and item["sold_out_until"] is not None


def test_a_new_until_for_a_dish_already_sold_out_goes_live(shop: Shop) -> None:
    cola = shop.menu.items["Cola"]
    body = {"items": [{"id": cola, "available": False}]}
    first = ok(shop.client.post(ADMIN, host=shop.host, headers=shop.owner(), json=body))
    body["items"][0]["until"] = "tomorrow"
    second = ok(shop.client.post(ADMIN, host=shop.host, headers=shop.owner(), json=body))
    assert second["published_version"] == first["published_version"] + 1
    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    untils = {entry["name"]: entry["sold_out_until"] for entry in listed["items"]}
    assert untils == {"Calzone": None, "Cola": second["items"][0]["sold_out_until"]}


@pytest.mark.parametrize(
    ("toggle", "says"),
    [
        ({"available": True, "until": "tomorrow"}, 'is only for "available": false'),
        ({"available": False, "until": "2020-01-01T12:00:00Z"}, "is not ahead"),
        ({"available": False, "until": "2099-01-01T12:00:00Z"}, "is more than 30 days ahead"),
        ({"available": False, "until": "2026-11-26T11:00:00"}, "with its UTC offset"),
        ({"available": False, "until": 1795000000}, "with its UTC offset"),
        ({"available": False, "until": "next week"}, 'must be "tomorrow"'),
    ],
)
def test_until_rules(shop: Shop, toggle: dict, says: str) -> None:
    cola = shop.menu.items["Cola"]
    response = shop.client.post(
        KITCHEN, host=shop.host, headers=shop.staff(), json={"items": [{"id": cola, **toggle}]}
    )
    assert error_paths(response) == ["items[0].until"]
    assert says in response.json()["errors"][0]["message"]
    assert _store_items(shop)["Cola"]["available"] is True


def test_the_kitchen_86es_from_the_line_and_every_display_gets_the_list(shop: Shop) -> None:
    cook = shop.auth("staff", tenant=shop.slug, subject="luca")
    ham = shop.menu.option("Margherita/Toppings/Ham")
    body = {"items": [{"id": shop.menu.items["Margherita"], "available": False}]}
    body["options"] = [{"id": ham, "available": False, "until": "tomorrow"}]
    answer = ok(shop.client.post(KITCHEN, host=shop.host, headers=cook, json=body))
    until = answer["options"][0]["sold_out_until"]
    # The test menu came with the Calzone and the Truffle topping 86'd.
    expected = {
        "items": [
            {"id": shop.menu.items["Margherita"], "name": "Margherita", "sold_out_until": None},
            {"id": shop.menu.items["Calzone"], "name": "Calzone", "sold_out_until": None},
        ],
        "options": [
            {"id": ham, "name": "Ham", "group": "Toppings", "sold_out_until": until},
            {
                "id": shop.menu.option("Margherita/Toppings/Truffle"),
                "name": "Truffle",
                "group": "Toppings",
                "sold_out_until": None,
            },
        ],
    }
    listed = shop.client.get(KITCHEN, host=shop.host, headers=shop.staff())
    assert ok(listed) == expected
    assert listed.headers["cache-control"] == "no-store"
    [news] = sold_out_events(shop)
    assert news["data"] == {**expected, "by": "staff:luca"}
    slug = shop.slug
    stations = [f"t.{slug}.station.bar", f"t.{slug}.station.oven"]
    assert sorted(news["groups"]) == [f"t.{slug}.kitchen", *stations]


def test_an_86_that_changes_nothing_tells_no_display(shop: Shop) -> None:
    """Bringing back what is on sale, the same until in another offset or a second within the
    same minute, or 86'ing a dish that was never published: no new version and no event."""
    cola = shop.menu.items["Cola"]
    back = ok(kitchen_86(shop, {"items": [{"id": cola, "available": True}]}))
    assert back["published_version"] is None and sold_out_events(shop) == []

    when = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    timed = {"id": cola, "available": False, "until": when.isoformat()}
    first = ok(kitchen_86(shop, {"items": [timed]}))
    kolkata = when.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()
    for same in (kolkata, (when - timedelta(seconds=30)).isoformat()):
        again = ok(kitchen_86(shop, {"items": [{"id": cola, "available": False, "until": same}]}))
        assert again["published_version"] is None
        assert again["items"][0]["sold_out_until"] == first["items"][0]["sold_out_until"]
    assert len(sold_out_events(shop)) == 1

    owner = shop.owner()
    draft = ok(shop.client.get("/api/v1/admin/menu", host=shop.host, headers=owner))
    secret = ok(
        shop.client.post(
            "/api/v1/admin/menu/items",
            host=shop.host,
            headers=owner,
            json={"category_id": draft["categories"][0]["id"], "name": "Secret", "price": 100},
        ),
        201,
    )
    alone = ok(kitchen_86(shop, {"items": [{"id": secret["id"], "available": False}]}))
    assert alone["published_version"] is None and len(sold_out_events(shop)) == 1
    # 86'd beside a live dish, the unpublished one is on no list and in no event.
    pizza = {"id": shop.menu.items["Margherita"], "available": False}
    ok(kitchen_86(shop, {"items": [pizza, {"id": secret["id"], "available": False}]}))
    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    assert names(sold_out_events(shop)[-1]["data"]) == names(listed)
    assert names(listed) == ["Margherita", "Calzone", "Cola", "Truffle"]


def test_every_role_gets_what_the_readme_promises(shop: Shop) -> None:
    """The kitchen's list and 86 are for this restaurant's staff, managers and owners, the
    admin 86 for managers and owners: an order's access token is 401, a platform admin 403 on a
    restaurant's host (with or without its tenant claim), staff 403 on the admin 86, a
    restaurant route on the platform host 404, and refused calls change nothing."""
    order = shop.place()
    body = {"items": [{"id": shop.menu.items["Cola"], "available": False}]}
    before = written_state(shop)
    for headers, kitchen_status, admin_status in (
        ({}, 401, 401),
        (order_access(order), 401, 401),
        (shop.auth("platform_admin"), 403, 403),
        (shop.auth("platform_admin", tenant=shop.slug), 403, 403),
        (shop.auth("staff"), 403, 403),
        (shop.auth("staff", tenant=f"{shop.slug}x"), 403, 403),
        (shop.staff(), None, 403),
    ):
        listed = shop.client.get(KITCHEN, host=shop.host, headers=headers)
        assert listed.status_code == (kitchen_status or 200), listed.text
        if kitchen_status is not None:
            assert kitchen_86(shop, body, headers).status_code == kitchen_status
        admin = shop.client.post(ADMIN, host=shop.host, headers=headers, json=body)
        assert admin.status_code == admin_status, admin.text
    assert written_state(shop) == before
    for headers in (shop.auth("platform_admin"), shop.owner()):
        assert shop.client.get(KITCHEN, host="stelly.test", headers=headers).status_code == 404
    manager = shop.auth("manager", tenant=shop.slug)
    assert ok(kitchen_86(shop, body, manager))["published_version"] is not None


def test_another_restaurants_ids_on_the_kitchen_route_are_404_and_change_nothing(
    client, tenants, auth_header, shop: Shop
) -> None:
    other = open_shop(client, tenants, auth_header)
    here, there = written_state(shop), written_state(other)
    alone = kitchen_86(shop, {"items": [{"id": other.menu.items["Cola"], "available": False}]})
    assert alone.status_code == 404 and other.slug not in alone.text
    theirs = {"id": other.menu.option("Margherita/Toppings/Ham"), "available": False}
    mixed = kitchen_86(
        shop,
        {
            "items": [{"id": shop.menu.items["Cola"], "available": False}],
            "options": [{**theirs, "until": "tomorrow"}],
        },
    )
    assert mixed.status_code == 404 and mixed.json()["detail"].startswith("options[0]: ")
    assert "Ham" not in mixed.text and other.slug not in mixed.text
    assert (written_state(shop), written_state(other)) == (here, there)


@pytest.mark.usefixtures("webpubsub_hub")
def test_every_display_hears_the_new_86_list_live(
    shop: Shop, live_clients: Callable[[str], LiveClient]
) -> None:
    """The kitchen's display and a station's (bar) both get `menu.sold_out` over the hub, once
    for an 86 from a manager's phone and once for the bring-back."""
    kitchen = live_clients(kitchen_url(shop))
    bar = live_clients(kitchen_url(shop, station="bar"))
    manager = shop.auth("manager", tenant=shop.slug, subject="mia")
    cola = shop.menu.items["Cola"]
    for available in (False, True):
        body = {"items": [{"id": cola, "available": available}]}
        ok(shop.client.post(ADMIN, host=shop.host, headers=manager, json=body))
    for display in (kitchen, bar):
        sold_out, back = display.events(2)
        assert (sold_out["type"], back["type"]) == ("menu.sold_out", "menu.sold_out")
        assert [item["name"] for item in sold_out["data"]["items"]] == ["Calzone", "Cola"]
        assert [item["name"] for item in back["data"]["items"]] == ["Calzone"]
        assert sold_out["data"]["by"] == "staff:mia"
    settle()
    assert kitchen.nothing_more() == [] and bar.nothing_more() == []


def test_a_publish_that_changes_the_86_list_says_who_published(shop: Shop) -> None:
    """A publish's `menu.sold_out` names who published, as an 86's names who 86'd."""
    manager = {"host": shop.host, "headers": shop.auth("owner", tenant=shop.slug, subject="rosa")}
    sheet = copy.deepcopy(SHEET)
    sheet["categories"][1]["items"][0]["available"] = False  # the Cola, out of stock
    ok(shop.client.post("/api/v1/admin/menu/import", **manager, json=sheet))
    ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)
    settle()
    page = ok(
        shop.client.get("/api/v1/kitchen/events", params={"after": "0"}, host=shop.host,
                        headers=shop.staff())
    )  # fmt: skip
    told = [event for event in page["events"] if event["type"] == "menu.sold_out"][-1]
    assert "Cola" in [item["name"] for item in told["data"]["items"]]
    assert told["data"]["by"] == "staff:rosa"
