"""Fixed-window rate limits counted in Postgres, so every instance shares one count.

An in-process counter would multiply the limit by the number of instances the app scales to;
one upsert on an unlogged table (no WAL, asynchronous commit) costs about a round trip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import psycopg

from shared.config import Settings, get_settings
from shared.tenancy import header

WINDOW_S = 60


def _strip_port(address: str) -> str:
    address = address.strip()
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


def client_ip(headers: Mapping[str, str], settings: Settings | None = None) -> str:
    """The caller's address.

    `X-Azure-ClientIP` only when the request provably came through our Front Door (matching
    `X-Azure-FDID`). Otherwise the last `X-Forwarded-For` entry: App Service's front end
    appends the peer it saw (as `ip:port`), while earlier entries are whatever the client sent.
    """
    settings = settings or get_settings()
    fdid = header(headers, "x-azure-fdid").strip().lower()
    if settings.frontdoor_id and fdid == settings.frontdoor_id.lower():
        front_door_client = header(headers, "x-azure-clientip").strip()
        if front_door_client:
            return _strip_port(front_door_client)
    forwarded = [part for part in header(headers, "x-forwarded-for").split(",") if part.strip()]
    return _strip_port(forwarded[-1]) if forwarded else "unknown"


def count_hit(
    conn: psycopg.Connection,
    bucket: str,
    *,
    limit: int,
    window_s: int = WINDOW_S,
    now: datetime | None = None,
) -> int | None:
    """Count one request in bucket's current window; seconds to wait when over limit, else None."""
    now = now or datetime.now(UTC)
    epoch = now.timestamp()
    start = datetime.fromtimestamp(epoch - epoch % window_s, UTC)
    row = conn.execute(
        """insert into rate_limit_windows as w (bucket, window_start, hits) values (%s, %s, 1)
           on conflict (bucket, window_start) do update set hits = w.hits + 1
           returning hits""",
        [bucket, start],
    ).fetchone()
    assert row is not None
    if row["hits"] <= limit:
        return None
    remaining = (start + timedelta(seconds=window_s) - now).total_seconds()
    return max(1, math.ceil(remaining))


def purge_windows(conn: psycopg.Connection, *, older_than_s: int = 10 * WINDOW_S) -> int:
    """Forget finished windows; returns how many."""
    return conn.execute(
        "delete from rate_limit_windows where window_start < now() - make_interval(secs => %s)",
        [older_than_s],
    ).rowcount
