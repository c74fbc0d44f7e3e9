"""Order states and who may move them (design §6).

placed → accepted → preparing → ready → completed; placed|accepted → cancelled (reason
required); ready → preparing (recall). Anything else is a 409 naming the allowed moves. Every
move is an `order_events` row and an outbox event, in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from shared import errors
from shared.db import tenant_transaction
from shared.events.dispatch import dispatcher
from shared.events.groups import order_event_groups
from shared.events.outbox import append_event
from shared.instants import utc_text, whole_minute_up
from shared.migrate import has_migration
from shared.orders.tickets import format_ticket
from shared.restaurant_settings import effective_settings
from shared.tenants import TenantRecord
from shared.versioning import Expected

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "placed": ("accepted", "cancelled"),
    "accepted": ("preparing", "cancelled"),
    "preparing": ("ready",),
    "ready": ("completed", "preparing"),
    "completed": (),
    "cancelled": (),
}
STATUSES = tuple(TRANSITIONS)
OPEN_STATUSES = ("placed", "accepted", "preparing", "ready")
# Moves that may promise a ready time (`ready_in_minutes`), and how far ahead.
PROMISING = ("accepted", "preparing")
MAX_READY_MINUTES = 240
# The history's reason when a customer cancels without giving one.
CUSTOMER_CANCEL_REASON = "Cancelled by the customer"


def parse_statuses(text: str) -> list[str]:
    """`?status=placed,ready` → its statuses; 422 at query.status when one is unknown or none
    is named."""
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    if not wanted or any(s not in STATUSES for s in wanted):
        raise errors.invalid_field(
            "query.status", f"must list statuses from: {', '.join(STATUSES)}"
        )
    return wanted


def check_transition(current: str, to: str) -> None:
    """409 naming the allowed moves unless current → to is one of them."""
    allowed = TRANSITIONS[current]
    if to not in allowed:
        names = ", ".join(allowed) or "none (the order is finished)"
        raise errors.conflict(
            f"An order that is {current} cannot become {to}; allowed: {names}",
            status_now=current,
            allowed=list(allowed),
        )


def transition_order(
    tenant: TenantRecord,
    order_id: str,
    *,
    to: str,
    expected: Expected,
    reason: str | None,
    actor: str,
    ready_in_minutes: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Move an order to `to` if it is at the expected version and the move is legal.

    ready_in_minutes (accepting or preparing) promises the customer a ready time, from now up
    to the whole minute; a later move without one keeps the promise made.
    """
    now = now or datetime.now(UTC)
    promised = None if ready_in_minutes is None else _promise(now, ready_in_minutes)
    if to == "cancelled" and not reason:
        raise errors.invalid_field("reason", "is required to cancel an order")
    with tenant_transaction(tenant.schema_name) as conn:
        row = _locked_order(conn, order_id, expected)
        check_transition(row["status"], to)
        if promised is not None:
            _require_ready_times(conn, "move the order without ready_in_minutes, or try later")
        data = _move(conn, tenant, order_id, row, to, reason, actor, promised, now)
    dispatcher.notify(tenant.schema_name, tenant.slug)
    return _changed(order_id, data, now)


def cancel_by_customer(
    tenant: TenantRecord,
    order_id: str,
    *,
    reason: str | None,
    expected: Expected | None = None,
    now: datetime | None = None,
) -> None:
    """The customer takes back an order the kitchen has not accepted yet: a cancel like the
    kitchen's, by `customer`, with their reason or CUSTOMER_CANCEL_REASON. Once accepted, the
    food may be cooking: the restaurant decides, so a 409 says to call it."""
    now = now or datetime.now(UTC)
    with tenant_transaction(tenant.schema_name) as conn:
        row = _locked_order(conn, order_id, None)
        status = row["status"]
        # A retry after a lost answer (its If-Match now stale) reads as done, not as a 412.
        if status == "cancelled":
            raise errors.conflict("This order is already cancelled", status_now=status)
        if expected is not None:
            expected.check(row["version"], "order", status_now=status)
        if status != "placed":
            raise _taken_by_the_restaurant(tenant, status)
        reason = reason or CUSTOMER_CANCEL_REASON
        _move(conn, tenant, order_id, row, "cancelled", reason, "customer", None, now)
    dispatcher.notify(tenant.schema_name, tenant.slug)


def _taken_by_the_restaurant(tenant: TenantRecord, status: str) -> errors.ProblemError:
    """The 409 for a customer's cancel once the kitchen has the order: call the restaurant, on
    the number its settings give (also as `phone`, for a storefront's call button)."""
    phone = effective_settings(tenant).contact.phone
    on = f" on {phone}" if phone else ""
    detail = (
        f"The restaurant has taken this order (it is {status}); call them{on} to change or"
        " cancel it"
    )
    extra = {"phone": phone} if phone else {}
    return errors.conflict(detail, status_now=status, **extra)


