"""Tax rates to a hundredth of a basis point (README "Tax rates to a hundredth of a basis
point"): the tax a customer pays against exact decimal arithmetic, how a rate reads back in
settings, the storefront and the manager's order view, what is refused, idempotent replays, and
a restaurant before and through tenant migration 0012."""

from __future__ import annotations

import json
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from psycopg import sql

from devhost.testclient import TestResponse
from shared import migrate
from tests.conftest import execute
from tests.order_fixtures import Shop, open_shop
from tests.storefront_helpers import ok, problem

SETTINGS = "/api/v1/admin/settings"
# 596.43 * 100 is 59642.99999999999 in floating point: a truncated rate taxes 1400 and 1750 a cent
# short.
RATES = ("887.5", "662.5", "471.25", "100.01", "596.43", "9999.99", "10000")


def _shop(client, tenants, auth_header) -> Shop:
    return open_shop(client, tenants, auth_header, settings={"currency": "USD"})


def _settings(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get(SETTINGS, host=shop.host, headers=shop.owner()))


def _put_rate(shop: Shop, rate: str, inclusive: bool = False) -> TestResponse:
    """PUT the settings with `tax.rate_bp` spelt exactly as `rate` (raw JSON number text)."""
    document = {**_settings(shop), "tax": {"rate_bp": "@RATE@", "inclusive": inclusive}}
    raw = json.dumps(document).replace('"@RATE@"', rate).encode()
    headers = {**shop.owner(), "content-type": "application/json"}
    return shop.client.put(SETTINGS, host=shop.host, headers=headers, body=raw)


def _store_tax(shop: Shop) -> dict[str, Any]:
    return ok(shop.client.get("/api/v1/store/config", host=shop.host))["tax"]


def _manager_view(shop: Shop, order: dict[str, Any]) -> TestResponse:
    path = f"/api/v1/admin/orders/{order['id']}"
    return shop.client.get(path, host=shop.host, headers=shop.owner())


def _exact_tax(subtotal: int, rate: str, inclusive: bool) -> int:
    bp = Decimal(rate)
    share = subtotal * bp / (10000 + bp) if inclusive else subtotal * bp / 10000
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _old_schema(shop: Shop) -> None:
    """This release's code on a restaurant the fleet run has not brought to migration 0012."""
    execute(
        sql.SQL(
            """alter table {s}.orders alter column tax_rate_bp type integer;
               delete from {s}.schema_migrations where version = 12"""
        ).format(s=sql.Identifier(shop.schema))
    )


def _bodies(shop: Shop) -> list[dict[str, Any]]:
    """Orders of different subtotals."""
    large = shop.pizza_line("Ham", "Olives", "Anchovies", size="Large")
    return [
        shop.order_body(shop.cola_line()),
        shop.order_body(shop.cola_line(quantity=3)),
        shop.order_body(shop.cola_line(quantity=7)),
        shop.order_body(shop.cola_line(quantity=13)),
        shop.order_body(large, tip=120),
        shop.order_body(shop.pizza_line(quantity=3), large, shop.cola_line(quantity=5)),
    ]


@pytest.mark.parametrize("inclusive", [False, True])
def test_the_tax_paid_is_exact_decimal_arithmetic_rounded_half_up_once(
    client, tenants, auth_header, inclusive: bool
) -> None:
    """For rates with one and two decimals, near 0, near and at 100 %: each order's tax is the
    exact decimal share rounded half up, the total follows, and the manager sees the rate the
    settings, the storefront and the customer's price all used."""
    shop = _shop(client, tenants, auth_header)
    for rate in RATES:
        saved = ok(_put_rate(shop, rate, inclusive))["tax"]
        expected = {"rate_bp": json.loads(rate), "inclusive": inclusive}
        assert saved == _settings(shop)["tax"] == _store_tax(shop) == expected
        for body in _bodies(shop):
            placed = shop.place(body)
            totals = placed["totals"]
            assert totals["tax"] == _exact_tax(totals["subtotal"], rate, inclusive), (rate, totals)
            grows = 0 if inclusive else totals["tax"]
            assert totals["total"] == totals["subtotal"] + grows + totals["tip"]
            seen = ok(_manager_view(shop, placed))["totals"]
            assert (seen["tax"], seen["tax_rate_bp"]) == (totals["tax"], json.loads(rate))


