"""The tenant record as the request path sees it, and its Postgres queries."""

from __future__ import annotations

import json
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, ConfigDict

from shared import errors
from shared.ordering_pause import OrderingPause

TenantStatus = Literal["provisioning", "active", "suspended", "deleting", "deleted", "failed"]


class TenantRecord(BaseModel):
    """What a request needs to know about its tenant; cached per domain."""

    model_config = ConfigDict(frozen=True)

    id: str
    slug: str
    schema_name: str
    display_name: str
    status: TenantStatus
    theme: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    version: int = 1
    # Changes with every update of the row, status included (version counts profile edits,
    # the ETag admins send back); the directory keeps the entry with the highest.
    revision: int = 0
    # Outside the version: a kitchen pausing orders does not make the profile's ETag stale.
    ordering_pause: OrderingPause | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TenantRecord:
        return cls(
            id=str(row["id"]),
            slug=row["slug"],
            schema_name=row["schema_name"],
            display_name=row["display_name"],
            status=row["status"],
            theme=row["theme"] or {},
            settings=row["settings"] or {},
            version=row["version"],
            revision=row["revision"],
            ordering_pause=row["ordering_pause"],
        )

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"))


TENANT_COLUMNS = (
    "t.id, t.slug, t.schema_name, t.display_name, t.status, t.theme, t.settings, t.version,"
    " t.revision, t.ordering_pause"
)


def tenant_by_domain(conn: psycopg.Connection, domain: str) -> TenantRecord | None:
    row = conn.execute(
        f"""select {TENANT_COLUMNS} from public.tenant_domains d
            join public.tenants t on t.id = d.tenant_id where d.domain = %s""",
        [domain],
    ).fetchone()
    return TenantRecord.from_row(row) if row else None


def tenant_by_slug(conn: psycopg.Connection, slug: str) -> TenantRecord | None:
    row = conn.execute(
        f"select {TENANT_COLUMNS} from public.tenants t where t.slug = %s", [slug]
    ).fetchone()
    return TenantRecord.from_row(row) if row else None


def domains_of(conn: psycopg.Connection, tenant_id: str) -> list[str]:
    rows = conn.execute(
        "select domain from public.tenant_domains where tenant_id = %s"
        " order by not is_primary, domain",
        [tenant_id],
    ).fetchall()
    return [row["domain"] for row in rows]


def locked_tenant(
    conn: psycopg.Connection, slug: str, *, changeable: tuple[str, ...], change: str
) -> dict[str, Any]:
    """The restaurant's row (TENANT_COLUMNS and its status_reason), locked for a platform
    admin's change; 404 for an unknown slug, 409 when its status is not one of changeable
    (change: what is refused, for the message)."""
    row = conn.execute(
        f"""select {TENANT_COLUMNS}, t.status_reason from public.tenants t
             where t.slug = %s for update""",
        [slug],
    ).fetchone()
    if row is None:
        raise errors.not_found(f"No restaurant has the slug {slug}")
    if row["status"] not in changeable:
        raise errors.conflict(f"{slug} is {row['status']}; {change}")
    return row
