"""Reading orders: the customer's view of one order and the kitchen's open tickets."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from shared.events.groups import kitchen_group, station_group
from shared.instants import utc_text
from shared.orders.current_menu import current_menu
from shared.orders.state_machine import OPEN_STATUSES
from shared.orders.tickets import format_ticket
from shared.text_shapes import shaped

MAX_KITCHEN_TICKETS = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# ASCII digits only: Pydantic's (Rust) and Python's \d also match other scripts' digits.
TICKET_CURSOR_PATTERN = shaped(
    r"^[0-9]{1,17}\.[0-9]{1,9}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "must be the next_cursor of a page",
)


@dataclass(frozen=True)
class TicketCursor:
    """Where a page of tickets ended: the last ticket's sort key (placed, number, id).

    Keyset paging, so a page neither skips nor repeats a ticket when orders arrive or move
    between two reads. As text: epoch microseconds, ticket number and id, dot-separated.
    """

    placed_at: datetime
    ticket_number: int
    order_id: uuid.UUID

    def __str__(self) -> str:
        micros = (self.placed_at - _EPOCH) // _MICROSECOND
        return f"{micros}.{self.ticket_number}.{self.order_id}"

    @classmethod
    def parse(cls, text: str) -> TicketCursor:
        """A cursor from its text (already matched against TICKET_CURSOR_PATTERN)."""
        if not re.match(TICKET_CURSOR_PATTERN, text):
            raise ValueError(f"not a ticket cursor: {text!r}")
        micros, number, order_id = text.split(".")
        return cls(_EPOCH + int(micros) * _MICROSECOND, int(number), uuid.UUID(order_id))


@dataclass(frozen=True)
class TicketPage:
    tickets: list[dict[str, Any]]
    # Set when more tickets follow: pass it back as `?cursor=` for the next page.
    next_cursor: TicketCursor | None


# Lines with their modifiers as one JSON array per order, so a page of tickets is one query.
LINES_JSON = """
    coalesce((select json_agg(json_build_object(
        'name', i.name, 'quantity', i.quantity, 'station', i.station, 'note', i.note,
        'allergens', i.allergens, 'unit_price', i.unit_price, 'line_total', i.line_total,
        'modifiers', coalesce((select json_agg(json_build_object(
            'group', m.group_name, 'name', m.name, 'charged', m.charged) order by m.position)
            from order_item_modifiers m where m.order_item_id = i.id), '[]'::json))
        order by i.position)
        from order_items i where i.order_id = o.id), '[]'::json)
"""

_TICKET_SELECT = f"""
    select o.id, o.ticket_number, o.status, o.version, o.fulfilment_type, o.customer_name,
           o.customer_phone, o.table_label, o.placed_at, o.updated_at, o.menu_version,
           to_jsonb(o) ->> 'ready_by' as ready_by,
           floor(extract(epoch from now() - o.placed_at))::int as age_seconds,
           {LINES_JSON} as lines
      from orders o"""


def order_head(row: dict[str, Any]) -> dict[str, Any]:
    """Fields every view of an order starts with (customer, kitchen ticket, manager)."""
    return {
        "id": str(row["id"]),
        "ticket_number": format_ticket(row["ticket_number"]),
        "status": row["status"],
        "version": row["version"],
        # In UTC whatever the server's TimeZone hands rows out in.
        "placed_at": utc_text(row["placed_at"]),
        "updated_at": utc_text(row["updated_at"]),
        # The kitchen's promise; read through to_jsonb where a schema may predate migration 0011.
        "ready_by": utc_text(row.get("ready_by")),
    }


def _fulfilment(row: dict[str, Any]) -> dict[str, Any]:
    fulfilment: dict[str, Any] = {"type": row["fulfilment_type"]}
    if row["customer_name"]:
        fulfilment["name"] = row["customer_name"]
    if row["table_label"]:
        fulfilment["table"] = row["table_label"]
    return fulfilment


def staff_fulfilment(row: dict[str, Any]) -> dict[str, Any]:
    """With the pickup phone number, kept (30 days) for the restaurant to call the customer;
    not in the outbox's events, which are kept 7 days and go to every display and the customer."""
    fulfilment = _fulfilment(row)
    if row["customer_phone"]:
        fulfilment["phone"] = row["customer_phone"]
    return fulfilment


def order_row(conn: psycopg.Connection, order_id: str) -> dict[str, Any] | None:
    """One order's row with its lines and its steps (`from`, `to`, `by`, `reason`, `at`) as
    JSON: what each view of one order (the customer's, the manager's) picks from."""
    return conn.execute(
        f"""select o.*, {LINES_JSON} as lines,
                   (select json_agg(json_build_object('from', e.from_status, 'to', e.to_status,
                        'by', e.actor, 'reason', e.reason, 'at', e.occurred_at)
                        order by e.occurred_at, e.id)
                    from order_events e where e.order_id = o.id) as history
            from orders o where o.id = %s""",
        [order_id],
    ).fetchone()


