"""The customer's menu: the newest snapshot with availability applied for now, as cached bytes.

Hot path per request: a dict lookup for the tenant's newest version (re-checked against Postgres
at most every POINTER_TTL_S, one indexed row), then a dict lookup for the rendering of
(tenant, version, zone, minute). The minute is part of the key only when some item has windows
or something is sold out until a time, because only then can the rendering change without a new
version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.db import tenant_transaction
from shared.menus.availability import available_now
from shared.menus.published import latest_head, snapshot_at
from shared.menus.sold_out import on_sale
from shared.rendered_cache import RenderedCache

# How stale another process's publish may look here; Front Door adds its own max-age on top.
POINTER_TTL_S = 1.0
STORE_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"


def render_store_menu(
    snapshot: dict[str, Any] | None, zone: ZoneInfo, now_utc: datetime
) -> dict[str, Any]:
    """The design §5 published menu for now: hidden categories dropped, `available` computed."""
    if snapshot is None:
        return {"version": 0, "categories": []}
    return {
        "version": snapshot["version"],
        "published_at": snapshot["published_at"],
        "currency": snapshot["currency"],
        "categories": [
            {
                "id": category["id"],
                "name": category["name"],
                "items": [
                    {
                        "id": item["id"],
                        "name": item["name"],
                        "description": item["description"],
                        "price": item["price"],
                        "allergens": item["allergens"],
                        "dietary": item["dietary"],
                        "available": available_now(item, zone, now_utc),
                        "image": item["image"],
                        "modifier_groups": [
                            _customer_group(group, now_utc) for group in item["modifier_groups"]
                        ],
                    }
                    for item in category["items"]
                ],
            }
            for category in snapshot["categories"]
            if category["visible"]
        ],
    }


def _customer_group(group: dict[str, Any], now_utc: datetime) -> dict[str, Any]:
    """A modifier group as customers see it: each option's `available` for now, no until."""
    return {
        **group,
        "options": [
            {
                **{key: value for key, value in option.items() if key != "sold_out_until"},
                "available": on_sale(option, now_utc),
            }
            for option in group["options"]
        ],
    }


def _is_timed(snapshot: dict[str, Any] | None) -> bool:
    """Whether the rendering can change with the clock alone: an item has windows, or an item
    or option is sold out until a time."""
    if snapshot is None:
        return False
    items = [item for category in snapshot["categories"] for item in category["items"]]
    options = [o for item in items for group in item["modifier_groups"] for o in group["options"]]
    return any(item["windows"] for item in items) or any(
        entry.get("sold_out_until") for entry in items + options
    )


@dataclass(frozen=True)
class _Live:
    checked_until: float
    # (version, etag): the etag tells a re-created tenant's version 1 from the old one's.
    head: tuple[int, str] | None
    timed: bool
    currency: str | None


class StorefrontMenus:
    """Per tenant schema: which snapshot is live (re-checked after a TTL) and its renderings.

    The snapshot itself is not kept once rendered: the renderings cache holds the bytes within
    its budget, and a snapshot per restaurant served (a 120-item menu parses to ~0.9 MB) would
    grow a process without bound. A new minute of a menu with windows, or a rendering the
    budget dropped, reads the snapshot again (one indexed row).
    """

    def __init__(
        self,
        *,
        pointer_ttl_s: float = POINTER_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        renderings: RenderedCache | None = None,
    ) -> None:
        self._ttl = pointer_ttl_s
        self._clock = clock
        self._renderings = renderings or RenderedCache()
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()

    def _current(self, schema: str) -> tuple[_Live, dict[str, Any] | None]:
        """The live pointer, and the snapshot when this call had to read it anyway."""
        now = self._clock()
        live = self._live.get(schema)
        if live is not None and live.checked_until > now:
            return live, None
        snapshot = None
        with tenant_transaction(schema) as conn:
            head = latest_head(conn)
            if live is not None and live.head == head:
                live = replace(live, checked_until=now + self._ttl)
            else:
                snapshot = snapshot_at(conn, head[0]) if head else None
                currency = snapshot["currency"] if snapshot is not None else None
                live = _Live(now + self._ttl, head, _is_timed(snapshot), currency)
        with self._lock:
            self._live[schema] = live
        return live, snapshot

    def _snapshot(self, schema: str, head: tuple[int, str] | None) -> dict[str, Any] | None:
        if head is None:
            return None
        with tenant_transaction(schema) as conn:
            return snapshot_at(conn, head[0])

    def rendered(self, schema: str, timezone: str, now_utc: datetime) -> tuple[bytes, str]:
        """(JSON bytes, strong ETag) of the tenant's menu as a customer sees it at now_utc."""
        live, snapshot = self._current(schema)
        minute = int(now_utc.timestamp() // 60) if live.timed else None

        def render() -> dict[str, Any]:
            menu = snapshot if snapshot is not None else self._snapshot(schema, live.head)
            return render_store_menu(menu, ZoneInfo(timezone), now_utc)

        return self._renderings.get_or_render((schema, timezone), (live.head, minute), render)

    def currency(self, schema: str) -> str | None:
        """The live menu's currency (what orders are charged in); None before any publish."""
        return self._current(schema)[0].currency

    def invalidate(self, schema: str) -> None:
        """Forget the tenant's live version (after a publish or an 86 in this process)."""
        with self._lock:
            self._live.pop(schema, None)


storefront_menus = StorefrontMenus()
