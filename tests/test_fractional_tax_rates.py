"""A restaurant whose sales tax has three decimals of a percent (New York City's 8.875 %, basis
points to a hundredth: 887.5) prices its orders with it, keeps it on each order, and can only
save it once its orders can keep it (tenant migration 0012)."""

from __future__ import annotations

from psycopg import sql

from shared import migrate
from tests.conftest import execute
from tests.order_fixtures import Shop, open_shop
from tests.storefront_helpers import ok, problem

NEW_YORK = {"rate_bp": 887.5, "inclusive": False}


def _settings(shop: Shop) -> dict:
    return ok(shop.client.get("/api/v1/admin/settings", host=shop.host, headers=shop.owner()))


def _save_tax(shop: Shop, tax: dict):
    settings = {**_settings(shop), "tax": tax}
    return shop.client.put(
        "/api/v1/admin/settings", host=shop.host, headers=shop.owner(), json=settings
    )


def _manager_totals(shop: Shop, order: dict) -> dict:
    path = f"/api/v1/admin/orders/{order['id']}"
    return ok(shop.client.get(path, host=shop.host, headers=shop.owner()))["totals"]


def test_an_order_at_8_875_percent_is_taxed_and_keeps_its_rate(client, tenants, auth_header):
    shop = open_shop(client, tenants, auth_header, settings={"currency": "USD", "tax": NEW_YORK})
    before = shop.place(shop.order_body(shop.cola_line(quantity=3)))  # 3 x 2.50 = 7.50

    # 750 x 8.875 % = 66.5625 → 67 (half up, once on the subtotal)
    assert before["totals"] == {
        "subtotal": 750,
        "tax": 67,
        "tip": 0,
        "total": 817,
        "currency": "USD",
    }
    totals = _manager_totals(shop, before)
    assert (totals["tax_rate_bp"], totals["tax_inclusive"]) == (887.5, False)
    # The rate changes; the order keeps the one it was priced at, a whole one as a whole number.
    ok(_save_tax(shop, {"rate_bp": 2000, "inclusive": False}))
    after = shop.place(shop.order_body(shop.cola_line(quantity=3)))
    assert after["totals"]["tax"] == 150
    assert _manager_totals(shop, before)["tax_rate_bp"] == 887.5
    whole = shop.client.get(
        f"/api/v1/admin/orders/{after['id']}", host=shop.host, headers=shop.owner()
    )
    assert '"tax_rate_bp":2000,' in whole.text.replace(" ", "")
    day = ok(shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.owner()))
    assert day["summary"]["sales"][0]["tax"] == 67 + 150


def test_before_migration_0012_a_fraction_waits_and_whole_rates_carry_on(
    client, tenants, auth_header
):
    """This release's code before the fleet run has widened `orders.tax_rate_bp`: a fractional
    rate is a 409 that saves nothing (an order priced at it could not be kept), whole rates and
    orders work, and after the migration the fraction is taken."""
    shop = open_shop(client, tenants, auth_header)
    execute(
        sql.SQL(
            """alter table {s}.orders alter column tax_rate_bp type integer;
               delete from {s}.schema_migrations where version = 12"""
        ).format(s=sql.Identifier(shop.schema))
    )

    pending = problem(_save_tax(shop, NEW_YORK), 409)

    assert "whole basis points only until its database update" in pending["detail"]
    assert _settings(shop)["tax"] == {"rate_bp": 2000, "inclusive": False}
    assert ok(_save_tax(shop, {"rate_bp": 888, "inclusive": False}))["tax"]["rate_bp"] == 888
    assert shop.place()["totals"]["tax"] > 0
    migrate.migrate_tenant(shop.schema)
    assert ok(_save_tax(shop, NEW_YORK))["tax"] == NEW_YORK
    order = shop.place(shop.order_body(shop.cola_line(quantity=3)))
    assert order["totals"]["tax"] == 67
    assert _manager_totals(shop, order)["tax_rate_bp"] == 887.5
