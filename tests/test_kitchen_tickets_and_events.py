"""What the kitchen sees: ticket pages in the order their cursor follows, ages, stations, and
the pickup name and table label on the placed event."""

from __future__ import annotations

import pytest
from psycopg import sql

from shared.db import tenant_transaction
from shared.orders.queries import kitchen_stations
from tests.conftest import execute
from tests.order_fixtures import Shop, settle, shop_fixture  # noqa: F401
from tests.storefront_helpers import ok


def _in_schema(shop: Shop, query: str, params: list | None = None) -> list[dict]:
    return execute(sql.SQL(query).format(sql.Identifier(shop.schema)), params)


def _kitchen_list(shop: Shop, **params: str) -> dict:
    response = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params=params or None
    )
    assert response.status_code == 200, response.text
    return response.json()


def _placed_event(shop: Shop, order_id: str) -> dict:
    settle()
    response = shop.client.get(
        "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
    )
    assert response.status_code == 200, response.text
    (event,) = [
        e for e in response.json()["events"]
        if e["order_id"] == order_id and e["type"] == "order.placed"
    ]  # fmt: skip
    return event


# Kitchen tickets (shared/orders/queries.py)


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_page_holding_exactly_the_last_tickets_is_not_truncated(shop: Shop) -> None:
    """A last page holding exactly the tickets left names no next cursor."""
    first, second = shop.place(), shop.place()
    listing = _kitchen_list(shop, limit="2")
    assert [o["id"] for o in listing["orders"]] == [first["id"], second["id"]]
    assert listing["truncated"] is False and listing["next_cursor"] is None


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_ticket_placed_by_an_instance_whose_clock_runs_ahead_is_not_negative_age(
    shop: Shop,
) -> None:
    """A ticket stamped a moment ahead (another instance's clock) shows age 0, not less."""
    order = shop.place()
    _in_schema(
        shop, "update {}.orders set placed_at = now() + interval '1 minute' where id = %s",
        [order["id"]],
    )  # fmt: skip
    (ticket,) = _kitchen_list(shop)["orders"]
    assert ticket["age_seconds"] == 0
    one = shop.client.get(
        f"/api/v1/kitchen/orders/{order['id']}", host=shop.host, headers=shop.staff()
    )
    assert one.json()["age_seconds"] == 0


@pytest.mark.usefixtures("webpubsub_hub")
def test_tickets_placed_in_the_same_instant_page_in_ticket_number_order(shop: Shop) -> None:
    """Tickets placed in one instant page in ticket-number order, the order the cursor follows:
    none skipped or repeated."""
    placed = [shop.place() for _ in range(6)]
    _in_schema(shop, "update {}.orders set placed_at = '2026-03-01T18:00:00Z'")
    seen: list[str] = []
    params: dict[str, str] = {"limit": "1"}
    for _ in range(10):
        page = _kitchen_list(shop, **params)
        seen += [o["id"] for o in page["orders"]]
        if not page["truncated"]:
            break
        params = {"limit": "1", "cursor": page["next_cursor"]}
    assert seen == [order["id"] for order in placed]


def test_a_finished_tickets_old_station_is_no_station(shop: Shop) -> None:
    """A station from an older menu counts only while one of its tickets is open."""
    order = shop.place(shop.order_body(shop.cola_line()))
    _in_schema(shop, "update {}.order_items set station = 'grill' where order_id = %s",
               [order["id"]])  # fmt: skip
    with tenant_transaction(shop.schema) as conn:
        assert "grill" in kitchen_stations(conn, shop.tenant.id)
    assert shop.transition(order, "cancelled", 1, reason="test").status_code == 200
    with tenant_transaction(shop.schema) as conn:
        assert kitchen_stations(conn, shop.tenant.id) == ["bar", "oven"]


def test_a_deleted_draft_items_station_is_no_station(shop: Shop) -> None:
    """A deleted draft item's station is no station."""
    owner = {"host": shop.host, "headers": shop.owner()}
    pizza = next(
        c for c in shop.client.get("/api/v1/admin/menu", **owner).json()["categories"]
        if c["name"] == "Pizza"
    )  # fmt: skip
    grill = {"category_id": pizza["id"], "name": "Burger", "price": 1200, "station": "grill"}
    created = shop.client.post("/api/v1/admin/menu/items", json=grill, **owner)
    assert created.status_code == 201, created.text
    with tenant_transaction(shop.schema) as conn:
        assert "grill" in kitchen_stations(conn, shop.tenant.id)
    deleted = shop.client.delete(f"/api/v1/admin/menu/items/{created.json()['id']}", **owner)
    assert deleted.status_code == 204, deleted.text
    with tenant_transaction(shop.schema) as conn:
        assert kitchen_stations(conn, shop.tenant.id) == ["bar", "oven"]


# The placed event (shared/orders/records.py)


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_placed_event_names_the_pickup_customer_without_their_phone(shop: Shop) -> None:
    """The kitchen sees the pickup name, never the phone."""
    order = shop.place()  # pickup: name "Ada", phone "+44 20 7946 0000"
    event = _placed_event(shop, order["id"])
    assert event["data"]["fulfilment"] == {"type": "pickup", "name": "Ada"}


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_placed_event_names_the_dine_in_table(shop: Shop) -> None:
    """The kitchen sees the dine-in table's label."""
    order = shop.place(shop.dine_in_body("Window 3"))
    event = _placed_event(shop, order["id"])
    assert event["data"]["fulfilment"] == {"type": "dine_in", "table": "Window 3"}


def test_kitchen_events_come_at_most_500_a_page(shop: Shop) -> None:
    """README Events: a display pages through `GET /api/v1/kitchen/events?after=<seq>` at most
    500 per page: `limit=500` is served, `limit=501` is a 422 at `query.limit`."""
    events = "/api/v1/kitchen/events"
    served = shop.client.get(events, host=shop.host, headers=shop.staff(), params={"limit": "500"})
    page = ok(served)
    assert set(page) == {"events", "next_after", "has_more"}
    refused = shop.client.get(events, host=shop.host, headers=shop.staff(), params={"limit": "501"})
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["query.limit"]
