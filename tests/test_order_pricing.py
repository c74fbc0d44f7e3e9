"""Pricing from a hand-built snapshot: free quantities, tax modes, rounding, rejections."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.orders.models import OrderLineIn
from shared.orders.pricing import MenuIndex, TaxRule, compute_totals, price_order, round_half_up

SNAPSHOT: dict[str, Any] = {
    "version": 7,
    "published_at": "2026-01-01T00:00:00+00:00",
    "currency": "EUR",
    "categories": [
        {
            "id": "c1",
            "name": "Pizza",
            "rank": 0,
            "visible": True,
            "items": [
                {
                    "id": "pizza",
                    "name": "Margherita",
                    "price": 900,
                    "station": "oven",
                    "allergens": ["gluten"],
                    "available": True,
                    "windows": None,
                    "modifier_groups": [
                        {
                            "id": "size",
                            "name": "Size",
                            "min": 1,
                            "max": 1,
                            "free_quantity": 0,
                            "options": [
                                {
                                    "id": "regular",
                                    "name": "Regular",
                                    "price_delta": 0,
                                    "default": True,
                                },
                                {"id": "large", "name": "Large", "price_delta": 300},
                            ],
                        },
                        {
                            "id": "toppings",
                            "name": "Toppings",
                            "min": 0,
                            "max": 3,
                            "free_quantity": 2,
                            "options": [
                                {"id": "ham", "name": "Ham", "price_delta": 150},
                                {"id": "olives", "name": "Olives", "price_delta": 100},
                                {"id": "mushrooms", "name": "Mushrooms", "price_delta": 120},
                                {"id": "anchovies", "name": "Anchovies", "price_delta": 200},
                                {
                                    "id": "truffle",
                                    "name": "Truffle",
                                    "price_delta": 500,
                                    "available": False,
                                },
                            ],
                        },
                    ],
                },
                {"id": "soldout", "name": "Calzone", "price": 1100, "available": False},
                {"id": "lunch", "name": "Lunch deal", "price": 700, "windows": {"mon": []}},
            ],
        },
        {
            "id": "c2",
            "name": "Drinks",
            "visible": True,
            "items": [
                {
                    "id": "cola",
                    "name": "Cola",
                    "price": 250,
                    "station": "bar",
                    "modifier_groups": [
                        {
                            "id": "ice",
                            "name": "Ice",
                            "min": 0,
                            "max": 1,
                            "options": [{"id": "noice", "name": "No ice", "price_delta": 0}],
                        }
                    ],
                }
            ],
        },
        {
            "id": "c3",
            "name": "Hidden",
            "visible": False,
            "items": [{"id": "secret", "name": "Family meal", "price": 0}],
        },
    ],
}
MENU = MenuIndex.from_snapshot(SNAPSHOT)
NO_TAX = TaxRule(0, inclusive=False)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _always(item: dict) -> bool:
    return True


def _not_lunch(item: dict) -> bool:
    return item["id"] != "lunch"


def line(item: str, *options: str, quantity: int = 1, note: str | None = None) -> OrderLineIn:
    # Built past validation: this menu's ids are readable names, where requests carry UUIDs.
    return OrderLineIn.model_construct(
        item_id=item, quantity=quantity, option_ids=list(options), note=note
    )


SIZE_MISSING = "Size: choose at least 1 (got 0) from: Regular (the default), Large"


def price(*lines: OrderLineIn, rule: TaxRule = NO_TAX, tip: int = 0, available=_always):
    return price_order(MENU, lines, tip=tip, rule=rule, is_available=available, now_utc=NOW)


@pytest.mark.parametrize(
    ("options", "unit_price", "charged"),
    [
        # (chosen toppings in the order listed, unit price, what each topping was charged)
        ((), 900, []),
        (("ham",), 900, [0]),
        (("ham", "olives"), 900, [0, 0]),
        (("ham", "olives", "mushrooms"), 1020, [0, 0, 120]),
        # Same three toppings listed in another order: the first two listed are the free ones.
        (("mushrooms", "olives", "ham"), 1050, [0, 0, 150]),
        (("anchovies", "ham", "olives"), 1000, [0, 0, 100]),
    ],
)
def test_the_first_free_quantity_options_listed_are_free(options, unit_price, charged) -> None:
    priced, problems = price(line("pizza", "regular", *options, quantity=2))
    assert problems == [] and priced is not None
    (priced_line,) = priced.lines
    assert priced_line.unit_price == unit_price
    assert priced_line.line_total == unit_price * 2
    toppings = [m for m in priced_line.modifiers if m.group_id == "toppings"]
    assert [m.option_id for m in toppings] == list(options)
    assert [m.charged for m in toppings] == charged


def test_free_quantity_never_covers_another_group() -> None:
    priced, _ = price(line("pizza", "large", "ham"))
    assert priced is not None
    assert priced.lines[0].unit_price == 1200  # Large (+300) is charged; Ham is free
    assert priced.totals.subtotal == 1200


@pytest.mark.parametrize(
    ("subtotal", "rate_bp", "inclusive", "tip", "tax", "total"),
    [
        (1000, 2000, False, 0, 200, 1200),
        (1010, 825, False, 0, 83, 1093),  # 83.325 → 83
        (1030, 825, False, 0, 85, 1115),  # 84.975 → 85
        (200, 25, False, 0, 1, 201),  # exactly 0.5 → rounds half up
        (100, 49, False, 0, 0, 100),  # 0.49 → 0
        (1000, 1000, False, 500, 100, 1600),  # the tip is never taxed
        (1190, 1900, True, 0, 190, 1190),  # inclusive: 19 % of the net, inside the price
        (1000, 2000, True, 0, 167, 1000),  # 166.67 → 167; the total does not grow
        (1, 10000, True, 0, 1, 1),  # exactly 0.5 → rounds half up
        (1000, 2000, True, 300, 167, 1300),
        (0, 2000, False, 0, 0, 0),
        (1999, 887.5, False, 0, 177, 2176),  # New York's 8.875 %: 177.41 → 177
        (400, 887.5, False, 0, 36, 436),  # 35.5 exactly → rounds half up
        (1999, 887.5, True, 0, 163, 1999),  # 162.95 inside the price
        (10000, 662.5, False, 0, 663, 10663),  # New Jersey's 6.625 %: 662.5 → 663
    ],
)
def test_tax_once_on_the_subtotal_rounded_half_up(
    subtotal, rate_bp, inclusive, tip, tax, total
) -> None:
    totals = compute_totals(subtotal, tip=tip, rule=TaxRule(rate_bp, inclusive), currency="EUR")
    assert (totals.subtotal, totals.tax, totals.tip, totals.total) == (subtotal, tax, tip, total)


def test_tax_is_not_rounded_per_line() -> None:
    # Three colas at 0.1 %: per line 0.25 would round to 0 each; on the subtotal 0.75 → 1.
    priced, _ = price(line("cola"), line("cola"), line("cola"), rule=TaxRule(10, False))
    assert priced is not None
    assert (priced.totals.subtotal, priced.totals.tax, priced.totals.total) == (750, 1, 751)


def test_order_totals_add_up_across_lines() -> None:
    priced, _ = price(
        line("pizza", "large", "ham", "olives", "mushrooms"),  # 900 + 300 + 120 = 1320
        line("cola", quantity=3),  # 750
        rule=TaxRule(2000, inclusive=False),
        tip=150,
    )
    assert priced is not None
    assert priced.totals.as_dict() == {
        "subtotal": 2070,
        "tax": 414,
        "tip": 150,
        "total": 2634,
        "currency": "EUR",
    }
    assert priced.menu_version == 7
    assert [p.station for p in priced.lines] == ["oven", "bar"]


@pytest.mark.parametrize(
    ("lines", "errors"),
    [
        ([line("nope")], [("lines[0].item_id", "is not on the menu")]),
        ([line("secret")], [("lines[0].item_id", "is not on the menu")]),
        ([line("soldout")], [("lines[0].item_id", "Calzone is not available now")]),
        ([line("lunch")], [("lines[0].item_id", "Lunch deal is not available now")]),
        (
            [line("pizza", "regular", "ham", "ham")],
            [("lines[0].option_ids[2]", "is chosen twice; choose each option once")],
        ),
        (
            [line("pizza", "regular", "noice")],
            [
                (
                    "lines[0].option_ids[1]",
                    "belongs to a modifier group that Margherita does not have",
                )
            ],
        ),
        (
            [line("pizza", "regular", "bogus")],
            [("lines[0].option_ids[1]", "is not an option on the menu")],
        ),
        (
            [line("pizza", "regular", "truffle")],
            [("lines[0].option_ids[1]", "Truffle is not available now")],
        ),
        ([line("pizza")], [("lines[0].option_ids", SIZE_MISSING)]),
        (
            [line("pizza", "regular", "large")],
            [("lines[0].option_ids", "Size: choose at most 1 (got 2)")],
        ),
        (
            [line("pizza", "regular", "ham", "olives", "mushrooms", "anchovies")],
            [("lines[0].option_ids", "Toppings: choose at most 3 (got 4)")],
        ),
        (
            [line("cola"), line("nope"), line("pizza", "bogus")],
            [
                ("lines[1].item_id", "is not on the menu"),
                ("lines[2].option_ids[0]", "is not an option on the menu"),
                ("lines[2].option_ids", SIZE_MISSING),
            ],
        ),
    ],
)
def test_every_rejection_names_its_field(lines, errors) -> None:
    """Each refusal says at which field and what to do (a missing choice names the choices)."""
    priced, problems = price(*lines, available=_not_lunch)
    assert priced is None
    assert [(p.path, p.message) for p in problems] == errors


def test_round_half_up() -> None:
    assert [round_half_up(n, 10) for n in (0, 4, 5, 14, 15, 25)] == [0, 0, 1, 1, 2, 3]


def test_a_missing_choice_names_at_most_eight_choices_and_none_sold_out() -> None:
    group = {
        "name": "Sauce", "min": 1, "max": 1,
        "options": [
            {"id": f"s{n}", "name": f"S{n}", "price_delta": 0, "available": n != 3}
            for n in range(1, 11)
        ],
    }  # fmt: skip
    snapshot = copy.deepcopy(SNAPSHOT)
    snapshot["categories"][0]["items"][0]["modifier_groups"].append({**group, "id": "sauce"})
    priced, problems = price_order(
        MenuIndex.from_snapshot(snapshot), [line("pizza", "regular")], tip=0, rule=NO_TAX,
        is_available=_always, now_utc=NOW,
    )  # fmt: skip
    assert priced is None
    [problem] = problems
    names = ", ".join(f"S{n}" for n in (1, 2, 4, 5, 6, 7, 8, 9))
    assert problem.message == f"Sauce: choose at least 1 (got 0) from: {names} and 1 more"


def _sold_out_until(until: str) -> MenuIndex:
    """MENU with the Calzone and the Truffle topping 86'd until `until`."""
    snapshot = copy.deepcopy(SNAPSHOT)
    pizza, calzone = snapshot["categories"][0]["items"][:2]
    calzone["sold_out_until"] = until
    truffle = pizza["modifier_groups"][1]["options"][4]
    truffle["sold_out_until"] = until
    return MenuIndex.from_snapshot(snapshot)


def test_a_dish_sold_out_until_a_time_is_on_sale_again_from_that_time_on():
    lines = [line("soldout"), line("pizza", "regular", "truffle")]
    back_at_noon = _sold_out_until("2026-11-25T12:00:00+00:00")
    priced, problems = price_order(
        back_at_noon, lines, tip=0, rule=NO_TAX, is_available=_always, now_utc=NOW
    )
    assert problems == []
    assert priced is not None
    assert [line.name for line in priced.lines] == ["Calzone", "Margherita"]
    assert [m.name for m in priced.lines[1].modifiers] == ["Regular", "Truffle"]

    back_a_second_later = _sold_out_until("2026-11-25T12:00:01+00:00")
    priced, problems = price_order(
        back_a_second_later, lines, tip=0, rule=NO_TAX, is_available=_always, now_utc=NOW
    )
    assert priced is None
    assert [(p.path, p.message) for p in problems] == [
        ("lines[0].item_id", "Calzone is not available now"),
        ("lines[1].option_ids[1]", "Truffle is not available now"),
    ]
