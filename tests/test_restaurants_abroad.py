"""Restaurants outside the eurozone and outside Europe, through the HTTP app: money in 0- and
3-digit currencies, half-hour and 45-minute zones, a zone that skips midnight, names that are
one name case aside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.errors import ProblemError
from shared.orders.models import OrderIn
from shared.orders.placement import place_order
from tests.order_fixtures import Shop, open_shop
from tests.storefront_helpers import customer_api, ok, owner_api

ADMIN_ORDERS = "/api/v1/admin/orders"


def _get(shop: Shop, path: str, **params: Any) -> Any:
    return ok(shop.client.get(path, host=shop.host, headers=shop.owner(), params=params or None))


def _one_dish_menu(category: str, dish: str, price: int, options: list[tuple[str, int]]) -> dict:
    group = {
        "name": "Extra",
        "min": 0,
        "max": len(options),
        "free_quantity": 1,
        "options": [{"name": name, "price_delta": delta} for name, delta in options],
    }
    return {"categories": [{"name": category, "items": [
        {"name": dish, "price": price, "station": "grill", "modifier_groups": [group]},
        {"name": "Tea", "price": price // 4, "station": "bar"},
    ]}]}  # fmt: skip


RESTAURANTS = {
    # Tokyo ramen: yen has no minor unit; 10 % consumption tax is inside the prices.
    "JPY": (
        {"currency": "JPY", "timezone": "Asia/Tokyo", "locale": "ja-JP",
         "tax": {"rate_bp": 1000, "inclusive": True}},
        _one_dish_menu("ラーメン", "豚骨ラーメン", 980, [("味玉", 150), ("チャーシュー", 300)]),
        0,
    ),
    # Kuwait grill: fils, three digits; 5 % added on top.
    "KWD": (
        {"currency": "KWD", "timezone": "Asia/Kuwait", "locale": "ar-KW",
         "tax": {"rate_bp": 500, "inclusive": False}},
        _one_dish_menu("مشاوي", "مشاوي مشكلة", 4_750, [("حمص", 1_250), ("خبز", 125)]),
        3,
    ),
    # New York diner: cents; 8.88 % added on top (the nearest whole basis point to 8.875 %).
    "USD": (
        {"currency": "USD", "timezone": "America/New_York", "locale": "en-US",
         "tax": {"rate_bp": 888, "inclusive": False}},
        _one_dish_menu("Diner", "Cheeseburger", 1_395, [("Bacon", 250), ("Egg", 175)]),
        2,
    ),
}  # fmt: skip


@pytest.mark.parametrize("currency", list(RESTAURANTS))
def test_every_answer_tells_the_same_totals_in_the_currencys_own_minor_units(
    client, tenants, auth_header, currency: str
) -> None:
    """(Receipt, customer view, manager view, day book and store config together, outside
    EUR): an order with a free option, a charged one, two of a dish, a tea and a tip is charged
    in the restaurant's currency; every view shows the same integer minor units; lines add up to
    the subtotal, `subtotal + tax (exclusive only) + tip = total`, the day's sales equal the one
    order, and the store config's exponent is the currency's own (0 for yen, 3 for dinar)."""
    settings, menu, exponent = RESTAURANTS[currency]
    shop = open_shop(client, tenants, auth_header, settings=settings, menu=menu)
    [dish, tea] = [item["name"] for item in menu["categories"][0]["items"]]
    options = menu["categories"][0]["items"][0]["modifier_groups"][0]["options"]
    [free, charged] = [f"{dish}/Extra/{o['name']}" for o in options]
    body = {
        "lines": [
            {"item_id": shop.menu.items[dish], "quantity": 2,
             "option_ids": [shop.menu.options[free], shop.menu.options[charged]]},
            {"item_id": shop.menu.items[tea], "quantity": 1},
        ],
        "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+1 212 555 0100"},
        "tip": 200,
    }  # fmt: skip
    receipt = shop.place(body)
    totals = receipt["totals"]
    price = menu["categories"][0]["items"][0]["price"]
    delta = menu["categories"][0]["items"][0]["modifier_groups"][0]["options"][1]["price_delta"]
    subtotal = 2 * (price + delta) + price // 4
    rate, inclusive = settings["tax"]["rate_bp"], settings["tax"]["inclusive"]
    tax = (2 * subtotal * rate + (10_000 + rate * inclusive)) // (2 * (10_000 + rate * inclusive))
    assert totals == {
        "subtotal": subtotal, "tax": tax, "tip": 200,
        "total": subtotal + (0 if inclusive else tax) + 200, "currency": currency,
    }  # fmt: skip

    view = ok(shop.customer_view(receipt))
    manager = _get(shop, f"{ADMIN_ORDERS}/{receipt['id']}")
    assert view["totals"] == totals
    assert {k: v for k, v in manager["totals"].items() if k in totals} == totals
    assert (manager["totals"]["tax_rate_bp"], manager["totals"]["tax_inclusive"]) == (
        rate,
        inclusive,
    )
    assert sum(line["line_total"] for line in view["lines"]) == subtotal
    assert [m["charged"] for m in view["lines"][0]["modifiers"]] == [0, delta]

    day = _get(shop, ADMIN_ORDERS, date=manager["business_date"])
    assert day["summary"]["sales"] == [{
        "currency": currency, "orders": 1, "subtotal": subtotal, "tax": tax,
        "tax_included": tax if inclusive else 0, "tip": 200, "total": totals["total"],
    }]  # fmt: skip
    assert [(o["total"], o["currency"]) for o in day["orders"]] == [(totals["total"], currency)]
    config = ok(customer_api(client, shop.tenant).get("/v1/store/config"))
    assert (config["currency"], config["currency_exponent"]) == (currency, exponent)


def test_a_money_refusal_explains_minor_units_in_currencies_of_every_digit_count(
    client, tenants, auth_header
) -> None:
    """A Kuwaiti manager who sends 4.75 for a 4.750 KD dish is shown how fils are written
    (4750, three digits), and a Tokyo customer's app sending a tip of 1.5 how yen are (no
    digits): a hint of "9.50 EUR is 950" alone teaches x 100, which makes the dish 0.475 KD."""
    kwd = open_shop(client, tenants, auth_header, settings=RESTAURANTS["KWD"][0],
                    menu=RESTAURANTS["KWD"][1])  # fmt: skip
    menu = {"categories": [{"name": "Grill", "items": [{"name": "Kebab", "price": 4.75}]}]}
    refused = owner_api(client, kwd.tenant, auth_header).post("/v1/admin/menu/import", json=menu)
    assert refused.status_code == 422, refused.text
    [price_error] = refused.json()["errors"]
    assert "4.750 KWD is 4750" in price_error["message"]

    jpy = open_shop(client, tenants, auth_header, settings=RESTAURANTS["JPY"][0],
                    menu=RESTAURANTS["JPY"][1])  # fmt: skip
    tea = {"item_id": jpy.menu.items["Tea"], "quantity": 1}
    tip = jpy.post_order({**jpy.order_body(tea), "tip": 1.5})
    assert tip.status_code == 422, tip.text
    [tip_error] = tip.json()["errors"]
    assert "150 JPY is 150" in tip_error["message"]


def test_an_import_refuses_two_groups_on_a_dish_that_are_one_name_case_aside(
    client, tenants, auth_header
) -> None:
    """Fries with a "Dip" and a "DIP" group: the importer knows an option across imports by its
    dish's, group's and own names, case aside, so a cook's 86 of one group's Mayo would take
    the other's off too at the next import. The import is refused, naming the second group,
    as two options of one name case aside are, and the draft is left as it was."""
    groups = [
        {"name": "Dip", "min": 0, "max": 1, "options": [
            {"name": "Mayo", "price_delta": 50}, {"name": "Ketchup", "price_delta": 0}]},
        {"name": "DIP", "min": 0, "max": 1, "options": [
            {"name": "Mayo", "price_delta": 80}, {"name": "Curry", "price_delta": 0}]},
    ]  # fmt: skip
    menu = {"categories": [{"name": "Sides", "items": [
        {"name": "Fries", "price": 300, "modifier_groups": groups}]}]}  # fmt: skip
    shop = open_shop(client, tenants, auth_header)
    api = owner_api(client, shop.tenant, auth_header)
    before = ok(api.get("/v1/admin/menu"))
    refused = api.post("/v1/admin/menu/import", json=menu)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["path"] == "categories[0].items[0].modifier_groups[1].name"
    assert "look-alikes aside" in error["message"]
    assert ok(api.get("/v1/admin/menu")) == before


def test_a_pause_in_kathmandu_names_the_time_on_kathmandus_clocks(
    client, tenants, auth_header
) -> None:
    """The refusal names the minute orders resume on the
    restaurant's clock, 45 minutes off any whole-hour zone, and the config's `until` is UTC."""
    zone = ZoneInfo("Asia/Kathmandu")
    shop = open_shop(client, tenants, auth_header, settings={"timezone": "Asia/Kathmandu"})
    paused = shop.client.put("/api/v1/kitchen/pause", host=shop.host, headers=shop.staff(),
                             json={"minutes": 30, "note": "भान्सा भरिएको"})  # fmt: skip
    until = datetime.fromisoformat(ok(paused)["until"])
    assert until.utcoffset() == timedelta(0)
    refused = shop.post_order()
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    local = until.astimezone(zone)
    assert f"not taking orders until {local:%H:%M}" in error["message"]
    assert "(भान्सा भरिएको)" in error["message"]


def test_86_until_tomorrow_in_kathmandu_ends_at_kathmandus_midnight(
    client, tenants, auth_header
) -> None:
    """The dish is back at the
    next Kathmandu midnight, 18:15 UTC, not at UTC's midnight."""
    zone = ZoneInfo("Asia/Kathmandu")
    shop = open_shop(client, tenants, auth_header, settings={"timezone": "Asia/Kathmandu"})
    before = datetime.now(UTC)
    off = {"items": [{"id": shop.menu.items["Cola"], "available": False, "until": "tomorrow"}]}
    answer = ok(shop.client.post("/api/v1/kitchen/availability", host=shop.host,
                                 headers=shop.staff(), json=off))  # fmt: skip
    midnight = datetime.combine(before.astimezone(zone).date() + timedelta(days=1),
                                datetime.min.time(), zone)  # fmt: skip
    assert answer["items"][0]["sold_out_until"] == midnight.astimezone(UTC).isoformat()


