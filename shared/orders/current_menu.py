"""The published menu indexed for pricing, cached per (tenant id, snapshot version).

Snapshots are immutable, so an index never goes stale: a new publish or an 86 makes a new
version, which is a cache miss. Checking the newest version is one index-only read. The key is
the tenant id, not the schema: a restaurant deleted and created again reuses its schema name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import psycopg

from shared.menus.published import latest_snapshot
from shared.orders.pricing import MenuIndex

MAX_CACHED_MENUS = 256

_cache: OrderedDict[tuple[str, int], MenuIndex] = OrderedDict()
_lock = threading.Lock()


def current_menu(conn: psycopg.Connection, tenant_id: str) -> MenuIndex | None:
    """The newest published menu of the tenant conn is scoped to; None before the first publish."""
    row = conn.execute("select max(version) as version from menu_versions").fetchone()
    if row is None or row["version"] is None:
        return None
    key = (tenant_id, int(row["version"]))
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    snapshot = latest_snapshot(conn)
    if snapshot is None:
        return None
    index = MenuIndex.from_snapshot(snapshot)
    with _lock:
        _cache[(tenant_id, index.version)] = index
        while len(_cache) > MAX_CACHED_MENUS:
            _cache.popitem(last=False)
    return index
