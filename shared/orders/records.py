"""What placing an order writes: its rows, its first event, and the receipt the customer gets."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import psycopg

from shared.events.groups import order_event_groups
from shared.events.outbox import append_event
from shared.orders.access import order_access_token
from shared.orders.models import OrderIn
from shared.orders.pricing import PricedOrder
from shared.orders.tickets import format_ticket
from shared.tables_qr import Table
from shared.tenants import TenantRecord

STORE_ORDERS = "/api/v1/store/orders"


def placed_event_data(
    ticket: str, order: OrderIn, priced: PricedOrder, table: Table | None
) -> dict[str, Any]:
    """What the kitchen needs to cook and the customer to recognise the order."""
    fulfilment: dict[str, Any] = {"type": order.fulfilment.type}
    if order.fulfilment.name:
        fulfilment["name"] = order.fulfilment.name
    if table is not None:
        fulfilment["table"] = table.label
    return {
        "ticket_number": ticket,
        "status": "placed",
        "version": 1,
        "fulfilment": fulfilment,
        "lines": [
            {
                "name": line.name,
                "quantity": line.quantity,
                "station": line.station,
                "note": line.note,
                "allergens": list(line.allergens),
                "modifiers": [{"group": m.group_name, "name": m.name} for m in line.modifiers],
            }
            for line in priced.lines
        ],
        "totals": priced.totals.as_dict(),
    }


def receipt(
    tenant: TenantRecord, order_id: str, ticket: str, priced: PricedOrder, now: datetime
) -> dict[str, Any]:
    """The 201 body without its secrets (what an Idempotency-Key stores): id, ticket, status,
    totals; `with_access` adds the access token and tracking links."""
    return {
        "id": order_id,
        "ticket_number": ticket,
        "status": "placed",
        "version": 1,
        "placed_at": now.isoformat(),
        "totals": priced.totals.as_dict(),
    }


def with_access(tenant: TenantRecord, stored: dict[str, Any]) -> dict[str, Any]:
    """The receipt as the customer gets it: with the order's access token and tracking links.

    The token is derived again rather than stored, so a copy of the database (the stored
    answers of the last 24 hours included) cannot follow anyone's order.
    """
    order_id = stored["id"]
    token = order_access_token(tenant.id, order_id)
    base = f"{STORE_ORDERS}/{order_id}"
    # The links carry no token: it goes in Authorization (see access.presented_token).
    # `cancel` is a POST, answered 409 once the kitchen has taken the order.
    links = {"self": base, "negotiate": f"{base}/negotiate", "cancel": f"{base}/cancel"}
    return {**stored, "access_token": token, "links": links}


def insert_order(
    conn: psycopg.Connection,
    *,
    tenant: TenantRecord,
    order_id: str,
    day: date,
    number: int,
    order: OrderIn,
    priced: PricedOrder,
    table: Table | None,
    now: datetime,
) -> None:
    """Insert the order, its lines and modifiers, its first event row and its outbox event.

    Sends no statement that needs an answer, so a caller's pipeline sends it all at once.
    """
    totals = priced.totals
    conn.execute(
        """insert into orders (id, business_date, ticket_number, fulfilment_type, customer_name,
               customer_phone, table_id, table_label, currency, subtotal, tax, tip, total,
               tax_rate_bp, tax_inclusive, menu_version, placed_at, updated_at)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [
            order_id, day, number, order.fulfilment.type, order.fulfilment.name,
            order.fulfilment.phone, table.id if table else None, table.label if table else None,
            totals.currency, totals.subtotal, totals.tax, totals.tip, totals.total,
            totals.tax_rate_bp, totals.tax_inclusive, priced.menu_version, now, now,
        ],
    )  # fmt: skip
    items, modifiers = [], []
    for position, line in enumerate(priced.lines):
        item_id = uuid.uuid4()
        items.append(
            (
                item_id, order_id, position, line.item_id, line.name, line.station,
                line.quantity, line.unit_price, line.line_total, line.note, list(line.allergens),
            )
        )  # fmt: skip
        modifiers.extend(
            (item_id, rank, m.group_id, m.group_name, m.option_id, m.name, m.price_delta, m.charged)
            for rank, m in enumerate(line.modifiers)
        )
    with conn.cursor() as cursor:
        cursor.executemany(
            """insert into order_items (id, order_id, position, menu_item_id, name, station,
                   quantity, unit_price, line_total, note, allergens)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            items,
        )
        if modifiers:
            cursor.executemany(
                """insert into order_item_modifiers (order_item_id, position, group_id,
                       group_name, option_id, name, price_delta, charged)
                   values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                modifiers,
            )
    conn.execute(
        """insert into order_events (order_id, from_status, to_status, actor, occurred_at)
           values (%s, null, 'placed', 'customer', %s)""",
        [order_id, now],
    )
    append_event(
        conn,
        type="order.placed",
        order_id=order_id,
        occurred_at=now,
        data=placed_event_data(format_ticket(number), order, priced, table),
        groups=order_event_groups(tenant.slug, order_id, (line.station for line in priced.lines)),
    )
