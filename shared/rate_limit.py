"""Fixed-window rate limits counted in Postgres, so every instance shares one count.

An in-process counter would multiply the limit by the number of instances the app scales to;
one upsert on an unlogged table (no WAL, asynchronous commit) costs about a round trip.
"""

from __future__ import annotations

import ipaddress
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
    """The caller's address, as a rate limit can trust it.

    Through our Front Door (matching `X-Azure-FDID`): `X-Azure-SocketIP`, the address of the TCP
    connection Front Door accepted. Not `X-Azure-ClientIP`, which Front Door derives from the
    client's own `X-Forwarded-For` ("the client IP can be arbitrarily overwritten by a user",
    its documentation says), so a new value per request would be a new bucket per request.
    Otherwise the last `X-Forwarded-For` entry: App Service's front end appends the peer it saw
    (as `ip:port`), while earlier entries are whatever the client sent.
    """
    settings = settings or get_settings()
    fdid = header(headers, "x-azure-fdid").strip().lower()
    if settings.frontdoor_id and fdid == settings.frontdoor_id.lower():
        front_door_peer = header(headers, "x-azure-socketip").strip()
        if front_door_peer:
            return _strip_port(front_door_peer)
    forwarded = [part for part in header(headers, "x-forwarded-for").split(",") if part.strip()]
    return _strip_port(forwarded[-1]) if forwarded else "unknown"


def client_bucket(address: str) -> str:
    """Whom a limit counts: an IPv4 address, or the /64 network of an IPv6 one.

    An IPv6 subscriber is routinely given a whole /64 and picks a new address in it as often as
    it likes, so counting addresses would give it a fresh bucket per request.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


def window_start(now: datetime, window_s: int = WINDOW_S) -> datetime:
    """The start of the fixed window that now falls in."""
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % window_s, UTC)


def add_hit(conn: psycopg.Connection, bucket: str, start: datetime) -> psycopg.Cursor:
    """Send the upsert counting one hit in bucket's window; its row holds `hits` once fetched.

    A cursor rather than the count, so a caller can send it in one pipeline with other
    statements: the window's row stays locked until commit, so the fewer round trips after it,
    the better.
    """
    return conn.execute(
        """insert into rate_limit_windows as w (bucket, window_start, hits) values (%s, %s, 1)
           on conflict (bucket, window_start) do update set hits = w.hits + 1
           returning hits""",
        [bucket, start],
    )


def retry_after(
    hits: int, *, limit: int, start: datetime, now: datetime, window_s: int = WINDOW_S
) -> int | None:
    """Seconds to wait when hits is over limit, else None."""
    if hits <= limit:
        return None
    remaining = (start + timedelta(seconds=window_s) - now).total_seconds()
    return max(1, math.ceil(remaining))


def purge_windows(conn: psycopg.Connection, *, older_than_s: int = 10 * WINDOW_S) -> int:
    """Forget finished windows; returns how many."""
    return conn.execute(
        "delete from rate_limit_windows where window_start < now() - make_interval(secs => %s)",
        [older_than_s],
    ).rowcount
