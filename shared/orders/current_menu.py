"""The published menu indexed for pricing, cached per (tenant id, snapshot version).

Snapshots are immutable, so an index never goes stale: a new publish or an 86 makes a new
version, which is a cache miss. Checking the newest version is one index-only read. The key is
the tenant id, not the schema: a restaurant deleted and created again reuses its schema name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import psycopg

from shared.orders.pricing import MenuIndex

MAX_CACHED_MENUS = 256
# Counted in snapshot JSON (a parsed index takes about three times that): a fleet of large menus
# must not grow a process by gigabytes. The menus ordered from longest ago go first.
MAX_CACHED_MENU_BYTES = 16 * 1024 * 1024

_cache: OrderedDict[tuple[str, int], tuple[MenuIndex, int]] = OrderedDict()
_cached_bytes = 0
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
            return cached[0]
    row = conn.execute(
        "select snapshot, octet_length(snapshot::text) as size from menu_versions "
        "order by version desc limit 1"
    ).fetchone()
    if row is None:
        return None
    index = MenuIndex.from_snapshot(row["snapshot"])
    _keep((tenant_id, index.version), index, row["size"])
    return index


def _keep(key: tuple[str, int], index: MenuIndex, size: int) -> None:
    global _cached_bytes
    with _lock:
        if key in _cache:
            return
        _cache[key] = (index, size)
        _cached_bytes += size
        while len(_cache) > 1 and (
            len(_cache) > MAX_CACHED_MENUS or _cached_bytes > MAX_CACHED_MENU_BYTES
        ):
            _cached_bytes -= _cache.popitem(last=False)[1][1]
