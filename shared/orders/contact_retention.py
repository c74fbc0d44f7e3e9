"""Forgetting pickup customers' phone numbers once their orders are long over.

A phone number is given so the restaurant can reach the customer about that order; nothing in
Stelly reads it afterwards. The name stays: it labels the ticket and the customer's receipt.
"""

from __future__ import annotations

import psycopg

PHONE_RETENTION_DAYS = 30
# Per run and tenant, inside the statement timeout; a first run's backlog drains hour by hour.
PURGE_BATCH = 5000


def forget_old_phone_numbers(
    conn: psycopg.Connection, *, older_than_days: int = PHONE_RETENTION_DAYS
) -> int:
    """Clear the phone of up to PURGE_BATCH orders placed more than older_than_days ago; how
    many."""
    return conn.execute(
        """update orders set customer_phone = null where id in (
               select id from orders
                where customer_phone is not null
                  and placed_at < now() - make_interval(days => %s)
                order by placed_at limit %s)""",
        [older_than_days, PURGE_BATCH],
    ).rowcount
