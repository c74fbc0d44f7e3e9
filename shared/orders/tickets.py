"""Daily ticket numbers (`#0042`) per tenant, counted in the restaurant's local business day."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg


def business_date(now_utc: datetime, zone: ZoneInfo | str) -> date:
    """The local calendar date at now_utc in the restaurant's time zone (resets at midnight)."""
    return now_utc.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)).date()


def format_ticket(number: int) -> str:
    """42 → `#0042`; numbers past 9999 simply grow (`#10000`)."""
    return f"#{number:04d}"


def take_ticket(conn: psycopg.Connection, day: date) -> psycopg.Cursor:
    """Send the upsert taking day's next number; its row holds `last_number` once fetched.

    The counter row stays locked until the caller commits, so callers send this last (in a
    pipeline with their other hot-row statements) and commit straight after.
    """
    return conn.execute(
        """insert into ticket_counters as c (business_date, last_number) values (%s, 1)
           on conflict (business_date) do update set last_number = c.last_number + 1
           returning last_number""",
        [day],
    )
