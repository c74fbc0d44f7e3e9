"""A restaurant's orders as its manager reads them: what each was charged and who moved it, and
a business day's orders with the day's sales. The kitchen's tickets leave money out, and the
customer's view opens only with the order's own token."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from shared.instants import utc_text
from shared.orders.queries import order_head, order_row, staff_fulfilment
from shared.orders.state_machine import STATUSES
from shared.tax_rates import rate_from_column

MAX_DAY_PAGE = 200
_MONEY = ("subtotal", "tax", "tip", "total")
_SALES = ("subtotal", "tax", "tax_included", "tip", "total")


@dataclass(frozen=True)
class DayPage:
    orders: list[dict[str, Any]]
    # The last ticket number on this page when more follow: `?cursor=` for the next.
    next_cursor: int | None


def manager_order(conn: psycopg.Connection, order_id: str) -> dict[str, Any] | None:
    """One order with its prices, totals, menu version and every step with who took it."""
    row = order_row(conn, order_id)
    if row is None:
        return None
    return {
        **order_head(row),
        "business_date": row["business_date"].isoformat(),
        "menu_version": row["menu_version"],
        "fulfilment": staff_fulfilment(row),
        "lines": row["lines"],
        "totals": {
            **{key: row[key] for key in _MONEY},
            "currency": row["currency"],
            "tax_rate_bp": rate_from_column(row["tax_rate_bp"]),
            "tax_inclusive": row["tax_inclusive"],
        },
        # Postgres's JSON drops a fraction's trailing zeros: `.98444`, where answers say `.984440`.
        "history": [{**step, "at": utc_text(step["at"])} for step in row["history"] or []],
    }


def day_orders(
    conn: psycopg.Connection,
    day: date,
    statuses: list[str] | None,
    *,
    limit: int = MAX_DAY_PAGE,
    after: int = 0,
) -> DayPage:
    """The day's orders in ticket order (optionally only in statuses), after ticket `after`."""
    rows = conn.execute(
        f"""select {BOOK_COLUMNS}
             from orders o
            where o.business_date = %(day)s and o.ticket_number > %(after)s
              and (%(statuses)s::text[] is null or o.status = any(%(statuses)s))
            order by o.ticket_number limit %(limit)s""",
        {"day": day, "after": after, "statuses": statuses, "limit": limit + 1},
    ).fetchall()
    page = rows[:limit]
    return DayPage(
        orders=[book_entry(row) for row in page],
        next_cursor=page[-1]["ticket_number"] if len(rows) > limit else None,
    )


# The columns book_entry reads, for `from orders o`.
BOOK_COLUMNS = """o.id, o.ticket_number, o.status, o.version, o.fulfilment_type, o.customer_name,
    o.customer_phone, o.table_label, o.currency, o.total, o.placed_at, o.updated_at,
    o.business_date, to_jsonb(o) ->> 'ready_by' as ready_by,
    (select coalesce(sum(i.quantity), 0)::int from order_items i
      where i.order_id = o.id) as item_count"""


def book_entry(row: dict[str, Any]) -> dict[str, Any]:
    """An order as the manager's lists show it: its head, who it is for, how many dishes and
    its total."""
    return {
        **order_head(row),
        "fulfilment": staff_fulfilment(row),
        "item_count": row["item_count"],
        "total": row["total"],
        "currency": row["currency"],
    }


def day_summary(conn: psycopg.Connection, day: date) -> dict[str, Any]:
    """`{"orders", "by_status", "sales", "items"}` for the whole day: sales sum every order not
    cancelled, one entry per currency (a currency changed mid-day is not added into another);
    items are what those orders sold.

    `tax_included` is the part of `tax` already inside `subtotal` (orders of tax-inclusive
    prices), so `subtotal + tax - tax_included + tip == total` whatever the day mixed.
    """
    rows = conn.execute(
        """select status, currency, count(*)::int as orders, sum(subtotal) as subtotal,
                  sum(tax) as tax, sum(tax) filter (where tax_inclusive) as tax_included,
                  sum(tip) as tip, sum(total) as total
             from orders where business_date = %s group by status, currency""",
        [day],
    ).fetchall()
    by_status: Counter[str] = Counter({status: 0 for status in STATUSES})
    sales: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_status[row["status"]] += row["orders"]
        if row["status"] == "cancelled":
            continue
        entry = sales.setdefault(
            row["currency"], {"currency": row["currency"], "orders": 0} | dict.fromkeys(_SALES, 0)
        )
        entry["orders"] += row["orders"]
        for key in _SALES:
            entry[key] += int(row[key] or 0)  # a sum over no rows (no inclusive order) is null
    return {
        "orders": sum(by_status.values()),
        "by_status": dict(by_status),
        "sales": [sales[currency] for currency in sorted(sales)],
        "items": _items_sold(conn, day),
    }


def _items_sold(conn: psycopg.Connection, day: date) -> list[dict[str, Any]]:
    """What the day's orders not cancelled sold, most first: by the name each line was sold
    under (lines keep it; a dish renamed at noon shows under both names) and currency."""
    rows = conn.execute(
        """select i.name, o.currency, sum(i.quantity)::int as quantity,
                  count(distinct o.id)::int as orders, sum(i.line_total) as sales
             from order_items i join orders o on o.id = i.order_id
            where o.business_date = %s and o.status <> 'cancelled'
            group by i.name, o.currency
            order by quantity desc, i.name, o.currency""",
        [day],
    ).fetchall()
    return [{**row, "sales": int(row["sales"])} for row in rows]
