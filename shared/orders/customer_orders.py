"""Finding one customer's orders by what they told the restaurant: for their request to be
forgotten (shared/orders/erasure.py), or a call about an order they cannot name.

A name matches when it is part of the order's name, case aside ("ada" finds "Ada Lovelace"). A
phone number matches by its digits, written either way: "020 7946 0000" finds an order given as
"+44 20 7946 0000", since one's digits end the other's once leading zeros (a trunk prefix) go.
Phones are kept 30 days (contact_retention.py), so older orders are found by name only.
"""

from __future__ import annotations

from typing import Any

import psycopg

from shared.orders.day_book import BOOK_COLUMNS, book_entry

MAX_FOUND = 100
MIN_PHONE_DIGITS = 6


def phone_digits(phone: str) -> str:
    """The digits a match compares: without spaces, signs and leading zeros."""
    return "".join(ch for ch in phone if ch.isascii() and ch.isdigit()).lstrip("0")


def customer_orders(
    conn: psycopg.Connection, *, name: str | None, phone: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """The orders matching name and phone (each when given), newest first, at most MAX_FOUND;
    whether more matched."""
    digits = phone_digits(phone) if phone else None
    rows = conn.execute(
        f"""select {BOOK_COLUMNS}
              from orders o
             cross join lateral (select ltrim(regexp_replace(
                       coalesce(o.customer_phone, ''), '[^0-9]', '', 'g'), '0') as digits) p
             where (%(name)s::text is null
                    or strpos(lower(o.customer_name), lower(%(name)s)) > 0)
               and (%(digits)s::text is null
                    or (length(p.digits) >= %(least)s
                        and (p.digits like '%%' || %(digits)s
                             or %(digits)s like '%%' || p.digits)))
             order by o.placed_at desc, o.id
             limit %(limit)s""",
        {"name": name, "digits": digits, "least": MIN_PHONE_DIGITS, "limit": MAX_FOUND + 1},
    ).fetchall()
    found = [
        {**book_entry(row), "business_date": row["business_date"].isoformat()}
        for row in rows[:MAX_FOUND]
    ]
    return found, len(rows) > MAX_FOUND