def test_json_spellings_of_a_rate_read_back_as_one_number_everywhere(
    client, tenants, auth_header
) -> None:
    """8.875e2 is 887.5, 1e4 and 2000.0 are whole (no `.0` in any answer), -0.0 is 0."""
    shop = _shop(client, tenants, auth_header)
    for sent, means in (("8.875e2", "887.5"), ("471.250", "471.25"), ("1e4", "10000"),
                        ("2000.0", "2000"), ("-0.0", "0")):  # fmt: skip
        answer = _put_rate(shop, sent)
        assert f'"rate_bp":{means},' in answer.text.replace(" ", ""), (sent, answer.text)
        assert _settings(shop)["tax"]["rate_bp"] == _store_tax(shop)["rate_bp"] == float(means)
        order = shop.place(shop.order_body(shop.cola_line(quantity=3)))
        assert f'"tax_rate_bp":{means},' in _manager_view(shop, order).text.replace(" ", "")


@pytest.mark.parametrize(
    "rate",
    ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, "-1e-9", "10000.01",
     "887.555", "1e-7", "20.5", "true", '"887.5"', "null", "[887.5]"],
)  # fmt: skip
def test_a_rate_out_of_range_or_shape_is_a_422_and_nothing_changes(
    client, tenants, auth_header, rate: str
) -> None:
    shop = _shop(client, tenants, auth_header)
    before = _settings(shop)

    refused = problem(_put_rate(shop, rate), 422)

    assert [error["path"] for error in refused["errors"]] == ["tax.rate_bp"]
    assert _settings(shop) == before
    assert _store_tax(shop) == {"rate_bp": 2000, "inclusive": False}