def customer_order(conn: psycopg.Connection, order_id: str) -> dict[str, Any] | None:
    """One order as its customer sees it: status, lines, totals and every step so far (not who
    took it)."""
    row = order_row(conn, order_id)
    if row is None:
        return None
    # Each modifier with what it was charged: a topping within the group's free quantity is 0.
    lines = [
        {key: line[key] for key in ("name", "quantity", "note", "unit_price", "line_total")}
        | {
            "modifiers": [
                {key: m[key] for key in ("group", "name", "charged")} for m in line["modifiers"]
            ]
        }
        for line in row["lines"]
    ]
    return {
        **order_head(row),
        "fulfilment": _fulfilment(row),
        "lines": lines,
        "totals": {
            "subtotal": row["subtotal"],
            "tax": row["tax"],
            "tip": row["tip"],
            "total": row["total"],
            "currency": row["currency"],
        },
        "history": [
            {"status": step["to"], "at": utc_text(step["at"]), "reason": step["reason"]}
            for step in row["history"] or []
        ],
    }


def kitchen_tickets(
    conn: psycopg.Connection,
    statuses: Sequence[str],
    *,
    limit: int = MAX_KITCHEN_TICKETS,
    after: TicketCursor | None = None,
) -> TicketPage:
    """A page of tickets in statuses with lines, modifiers, notes, allergens and age.

    Open tickets come oldest first: the kitchen's queue, whose oldest must never fall off the
    page. Asked for finished ones too (completed, cancelled), the newest come first: those are
    the ones someone looks for, and the oldest would otherwise fill the page forever. Either
    way the rest is reachable page by page from `next_cursor` (a restaurant that never marks
    orders completed has hundreds open after a few weeks, tonight's last).
    """
    order, beyond = ("asc", ">") if set(statuses) <= set(OPEN_STATUSES) else ("desc", "<")
    where, params = "o.status = any(%s)", [list(statuses)]
    if after is not None:
        where += f" and (o.placed_at, o.ticket_number, o.id) {beyond} (%s, %s, %s)"
        params += [after.placed_at, after.ticket_number, after.order_id]
    rows = conn.execute(
        f"""{_TICKET_SELECT} where {where}
            order by o.placed_at {order}, o.ticket_number {order}, o.id {order} limit %s""",
        [*params, limit + 1],
    ).fetchall()
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if more else None
    return TicketPage(
        tickets=[_kitchen_ticket(row) for row in page],
        next_cursor=TicketCursor(last["placed_at"], last["ticket_number"], last["id"])
        if last
        else None,
    )


def kitchen_ticket(conn: psycopg.Connection, order_id: str) -> dict[str, Any] | None:
    """One ticket as the kitchen's list shows it, whatever its status; None when there is none."""
    row = conn.execute(f"{_TICKET_SELECT} where o.id = %s", [order_id]).fetchone()
    return _kitchen_ticket(row) if row else None


def _kitchen_ticket(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **order_head(row),
        "age_seconds": max(row["age_seconds"], 0),
        # The published version it was priced from: GET /api/v1/admin/menu/versions/{n}.
        "menu_version": row["menu_version"],
        "fulfilment": staff_fulfilment(row),
        "lines": [
            {key: line[key] for key in ("name", "quantity", "station", "note", "allergens")}
            | {"modifiers": [{"group": m["group"], "name": m["name"]} for m in line["modifiers"]]}
            for line in row["lines"]
        ],
    }


def kitchen_stations(
    conn: psycopg.Connection, tenant_id: str, live_stations: frozenset[str] | None = None
) -> list[str]:
    """Stations on the published menu (hidden categories too), in the draft, and on open
    tickets from older menus: a display is set up before the publish that gives it work, and
    keeps reconnecting while its category is hidden for the afternoon.

    live_stations: the published menu's, from a writer that has just inserted the snapshot.
    It must not look it up through the pricing cache, which would keep a version that its
    transaction may still roll back, and another write would then commit under that number.
    """
    if live_stations is None:
        menu = current_menu(conn, tenant_id)
        live_stations = menu.stations if menu else frozenset()
    rows = conn.execute(
        """select i.station from order_items i join orders o on o.id = i.order_id
           where o.status = any(%s) and i.station is not null
           union
           select station from menu_items where deleted_at is null and station is not null""",
        [list(OPEN_STATUSES)],
    ).fetchall()
    return sorted(live_stations | {row["station"] for row in rows})


def every_display_group(
    conn: psycopg.Connection,
    tenant_id: str,
    slug: str,
    live_stations: frozenset[str] | None = None,
) -> list[str]:
    """The restaurant's kitchen group and every station's: where news for every display goes
    (a pause, the 86 list). live_stations as kitchen_stations takes it."""
    stations = kitchen_stations(conn, tenant_id, live_stations)
    return [kitchen_group(slug), *(station_group(slug, station) for station in stations)]
