"""Finding one customer's orders by what they told the restaurant: for their request to be
forgotten (shared/orders/erasure.py), or a call about an order they cannot name.

A name matches when it is part of the order's name as a reader compares them: case, accents and
spacing aside ("zoe muller" finds "Zoë  Müller-Łukasz", "Strauss" finds "Strauß"), since an
e-mail and a phone keyboard spell one person differently. A phone number matches by its digits
written either way: "020 7946 0000" finds an order given as "+44 20 7946 0000" and "+49 (0)151
..." one given as "0049 151 ...", since one's digits end the other's once leading zeros and a
bracketed trunk zero go. Phones are kept 30 days (contact_retention.py) and a dine-in order has
none: with a name as well, an order without a phone is matched by the name alone, so a search
with both still lists the customer's older orders.

The comparison is Python's (casefold, Unicode decomposition), so the search reads the
restaurant's named orders newest first through a server-side cursor and stops at MAX_FOUND + 1:
a manager's rare call, not a request path.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import psycopg

from shared.orders.day_book import BOOK_COLUMNS, book_entry

MAX_FOUND = 100
MIN_PHONE_DIGITS = 6
_BATCH = 2000
# Letters that carry no accent to strip but are read as plain ones (casefold has made ß "ss";
# U+0131 is the dotless i of Turkish).
_PLAIN = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")


def name_key(name: str) -> str:
    """name as a search compares it: case, accents and spacing aside."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_PLAIN)
    return " ".join(plain.split())


def phone_digits(phone: str) -> str:
    """The digits a match compares: without separators, a bracketed trunk zero ("+49 (0)151")
    and leading zeros."""
    without_trunk = _TRUNK_ZERO.sub("", phone)
    return "".join(ch for ch in without_trunk if ch.isascii() and ch.isdigit()).lstrip("0")


def _phones_match(stored: str, digits: str) -> bool:
    mine = phone_digits(stored)
    return len(mine) >= MIN_PHONE_DIGITS and (mine.endswith(digits) or digits.endswith(mine))


def _matches(row: dict[str, Any], name: str | None, digits: str | None) -> bool:
    if name is not None and (
        row["customer_name"] is None or name not in name_key(row["customer_name"])
    ):
        return False
    if digits is None:
        return True
    if row["customer_phone"] is None:
        return name is not None  # no phone to compare: the name decides
    return _phones_match(row["customer_phone"], digits)


def customer_orders(
    conn: psycopg.Connection, *, name: str | None, phone: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """The orders matching name and phone (each when given), newest first, at most MAX_FOUND;
    whether more matched."""
    key = name_key(name) if name is not None else None
    digits = phone_digits(phone) if phone is not None else None
    found: list[str] = []
    with conn.cursor(name="customer_orders") as cursor:
        cursor.itersize = _BATCH
        cursor.execute(
            """select id, customer_name, customer_phone from orders
                where customer_name is not null or customer_phone is not null
                order by placed_at desc, id"""
        )
        for row in cursor:
            if _matches(row, key, digits):
                found.append(row["id"])
                if len(found) > MAX_FOUND:
                    break
    rows = conn.execute(
        f"""select {BOOK_COLUMNS} from orders o where o.id = any(%s)
             order by o.placed_at desc, o.id""",
        [found[:MAX_FOUND]],
    ).fetchall()
    orders = [
        {**book_entry(row), "business_date": row["business_date"].isoformat()} for row in rows
    ]
    return orders, len(found) > MAX_FOUND
