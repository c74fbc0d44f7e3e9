"""Sold out until: an 86 that ends by itself ("until tomorrow" or a named time), and the
kitchen's 86 list and 86'ing from the line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import ProblemError
from shared.menus.eighty_six import set_availability
from shared.menus.models import AvailabilityChange
from shared.menus.sold_out import back_on_sale_at
from shared.restaurant_settings import RestaurantSettings
from tests.order_fixtures import (  # noqa: F401 (fixtures)
    LiveClient,
    Shop,
    live_clients_fixture,
    settle,
    shop_fixture,
)
from tests.storefront_helpers import error_paths, ok
from tests.test_orders_realtime import kitchen_url

ADMIN = "/api/v1/admin/menu/availability"
KITCHEN = "/api/v1/kitchen/availability"
MENU = "/api/v1/store/menu"
LATE_NIGHT = {
    "mon": [],
    "tue": [["11:30", "14:00"], ["18:00", "23:00"]],
    "wed": [["11:30", "14:00"], ["18:00", "23:00"]],
    "thu": [["18:00", "02:00"]],
    "fri": [["12:00", "15:00"], ["18:00", "02:00"]],
    "sat": [["18:00", "02:00"]],
    "sun": [["12:00", "16:00"]],
}


def _settings(**extra: object) -> RestaurantSettings:
    return RestaurantSettings.model_validate(
        {
            "business_name": "Nachtküche",
            "currency": "EUR",
            "timezone": "Europe/Berlin",
            "locale": "de",
            "tax": {"rate_bp": 700, "inclusive": True},
            **extra,
        }
    )


def _berlin(text: str) -> datetime:
    """A Berlin wall time in November (UTC+1) as a UTC instant."""
    return (datetime.fromisoformat(text) - timedelta(hours=1)).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "back"),
    [
        # Thursday 23:00, mid-service: back when Friday's lunch opens.
        ("2026-11-26T23:00", "2026-11-27T12:00"),
        # 01:00 Friday is still Thursday's 18:00-02:00: Friday is its tomorrow, so the same.
        ("2026-11-27T01:00", "2026-11-27T12:00"),
        # Friday 03:00, after Thursday's service: Friday's own tomorrow is Saturday at 18:00.
        ("2026-11-27T03:00", "2026-11-28T18:00"),
        # Sunday afternoon: Monday is closed, so Tuesday's lunch.
        ("2026-11-29T15:00", "2026-12-01T11:30"),
    ],
)
def test_tomorrow_is_the_restaurants_next_service_after_this_one(now: str, back: str) -> None:
    settings = _settings(hours=LATE_NIGHT)
    assert back_on_sale_at("tomorrow", settings, _berlin(now), "until") == _berlin(back)


def test_tomorrow_skips_a_special_day_closed_and_always_open_means_midnight() -> None:
    closed_friday = _settings(
        hours=LATE_NIGHT, special_days=[{"date": "2026-11-27", "hours": [], "note": "Private"}]
    )
    thursday_night = _berlin("2026-11-26T23:00")
    saturday = _berlin("2026-11-28T18:00")
    assert back_on_sale_at("tomorrow", closed_friday, thursday_night, "until") == saturday
    always_open = _settings()
    midnight = _berlin("2026-11-27T00:00")
    assert back_on_sale_at("tomorrow", always_open, thursday_night, "until") == midnight


def test_a_named_time_must_lie_ahead_within_30_days_and_ends_on_a_whole_minute() -> None:
    now = _berlin("2026-11-26T19:00")
    settings = _settings()
    at = datetime.fromisoformat("2026-11-26T21:30:20+01:00")
    assert back_on_sale_at(at, settings, now, "until") == _berlin("2026-11-26T21:31")
    for too_early_or_late in (now, now + timedelta(days=30, minutes=1)):
        with pytest.raises(ProblemError) as refused:
            back_on_sale_at(too_early_or_late, settings, now, "items[0].until")
        assert refused.value.errors[0].path == "items[0].until"


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


def test_the_kitchen_86es_from_the_line_and_every_display_gets_the_list(
    client, tenants, auth_header, shop: Shop
) -> None:
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
    events = ok(
        shop.client.get(
            "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
        )
    )["events"]
    [news] = [event for event in events if event["type"] == "menu.sold_out"]
    assert news["data"] == {**expected, "by": "staff:luca"}
    assert news["order_id"] is None

    # Nobody but this restaurant's staff reads or changes its 86 list.
    other = tenants.create()
    for headers, status in (({}, 401), (auth_header("staff", tenant=other.slug), 403)):
        assert shop.client.get(KITCHEN, host=shop.host, headers=headers).status_code == status
        assert shop.client.post(
            KITCHEN, host=shop.host, headers=headers, json=body
        ).status_code == (status)


def test_an_86_that_changes_nothing_tells_no_display(shop: Shop) -> None:
    cola = {"items": [{"id": shop.menu.items["Cola"], "available": True}]}
    assert (
        ok(shop.client.post(KITCHEN, host=shop.host, headers=shop.staff(), json=cola))[
            "published_version"
        ]
        is None
    )
    events = ok(
        shop.client.get(
            "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
        )
    )["events"]
    assert [event for event in events if event["type"] == "menu.sold_out"] == []
    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))
    assert [entry["name"] for entry in listed["items"] + listed["options"]] == [
        "Calzone",
        "Truffle",
    ]


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
