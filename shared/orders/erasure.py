"""Forgetting a customer on request (the GDPR's right to erasure): everything they told the
restaurant about themselves on one order, once that order is over.

What a customer gives is their name and phone (a pickup's), notes on lines and the reason they
cancelled: the order row, its lines and steps, and the outbox's copies (kitchen displays catch
up from those for 7 days). The stored 201 of the order's Idempotency-Key holds none of it (see
records.receipt). Dishes, prices and totals stay: they are the restaurant's sales record, and
nothing left names a person. Staff's own reasons stay too: they are the restaurant's words.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from shared import errors
from shared.db import tenant_transaction
from shared.events.outbox import hold_publisher_lock
from shared.orders.day_book import manager_order
from shared.orders.state_machine import CUSTOMER_CANCEL_REASON, OPEN_STATUSES
from shared.orders.tickets import format_ticket
from shared.tenants import TenantRecord

logger = logging.getLogger("stelly.orders")


def forget_customer(tenant: TenantRecord, order_id: str, *, by: str) -> dict[str, Any]:
    """Forget what the customer told about themselves on an ended order; the manager's view of
    it afterwards. 404 for no such order, 409 while it is open: the kitchen still calls the
    name out and may need the phone. Forgetting twice changes nothing more."""
    with tenant_transaction(tenant.schema_name) as conn:
        row = conn.execute(
            "select status, ticket_number from orders where id = %s for update", [order_id]
        ).fetchone()
        if row is None:
            raise errors.not_found("No such order")
        if row["status"] in OPEN_STATUSES:
            raise errors.conflict(
                f"Order {format_ticket(row['ticket_number'])} is still {row['status']}: its "
                f"customer can be forgotten once it is completed or cancelled",
                status_now=row["status"],
            )
        if _forget(conn, tenant.schema_name, order_id):
            # Which order and who, never what was forgotten.
            logger.info("Forgot the customer of order %s at the request of %s", order_id, by)
        order = manager_order(conn, order_id)
    # The row was locked in that transaction: it cannot have gone.
    assert order is not None
    return order


def _forget(conn: psycopg.Connection, schema: str, order_id: str) -> bool:
    """Clear the customer's words from the order and its copies; whether any were left."""
    cleared = conn.execute(
        """update orders set customer_name = null, customer_phone = null
            where id = %s and (customer_name is not null or customer_phone is not null)""",
        [order_id],
    ).rowcount
    cleared += conn.execute(
        "update order_items set note = null where order_id = %s and note is not null",
        [order_id],
    ).rowcount
    # The cancel stays in the history, in the words a customer who gives no reason gets.
    reasons = conn.execute(
        """update order_events set reason = %s
            where order_id = %s and actor = 'customer' and reason <> %s""",
        [CUSTOMER_CANCEL_REASON, order_id, CUSTOMER_CANCEL_REASON],
    ).rowcount
    if not cleared and not reasons:
        return False
    # A new version: the customer's view (its ETag is the version) and the manager's show less.
    conn.execute(
        "update orders set version = version + 1, updated_at = %s where id = %s",
        [datetime.now(UTC), order_id],
    )
    # A batch being sent holds its events as read: wait for it, or it would send them as they
    # were after this answered (up to the batch's 20 s).
    hold_publisher_lock(conn, schema)
    _forget_in_outbox(conn, order_id, cancelled_by_customer=reasons > 0)
    return True


def _forget_in_outbox(
    conn: psycopg.Connection, order_id: str, *, cancelled_by_customer: bool
) -> None:
    """The same in the order's events, published or not: a placed event's name and notes and,
    when the customer cancelled, the cancel's reason. Each keeps its shape (a line's `note` is
    there, null, as for a line without one)."""
    conn.execute(
        """update outbox set data = jsonb_set(
                   data #- '{fulfilment,name}', '{lines}',
                   coalesce((select jsonb_agg(line || '{"note": null}' order by n)
                               from jsonb_array_elements(data -> 'lines')
                                    with ordinality as lines(line, n)), '[]'::jsonb))
            where order_id = %s and type = 'order.placed'""",
        [order_id],
    )
    if cancelled_by_customer:
        conn.execute(
            """update outbox set data = jsonb_set(data, '{reason}', to_jsonb(%s::text))
                where order_id = %s and type = 'order.cancelled'""",
            [CUSTOMER_CANCEL_REASON, order_id],
        )