def _ticket_at(shop: Shop, moment: str) -> str | None:
    """The ticket an order of one Cola placed at moment gets (the storefront's placement, at a
    chosen instant, as tests/test_orders_tickets.py does); None when it is refused."""
    order = OrderIn.model_validate(shop.order_body(shop.cola_line()))
    now = datetime.fromisoformat(moment).astimezone(UTC)
    try:
        placed = place_order(shop.tenant, order, idempotency_key=None, client_ip="10.0.0.1",
                             now=now)  # fmt: skip
    except ProblemError as refused:
        assert refused.status == 422 and "closed" in str(refused.detail), refused
        return None
    return placed.body["ticket_number"]


def test_cairos_skipped_midnight_closes_thursday_and_opens_friday_at_the_jump(
    client, tenants, auth_header
) -> None:
    """Egypt's summer
    time starts on Friday 24 April 2026 at 00:00, straight to 01:00. Thursday's 20:00-00:00
    runs until the jump, Friday's 00:00-02:00 opens at it, the Friday order opens its day's
    tickets at #0001, and each order is in its own local day's book."""
    shop = open_shop(client, tenants, auth_header, settings={
        "timezone": "Africa/Cairo",
        "hours": {"thu": [["20:00", "00:00"]], "fri": [["00:00", "02:00"]]},
    })  # fmt: skip
    assert _ticket_at(shop, "2026-04-23T23:59:00+02:00") == "#0001"
    assert _ticket_at(shop, "2026-04-24T01:00:30+03:00") == "#0001"
    assert _ticket_at(shop, "2026-04-24T01:59:00+03:00") == "#0002"
    assert _ticket_at(shop, "2026-04-24T02:00:30+03:00") is None
    thursday = _get(shop, ADMIN_ORDERS, date="2026-04-23")
    friday = _get(shop, ADMIN_ORDERS, date="2026-04-24")
    assert (thursday["summary"]["orders"], friday["summary"]["orders"]) == (1, 2)


def test_adelaides_late_window_stays_one_stretch_across_both_dst_nights(
    client, tenants, auth_header
) -> None:
    """Saturday's 18:00-02:30 ends at 03:00 when the clocks skip
    02:00-03:00 (4 October 2026) and at the second 02:30 when they repeat it (5 April 2026)."""
    shop = open_shop(client, tenants, auth_header, settings={
        "timezone": "Australia/Adelaide", "hours": {"sat": [["18:00", "02:30"]]},
    })  # fmt: skip
    assert _ticket_at(shop, "2026-10-04T02:59:00+10:30") is not None  # 01:59 ACST
    assert _ticket_at(shop, "2026-10-04T03:01:00+10:30") is None
    assert _ticket_at(shop, "2026-04-05T02:29:00+10:30") is not None  # first 02:29
    assert _ticket_at(shop, "2026-04-05T02:29:00+09:30") is not None  # second 02:29
    assert _ticket_at(shop, "2026-04-05T02:31:00+09:30") is None
    day = _get(shop, ADMIN_ORDERS, date="2026-04-05")
    assert [o["ticket_number"] for o in day["orders"]] == ["#0001", "#0002"]