def test_an_idempotent_replay_after_a_rate_change_is_the_first_answer(
    client, tenants, auth_header
) -> None:
    shop = _shop(client, tenants, auth_header)
    ok(_put_rate(shop, "887.5"))
    key, body = str(uuid.uuid4()), shop.order_body(shop.cola_line(quantity=3))
    first = shop.post_order(body, key=key)
    assert first.status_code == 201, first.text
    ok(_put_rate(shop, "662.5"))

    again = shop.post_order(body, key=key)

    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["totals"] == first.json()["totals"] == {
        "subtotal": 750, "tax": 67, "tip": 0, "total": 817, "currency": "USD"
    }  # fmt: skip
    assert ok(_manager_view(shop, first.json()))["totals"]["tax_rate_bp"] == 887.5
    day = ok(shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    assert day["summary"]["orders"] == 1


def test_migration_0012_keeps_every_order_as_it_was_and_then_takes_a_fraction(
    client, tenants, auth_header
) -> None:
    """Before 0012 whole rates (also spelt 1e3 or 2000.0) are taken and a fraction, even one a
    hair off a whole number, is a 409 that saves nothing; the migration rewrites the orders
    table without changing what any order, or the day book, shows."""
    shop = _shop(client, tenants, auth_header)
    _old_schema(shop)
    orders = []
    for rate, inclusive in (("0", False), ("1", True), ("1e3", False), ("2000.0", True),
                            ("9999", True), ("10000", False), ("10000", True)):  # fmt: skip
        ok(_put_rate(shop, rate, inclusive))
        orders.append(shop.place(shop.order_body(shop.cola_line(quantity=7))))
    for fraction in ("887.5", "8.875e2", "1000.01"):
        assert "database update" in problem(_put_rate(shop, fraction), 409)["detail"]
    assert _settings(shop)["tax"] == {"rate_bp": 10000, "inclusive": True}
    day_path = "/api/v1/admin/orders"
    views = [_manager_view(shop, order).text for order in orders]
    day = ok(shop.client.get(day_path, host=shop.host, headers=shop.owner()))

    migrate.migrate_tenant(shop.schema)

    assert [_manager_view(shop, order).text for order in orders] == views
    assert [json.loads(view)["totals"]["tax_rate_bp"] for view in views] == [
        0, 1, 1000, 2000, 9999, 10000, 10000
    ]  # fmt: skip
    assert ok(shop.client.get(day_path, host=shop.host, headers=shop.owner())) == day
    assert ok(_put_rate(shop, "887.5"))["tax"]["rate_bp"] == 887.5
    order = shop.place(shop.order_body(shop.cola_line(quantity=7)))
    assert order["totals"]["tax"] == _exact_tax(1750, "887.5", False)
    assert ok(_manager_view(shop, order))["totals"]["tax_rate_bp"] == 887.5


@pytest.mark.parametrize("rate", ["887.500000001", "100.0000000001", "9999.999999999"])
def test_the_rate_the_settings_show_is_the_rate_orders_are_priced_at(
    client, tenants, auth_header, rate: str
) -> None:
    """README: `tax.rate_bp` has "at most two decimals". Refused (422) or taken as the
    two-decimal rate it is within a float's error of, the settings, the storefront and the
    orders must then agree, to the same spelling."""
    shop = _shop(client, tenants, auth_header)

    assert _put_rate(shop, rate).status_code in (200, 422)

    order = shop.place(shop.order_body(shop.cola_line(quantity=3)))
    priced_at = ok(_manager_view(shop, order))["totals"]["tax_rate_bp"]
    shown = (_settings(shop)["tax"]["rate_bp"], _store_tax(shop)["rate_bp"])
    assert shown == (priced_at, priced_at)
    # As one number: a whole rate stays whole (100, not 100.0) in the settings' answer too.
    settings = shop.client.get(SETTINGS, host=shop.host, headers=shop.owner()).text
    assert f'"rate_bp":{json.dumps(priced_at)},' in settings.replace(" ", "")


@pytest.mark.parametrize(
    ("rate", "percent"), [("33.3", "0.333 %"), ("99.99", "0.9999 %"), ("0.07", "0.0007 %")]
)
def test_a_fraction_below_one_percent_is_refused_with_the_percent_as_typed(
    client, tenants, auth_header, rate: str, percent: str
) -> None:
    shop = _shop(client, tenants, auth_header)

    message = problem(_put_rate(shop, rate), 422)["errors"][0]["message"]

    assert message.startswith(f"{rate} basis points is {percent}:"), message


@pytest.mark.parametrize("rate", ['"887.5"', "true", "{}"])
def test_a_rate_that_is_not_a_number_is_told_so_in_json_words_with_the_unit(
    client, tenants, auth_header, rate: str
) -> None:
    """README: messages are in JSON's words, not pydantic's; tax with its unit."""
    shop = _shop(client, tenants, auth_header)

    message = problem(_put_rate(shop, rate), 422)["errors"][0]["message"]

    assert not message.startswith("Input should"), message
    assert "in basis points from 0 to 10000" in message, message


def test_an_order_at_8_875_percent_is_taxed_and_keeps_its_rate(client, tenants, auth_header):
    shop = open_shop(
        client,
        tenants,
        auth_header,
        settings={"currency": "USD", "tax": {"rate_bp": 887.5, "inclusive": False}},
    )
    before = shop.place(shop.order_body(shop.cola_line(quantity=3)))  # 3 x 2.50 = 7.50

    # 750 x 8.875 % = 66.5625 → 67 (half up, once on the subtotal)
    assert before["totals"] == {
        "subtotal": 750,
        "tax": 67,
        "tip": 0,
        "total": 817,
        "currency": "USD",
    }
    totals = ok(_manager_view(shop, before))["totals"]
    assert (totals["tax_rate_bp"], totals["tax_inclusive"]) == (887.5, False)
    # The rate changes; the order keeps the one it was priced at, a whole one as a whole number.
    ok(_put_rate(shop, "2000"))
    after = shop.place(shop.order_body(shop.cola_line(quantity=3)))
    assert after["totals"]["tax"] == 150
    assert ok(_manager_view(shop, before))["totals"]["tax_rate_bp"] == 887.5
    whole = _manager_view(shop, after)
    assert '"tax_rate_bp":2000,' in whole.text.replace(" ", "")
    day = ok(shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    assert day["summary"]["sales"][0]["tax"] == 67 + 150
