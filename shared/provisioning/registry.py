"""Reading the tenant registry for platform admins: lists, one tenant, conflicts before a start."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError
from pydantic import BaseModel

from shared.db import transaction
from shared.migrate import MIGRATABLE, latest_version
from shared.provisioning.audit import recent_audit
from shared.provisioning.migration_status import migration_status_of

logger = logging.getLogger("stelly.platform")

_DOMAINS = """array(select d.domain from public.tenant_domains d where d.tenant_id = t.id
                  order by not d.is_primary, d.domain) as domains"""
_SUMMARY = f"""
select t.slug, t.display_name, t.status, t.created_at, t.updated_at, {_DOMAINS}
  from public.tenants t
"""
_DETAIL = f"""
select t.slug, t.display_name, t.status, t.status_reason, t.schema_name, t.owner_email,
       t.settings, t.last_operation, t.created_at, t.updated_at, t.deleted_at, {_DOMAINS}
  from public.tenants t where t.slug = %s
"""


class TenantSummary(BaseModel):
    slug: str
    display_name: str
    status: str
    domains: list[str]
    created_at: datetime
    updated_at: datetime


class TenantPage(BaseModel):
    items: list[TenantSummary]
    next_cursor: str | None


class MigrationState(BaseModel):
    version: int
    latest: int
    status: str | None
    error: str | None
    updated_at: datetime | None


class OperationLink(BaseModel):
    id: str
    status_url: str


class TenantDetail(TenantSummary):
    schema_name: str
    status_reason: str | None
    owner_email: str | None
    settings: dict[str, Any]
    migration: MigrationState
    last_operation: OperationLink | None
    deleted_at: datetime | None
    audit: list[dict[str, Any]]
    # True when the audit trail could not be read just now (Table Storage unreachable): the
    # rest of the answer stands, and `audit` is empty rather than the whole answer a 503.
    audit_unavailable: bool = False


def list_tenants(*, status: str | None, after: str | None, limit: int) -> TenantPage:
    """A page of tenants in slug order (keyset paging: pass next_cursor as `after`)."""
    with transaction() as conn:
        rows = conn.execute(
            _SUMMARY
            + """ where (%(status)s::text is null or t.status = %(status)s)
                    and (%(after)s::text is null or t.slug > %(after)s)
                  order by t.slug limit %(limit)s""",
            {"status": status, "after": after, "limit": limit + 1},
        ).fetchall()
    items = [TenantSummary.model_validate(row) for row in rows[:limit]]
    return TenantPage(items=items, next_cursor=items[-1].slug if len(rows) > limit else None)


def tenant_detail(slug: str, operations_url: str) -> TenantDetail | None:
    """Status, domains, migration version and last operation of one tenant; None if unknown."""
    with transaction() as conn:
        row = conn.execute(_DETAIL, [slug]).fetchone()
        if row is None:
            return None
        migration = migration_status_of(conn, row["schema_name"]) or {}
    operation = row.pop("last_operation")
    return TenantDetail.model_validate(
        {
            **row,
            "migration": {
                "version": migration.get("version", 0),
                "latest": latest_version("tenant"),
                "status": migration.get("status"),
                "error": migration.get("error"),
                "updated_at": migration.get("updated_at"),
            },
            "last_operation": (
                {"id": operation, "status_url": f"{operations_url}/{operation}"}
                if operation
                else None
            ),
            **_audit_of(slug),
        }
    )


def _audit_of(slug: str) -> dict[str, Any]:
    try:
        return {"audit": recent_audit(slug)}
    except AzureError as error:
        logger.warning("audit trail of %s not read: %s", slug, type(error).__name__)
        return {"audit": [], "audit_unavailable": True}


def provisioning_state(slug: str) -> dict[str, Any] | None:
    """The slug's row as POST /tenants needs it (status, fingerprint), or None."""
    with transaction() as conn:
        return conn.execute(
            "select status, provision_fingerprint as fingerprint"
            " from public.tenants where slug = %s",
            [slug],
        ).fetchone()


# kind → orchestration, and the statuses its completion leaves the restaurant in.
_SETTLES = {
    "provision": ("provision_tenant", ("active", "suspended")),
    "deprovision": ("deprovision_tenant", ("deleted",)),
}


def purged_operation(instance_id: str) -> dict[str, Any] | None:
    """A restaurant's provisioning or deletion whose history the 30-day purge has taken, as its
    status URL answers it; None for any other id.

    A repeated create or delete still answers with that URL, so it tells what the operation
    did, read from the restaurant as it is now: `completed`, with the output the orchestration
    gives (the restaurant's current domains, primary first, for a provisioning).
    """
    kind, _, slug = instance_id.partition("-")
    if kind not in _SETTLES:
        return None
    name, settled = _SETTLES[kind]
    with transaction() as conn:
        row = conn.execute(
            f"""select t.status, t.created_at, t.deleted_at, {_DOMAINS}
                  from public.tenants t where t.slug = %s""",
            [slug],
        ).fetchone()
    if row is None or row["status"] not in settled:
        return None
    output: dict[str, Any] = {"slug": slug, "status": row["status"]}
    if kind == "provision":
        output["domains"] = row["domains"]
    return {
        "id": instance_id,
        "name": name,
        "status": "completed",
        "custom_status": None,
        "output": output,
        "error": None,
        "created_at": row["created_at"] if kind == "provision" else None,
        "updated_at": row["deleted_at"],
    }


def deleting_slugs() -> list[str]:
    """Restaurants whose deletion began and has not finished (running, or stopped at a step)."""
    with transaction() as conn:
        rows = conn.execute(
            "select slug from public.tenants where status = 'deleting' order by slug"
        ).fetchall()
    return [row["slug"] for row in rows]


def taken_domains(domains: list[str], slug: str) -> dict[str, str]:
    """domain → owning slug, for those of domains that another live restaurant uses."""
    with transaction() as conn:
        rows = conn.execute(
            """select d.domain, t.slug from public.tenant_domains d
                 join public.tenants t on t.id = d.tenant_id
                where d.domain = any(%s) and t.slug <> %s and t.status <> 'deleted'""",
            [domains, slug],
        ).fetchall()
    return {row["domain"]: row["slug"] for row in rows}


def migratable_slugs(slugs: list[str]) -> set[str]:
    """Those of slugs whose restaurants a fleet migration visits (active or suspended)."""
    with transaction() as conn:
        rows = conn.execute(
            "select slug from public.tenants where slug = any(%s) and status = any(%s)",
            [slugs, list(MIGRATABLE)],
        ).fetchall()
    return {row["slug"] for row in rows}
