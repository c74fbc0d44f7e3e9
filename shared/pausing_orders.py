"""Pausing and resuming orders: the tenant row, the kitchen's event, then the caches.

The pause is written as a profile change is (Postgres, then every directory entry, then this
process's cache), and in the same transaction a `store.paused` or `store.resumed` event joins
the restaurant's outbox, so every kitchen display (its kitchen group and each station's) hears of
a pause another display or a manager's phone set. A pause that ends by itself sends nothing:
displays know its `until`.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from shared import errors
from shared.db import tenant_transaction
from shared.events.dispatch import dispatcher
from shared.events.outbox import append_event
from shared.ordering_pause import OrderingPause, pause_in_force
from shared.orders.queries import every_display_group
from shared.tenant_profile import SavedProfile, spread_tenant_profile
from shared.tenants import TENANT_COLUMNS, TenantRecord, domains_of


def set_ordering_pause(
    tenant: TenantRecord, pause: OrderingPause | None, *, by: str, now: datetime
) -> TenantRecord:
    """Pause orders (or resume, with None); the profile's version stays: it is no edit of it.

    404 for an unknown restaurant, 410 for one being deleted (a stale cache's request must not
    put a pause back on the tombstone).
    """
    with tenant_transaction(tenant.schema_name) as conn:
        current = conn.execute(
            "select status, ordering_pause from public.tenants where id = %s for update",
            [tenant.id],
        ).fetchone()
        if current is None:
            raise errors.not_found("No such restaurant")
        if current["status"] in ("deleting", "deleted"):
            raise errors.gone("This restaurant has closed its storefront")
        row = conn.execute(
            f"""update public.tenants t
                   set ordering_pause = %s, updated_at = now()
                 where t.id = %s
             returning {TENANT_COLUMNS}""",
            [Jsonb(pause.model_dump(mode="json")) if pause is not None else None, tenant.id],
        ).fetchone()
        record = TenantRecord.from_row(row)
        was = (
            OrderingPause.model_validate(current["ordering_pause"])
            if current["ordering_pause"]
            else None
        )
        if pause is not None or pause_in_force(was, now) is not None:
            _tell_the_kitchen(conn, record, pause, by=by, now=now)
        saved = SavedProfile(record, domains_of(conn, tenant.id))
    dispatcher.notify(tenant.schema_name, tenant.slug)
    spread_tenant_profile(saved)
    return saved.record


def _tell_the_kitchen(
    conn: psycopg.Connection,
    record: TenantRecord,
    pause: OrderingPause | None,
    *,
    by: str,
    now: datetime,
) -> None:
    groups = every_display_group(conn, record.id, record.slug)
    data = pause.model_dump(mode="json") if pause is not None else {"by": by}
    kind = "store.paused" if pause is not None else "store.resumed"
    append_event(conn, type=kind, order_id=None, occurred_at=now, data=data, groups=groups)
