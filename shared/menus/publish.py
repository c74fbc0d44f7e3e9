"""Publishing: render the draft menu into an immutable `menu_versions` row (JSON + ETag).

Publishing takes `menu_versions` in SHARE ROW EXCLUSIVE mode, which conflicts with itself but not
with readers, so two publishes get consecutive versions and the storefront never waits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from shared import errors
from shared.db import tenant_transaction
from shared.events.dispatch import dispatcher
from shared.events.outbox import append_event
from shared.instants import utc_text
from shared.menus.draft import draft_menu
from shared.menus.published import latest_snapshot
from shared.menus.sold_out import sold_out_now
from shared.menus.storefront import storefront_menus
from shared.orders.pricing import snapshot_stations
from shared.orders.queries import every_display_group
from shared.rendered_cache import content_etag, json_bytes
from shared.restaurant_settings import effective_settings
from shared.tenants import TenantRecord, tenant_by_slug

# 86 changes that go live, per restaurant and minute (see _check_availability_rate).
MAX_86_VERSIONS_PER_MINUTE = 30
# An entry's `available` flag and `sold_out_until` (as shared.instants.utc_text spells it).
Flags = tuple[bool, str | None]


def _snapshot_group(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(group["id"]),
        "name": group["name"],
        "min": group["min"],
        "max": group["max"],
        "free_quantity": group["free_quantity"],
        "options": [
            {
                "id": str(option["id"]),
                "name": option["name"],
                "price_delta": option["price_delta"],
                "default": option["default"],
                "available": option["available"],
                "sold_out_until": utc_text(option["sold_out_until"]),
            }
            for option in group["options"]
        ],
    }


def _snapshot_item(item: dict[str, Any], groups: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": str(item["id"]),
        "name": item["name"],
        "description": item["description"],
        "price": item["price"],
        "allergens": item["allergens"],
        "dietary": item["dietary"],
        "available": item["available"],
        "sold_out_until": utc_text(item["sold_out_until"]),
        "station": item["station"],
        "windows": item["windows"],
        # `image` only ever holds finished renditions; a newer upload that is pending or was
        # rejected must not take the current photo off the storefront.
        "image": item["image"],
        "modifier_groups": [groups[group_id] for group_id in item["modifier_group_ids"]],
    }


def render_snapshot(draft: dict[str, Any], *, currency: str) -> dict[str, Any]:
    """The customer-facing menu of a draft (see shared.menus.published), without version."""
    groups = {group["id"]: _snapshot_group(group) for group in draft["modifier_groups"]}
    return {
        "currency": currency,
        "categories": [
            {
                "id": str(category["id"]),
                "name": category["name"],
                "rank": category["rank"],
                "visible": category["visible"],
                "items": [_snapshot_item(item, groups) for item in category["items"]],
            }
            for category in draft["categories"]
        ],
    }


def _lock_versions(conn: psycopg.Connection) -> None:
    conn.execute("lock table menu_versions in share row exclusive mode")


def _insert_version(
    conn: psycopg.Connection, body: dict[str, Any], *, source: str, published_by: str | None
) -> dict[str, Any]:
    _lock_versions(conn)
    # The time now, under the lock, not now() (when the transaction began): a writer that waited
    # here behind another publishes after it and must not be stamped before it.
    head = conn.execute(
        """select coalesce(max(version), 0) + 1 as version,
                  greatest(clock_timestamp(), max(published_at)) as at from menu_versions"""
    ).fetchone()
    published_at = head["at"].astimezone(UTC)
    snapshot = {"version": head["version"], "published_at": published_at.isoformat(), **body}
    etag = content_etag(json_bytes(snapshot))
    conn.execute(
        """insert into menu_versions (version, etag, snapshot, source, published_by, published_at)
           values (%s, %s, %s, %s, %s, %s)""",
        [head["version"], etag, Jsonb(snapshot), source, published_by, published_at],
    )
    return {
        "version": head["version"],
        "etag": etag,
        "published_at": published_at.isoformat(),
        "source": source,
    }


def _saved_currency(conn: psycopg.Connection, tenant: TenantRecord) -> str:
    """The currency in the tenant's saved settings, read now: the request's tenant record may
    come from a cache seconds old, and a snapshot keeps what it was given until the next
    publish (a currency changed just before would otherwise miss it)."""
    saved = tenant_by_slug(conn, tenant.slug)
    return effective_settings(saved or tenant).currency


def publish_menu(*, tenant: TenantRecord, published_by: str | None) -> dict[str, Any]:
    """Publish the tenant's draft as the next version; `{"version", "etag", "published_at"}`.

    A publish that changes what is sold out now (an 86'd dish deleted or imported back on
    sale, a new one imported as sold out, one renamed) tells every display, as an 86 does.
    """
    now = datetime.now(UTC)
    with tenant_transaction(tenant.schema_name) as conn:
        # Lock before reading the draft: an 86 or a photo commits its draft change together with
        # its re-issued snapshot under this lock, so a draft read before it could publish the
        # item as still available (and orders are priced from the newest snapshot).
        _lock_versions(conn)
        sold_out_before = sold_out_now(latest_snapshot(conn), now)
        body = render_snapshot(draft_menu(conn), currency=_saved_currency(conn, tenant))
        published = _insert_version(conn, body, source="publish", published_by=published_by)
        told = sold_out_now(body, now) != sold_out_before
        if told:
            tell_the_kitchen(conn, tenant, by=published_by, now=now)
    storefront_menus.invalidate(tenant.schema_name)
    if told:
        dispatcher.notify(tenant.schema_name, tenant.slug)
    return published


def tell_the_kitchen(
    conn: psycopg.Connection, tenant: TenantRecord, *, by: str | None, now: datetime
) -> None:
    """Every display gets the whole new 86 list (`menu.sold_out`), so one 86'd from a manager's
    phone or another screen shows on each, and a display that missed one is right again with
    the next."""
    snapshot = latest_snapshot(conn) or {}
    data = {**sold_out_now(snapshot, now), "by": f"staff:{by}" if by else None}
    # The stations from the snapshot in hand: the pricing cache must not see a version that
    # has not committed (see kitchen_stations).
    stations = snapshot_stations(snapshot)
    groups = every_display_group(conn, tenant.id, tenant.slug, live_stations=stations)
    append_event(
        conn, type="menu.sold_out", order_id=None, occurred_at=now, data=data, groups=groups
    )


def _with_availability(
    snapshot: dict[str, Any], items: dict[str, Flags], options: dict[str, Flags]
) -> tuple[dict[str, Any], bool]:
    """A copy of snapshot with those available flags and untils, and whether any changed."""
    changed = False

    def flag(entry: dict[str, Any], wanted: dict[str, Flags]) -> dict[str, Any]:
        nonlocal changed
        current = (entry["available"], entry.get("sold_out_until"))
        value = wanted.get(entry["id"], current)
        changed = changed or value != current
        return {**entry, "available": value[0], "sold_out_until": value[1]}

    categories = [
        {
            **category,
            "items": [
                {
                    **flag(item, items),
                    "modifier_groups": [
                        {**group, "options": [flag(o, options) for o in group["options"]]}
                        for group in item["modifier_groups"]
                    ],
                }
                for item in category["items"]
            ],
        }
        for category in snapshot["categories"]
    ]
    body = {k: v for k, v in snapshot.items() if k not in ("version", "published_at")}
    return {**body, "categories": categories}, changed


def reissue_with_availability(
    conn: psycopg.Connection,
    *,
    items: dict[str, Flags],
    options: dict[str, Flags],
    published_by: str | None,
) -> dict[str, Any] | None:
    """Re-issue the live snapshot with new available flags (and untils), so an 86 needs no
    publish.

    Only the flags change: other draft edits stay unpublished. None when the tenant has not
    published or no flag in the live snapshot changes.
    """
    _lock_versions(conn)
    live = latest_snapshot(conn)
    if live is None:
        return None
    body, changed = _with_availability(live, items, options)
    if not changed:
        return None
    _check_availability_rate(conn)
    return _insert_version(conn, body, source="availability", published_by=published_by)


def _check_availability_rate(conn: psycopg.Connection) -> None:
    """429 once the restaurant has re-issued its menu for 86es MAX_86_VERSIONS_PER_MINUTE
    times in the last minute. Each re-issue keeps a whole snapshot (30 days) and sends every
    display the 86 list (7 days): a kitchen 86es a handful a minute at most, while a script
    toggling one dish would otherwise write without bound."""
    row = conn.execute(
        """select ceil(extract(epoch from published_at + interval '60 seconds'
                                            - clock_timestamp())) as wait
             from menu_versions where source = 'availability'
            order by version desc offset %s limit 1""",
        [MAX_86_VERSIONS_PER_MINUTE - 1],
    ).fetchone()
    if row is not None and row["wait"] > 0:
        raise errors.too_many_requests(int(row["wait"]))