def _move(
    conn: psycopg.Connection,
    tenant: TenantRecord,
    order_id: str,
    row: dict[str, Any],
    to: str,
    reason: str | None,
    actor: str,
    promised: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """Write the move of the locked order row to `to`: the order, its history row and its
    event; the event's data."""
    version = row["version"] + 1
    conn.execute(
        sql.SQL(
            "update orders set status = %s, version = %s, updated_at = %s{} where id = %s"
        ).format(sql.SQL(", ready_by = %s") if promised else sql.SQL("")),
        [to, version, now, *([promised] if promised else []), order_id],
    )
    conn.execute(
        """insert into order_events (order_id, from_status, to_status, actor, reason,
               occurred_at) values (%s, %s, %s, %s, %s, %s)""",
        [order_id, row["status"], to, actor, reason, now],
    )
    data = {
        "ticket_number": format_ticket(row["ticket_number"]),
        "status": to,
        "from": row["status"],
        "version": version,
        "reason": reason,
        "ready_by": utc_text(promised or row["ready_by"]),
    }
    _announce(conn, tenant, order_id, f"order.{to}", now, data)
    return data


def revise_ready_by(
    tenant: TenantRecord,
    order_id: str,
    *,
    ready_in_minutes: int,
    expected: Expected,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Promise a new ready time for an order still being made (accepted or preparing), without
    moving it: the kitchen running late, or early. A new version, like any change to the order,
    so displays apply the `order.ready_by_changed` event over the ticket they hold."""
    now = now or datetime.now(UTC)
    promised = _promise(now, ready_in_minutes)
    with tenant_transaction(tenant.schema_name) as conn:
        row = _locked_order(conn, order_id, expected)
        status = row["status"]
        if status not in PROMISING:
            raise errors.conflict(
                f"An order that is {status} has no ready time to change; one that is "
                "accepted or preparing has",
                status_now=status,
                allowed=list(TRANSITIONS[status]),
            )
        _require_ready_times(conn, "try again later")
        version = row["version"] + 1
        conn.execute(
            "update orders set version = %s, updated_at = %s, ready_by = %s where id = %s",
            [version, now, promised, order_id],
        )
        ticket = format_ticket(row["ticket_number"])
        data = {
            "ticket_number": ticket,
            "status": status,
            "version": version,
            "ready_by": utc_text(promised),
            "previous_ready_by": utc_text(row["ready_by"]),
        }
        _announce(conn, tenant, order_id, "order.ready_by_changed", now, data)
    dispatcher.notify(tenant.schema_name, tenant.slug)
    return _changed(order_id, data, now)


def _changed(order_id: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The answer to a change: the order's new status, version and ready time."""
    return {
        "id": order_id,
        "ticket_number": data["ticket_number"],
        "status": data["status"],
        "version": data["version"],
        "updated_at": now.isoformat(),
        "ready_by": data["ready_by"],
    }


def _promise(now: datetime, ready_in_minutes: int) -> datetime:
    """The ready time ready_in_minutes from now promises, up to the whole minute."""
    return whole_minute_up(now + timedelta(minutes=ready_in_minutes))


def _locked_order(
    conn: psycopg.Connection, order_id: str, expected: Expected | None
) -> dict[str, Any]:
    """The order's row, locked for the change, if it is at a version the writer expects (any,
    for None)."""
    # ready_by read through to_jsonb: a schema before tenant migration 0011 has no column.
    row = conn.execute(
        """select status, version, ticket_number, to_jsonb(o) ->> 'ready_by' as ready_by
             from orders o where id = %s for update""",
        [order_id],
    ).fetchone()
    if row is None:
        raise errors.not_found("No such order")
    # A display that lost a race learns where the ticket is now, as for an illegal move:
    # the kitchen has no single-order read, and a finished ticket leaves the open listing.
    current = row["status"]
    if expected is not None:
        expected.check(
            row["version"], "order", status_now=current, allowed=list(TRANSITIONS[current])
        )
    return row


def _require_ready_times(conn: psycopg.Connection, instead: str) -> None:
    """409 while the restaurant's schema has no ready_by (tenant migration 0011 pending),
    saying what to do instead."""
    if not has_migration(conn, 11):
        raise errors.conflict(
            f"This restaurant does not keep ready times yet (its database update is "
            f"pending); {instead}"
        )


def _announce(
    conn: psycopg.Connection,
    tenant: TenantRecord,
    order_id: str,
    event_type: str,
    now: datetime,
    data: dict[str, Any],
) -> None:
    """The change's outbox event, to the kitchen, each station with a line on it, and the
    customer."""
    stations = conn.execute(
        "select distinct station from order_items where order_id = %s", [order_id]
    ).fetchall()
    append_event(
        conn,
        type=event_type,
        order_id=order_id,
        occurred_at=now,
        data=data,
        groups=order_event_groups(tenant.slug, order_id, (r["station"] for r in stations)),
    )
