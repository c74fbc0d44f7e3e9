"""Dropping published snapshots nobody can need any more.

Every publish, 86 and photo adds a whole snapshot (~120 KB for a 120-item menu), so a busy
kitchen's sold-out toggles alone grew a restaurant by hundreds of megabytes a year. Snapshots
stay immutable; the ones no order was priced from (orders keep their own lines and prices, and
name the version only to be explained later) go once they are old, except the newest.
"""

from __future__ import annotations

import psycopg

SNAPSHOT_RETENTION_DAYS = 30
# Per run and tenant, so one run stays well inside the statement timeout; the next hour goes on.
PURGE_BATCH = 500


def purge_unused_snapshots(
    conn: psycopg.Connection, *, older_than_days: int = SNAPSHOT_RETENTION_DAYS
) -> int:
    """Delete up to PURGE_BATCH snapshots replaced more than older_than_days ago that no order
    names (never the newest); how many."""
    # The immutability trigger lets this transaction delete (and nobody else).
    conn.execute("select set_config('stelly.purging_menu_versions', 'on', true)")
    # Aged from when the next version replaced it, not from its own publishing: a menu left
    # alone for a month was live until a moment ago, and orders priced from it may still be
    # committing. The newest has no successor, so it always stays.
    deleted = conn.execute(
        """delete from menu_versions where id in (
               select v.id from menu_versions v
                 join lateral (select n.published_at from menu_versions n
                                where n.version > v.version
                                order by n.version limit 1) successor on true
                where successor.published_at < now() - make_interval(days => %s)
                  and not exists (select 1 from orders o where o.menu_version = v.version)
                order by v.version limit %s)""",
        [older_than_days, PURGE_BATCH],
    ).rowcount
    conn.execute("select set_config('stelly.purging_menu_versions', 'off', true)")
    return deleted
