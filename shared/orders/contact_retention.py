"""Forgetting pickup customers' phone numbers once their orders are long over.

A phone number is given so the restaurant can reach the customer about that order; nothing in
Stelly reads it afterwards. The name stays: it labels the ticket and the customer's receipt.
"""

from __future__ import annotations

import psycopg

PHONE_RETENTION_DAYS = 30


def forget_old_phone_numbers(
    conn: psycopg.Connection, *, older_than_days: int = PHONE_RETENTION_DAYS
) -> int:
    """Clear the phone of every order placed more than older_than_days ago; how many."""
    return conn.execute(
        """update orders set customer_phone = null
            where customer_phone is not null and placed_at < now() - make_interval(days => %s)""",
        [older_than_days],
    ).rowcount
