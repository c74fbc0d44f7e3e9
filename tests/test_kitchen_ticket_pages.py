"""The kitchen's ticket reads: the list a year in (every ticket reachable page by page with
`next_cursor`) and one ticket by id.

Volumes are built directly in Postgres; every check is what a display or staff member sees."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql

from shared.db import tenant_transaction
from shared.orders.queries import kitchen_tickets
from shared.orders.state_machine import OPEN_STATUSES
from tests.conftest import execute
from tests.order_fixtures import Shop, open_shop, settle, shop_fixture  # noqa: F401

pytestmark = pytest.mark.usefixtures("webpubsub_hub")


def _bulk_orders(
    shop: Shop,
    count: int,
    *,
    status: str,
    first_day_ago: int,
    last_day_ago: int,
    ticket_base: int = 1,
) -> None:
    """count orders (no lines) placed evenly from first_day_ago to last_day_ago days back."""
    schema = sql.Identifier(shop.schema)
    execute(
        sql.SQL(
            """insert into {}.orders (id, business_date, ticket_number, status, version,
                   fulfilment_type, customer_name, currency, subtotal, tax, tip, total,
                   tax_rate_bp, tax_inclusive, menu_version, placed_at, updated_at)
               select gen_random_uuid(), (t at time zone 'UTC')::date,
                      %(base)s + n, %(status)s, 4, 'pickup', 'Guest ' || n, 'EUR',
                      250, 50, 0, 300, 2000, false, 1, t, t
                 from generate_series(1, %(count)s) as n,
                      lateral (select now() - make_interval(days => %(first)s)
                               + (n::float / %(count)s)
                                 * make_interval(days => %(first)s - %(last)s) as t) as p"""
        ).format(schema),
        {"base": ticket_base, "status": status, "count": count, "first": first_day_ago,
         "last": last_day_ago},
    )  # fmt: skip


def _kitchen_pages(shop: Shop, params: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every ticket id the kitchen list offers, following whatever it says leads to the rest."""
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    query = dict(params)
    for _ in range(400):
        response = shop.client.get(
            "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params=query
        )
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        seen += [order["id"] for order in page["orders"]]
        assert page["truncated"] == (page["next_cursor"] is not None)
        if not page["truncated"]:
            break
        query = {**params, "cursor": page["next_cursor"]}
    return seen, pages


def test_a_new_ticket_is_reachable_when_old_tickets_were_never_closed(shop: Shop) -> None:
    """More than 200 open tickets (served but never marked completed for weeks): a display that
    reloads reaches tonight's order on the second page, every ticket exactly once."""
    _bulk_orders(shop, 250, status="ready", first_day_ago=30, last_day_ago=1)
    tonight = shop.place()
    settle()

    seen, pages = _kitchen_pages(shop, {})

    assert [len(page["orders"]) for page in pages] == [200, 51]
    assert seen[-1] == tonight["id"]
    assert len(set(seen)) == 251


def test_last_weeks_finished_order_can_be_found_by_the_kitchen(shop: Shop) -> None:
    """A year of completed orders, newest first: staff page back to last week's order (a customer
    calling about it), and a smaller page size pages the same way."""
    _bulk_orders(shop, 20_000, status="completed", first_day_ago=365, last_day_ago=8)
    last_week = shop.place()
    execute(
        sql.SQL(
            "update {}.orders set status = 'completed', placed_at = now() - interval '7 days'"
            " where id = %s"
        ).format(sql.Identifier(shop.schema)),
        [last_week["id"]],
    )
    _bulk_orders(shop, 1_000, status="completed", first_day_ago=6, last_day_ago=0,
                 ticket_base=50_000)  # fmt: skip

    seen, pages = _kitchen_pages(shop, {"status": "completed", "limit": "200"})

    assert last_week["id"] in seen[1000:1001]
    assert len(pages) == 106 and len(set(seen)) == 21_001
    bad = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params={"cursor": "7"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "query.cursor"


def test_a_full_page_keeps_the_oldest_open_and_the_newest_finished_tickets(shop: Shop) -> None:
    first, second, third = (shop.place() for _ in range(3))
    for order in (first, second, third):
        assert shop.transition(order, "cancelled", 1, reason="test").status_code == 200
    fourth, fifth = shop.place(), shop.place()
    sixth = shop.place()
    with tenant_transaction(shop.schema) as conn:
        queue = kitchen_tickets(conn, OPEN_STATUSES, limit=2).tickets
        finished = kitchen_tickets(conn, ["cancelled", "completed"], limit=2).tickets
        everything = kitchen_tickets(conn, ["placed", "cancelled"], limit=2).tickets
    assert [t["id"] for t in queue] == [fourth["id"], fifth["id"]]
    assert [t["id"] for t in finished] == [third["id"], second["id"]]
    assert [t["id"] for t in everything] == [sixth["id"], fifth["id"]]


def test_one_ticket_reads_as_the_list_shows_it_and_moves_with_its_etag(
    shop: Shop, client, tenants, auth_header
) -> None:
    order = shop.place(shop.order_body(shop.pizza_line("Ham"), shop.cola_line()))
    ticket = shop.client.get(
        f"/api/v1/kitchen/orders/{order['id']}", host=shop.host, headers=shop.staff()
    )
    assert ticket.status_code == 200, ticket.text
    listed = shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff())
    (in_list,) = listed.json()["orders"]
    assert ticket.json() | {"age_seconds": 0} == in_list | {"age_seconds": 0}
    assert ticket.json()["fulfilment"]["phone"] == in_list["fulfilment"]["phone"]
    moved = shop.client.post(
        f"/api/v1/kitchen/orders/{order['id']}/transition",
        host=shop.host,
        headers={**shop.staff(), "If-Match": ticket.headers["etag"]},
        json={"to": "accepted"},
    )
    assert moved.status_code == 200, moved.text
    # Finished or not, unknown, malformed or another restaurant's: found only where it is.
    other = open_shop(client, tenants, auth_header)
    for host, staff, order_id, status in (
        (shop.host, shop.staff(), order["id"], 200),
        (shop.host, shop.staff(), "7d0c2a8e-0000-4000-8000-000000000000", 404),
        (shop.host, shop.staff(), "not-a-uuid", 404),
        (other.host, other.staff(), order["id"], 404),
    ):
        got = shop.client.get(f"/api/v1/kitchen/orders/{order_id}", host=host, headers=staff)
        assert got.status_code == status, got.text
    assert got.headers["content-type"] == "application/problem+json"
