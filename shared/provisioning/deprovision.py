"""Deleting a restaurant: deleting → directory → blobs → schema → `deleted` tombstone.

Deletion only moves forward and every step is idempotent: a step that keeps failing leaves the
tenant `deleting` (its storefront already answers 410) and `DELETE` again resumes the work. The
tombstone row keeps the slug (never reused: old tokens name it) and the domains, which go on
answering 410 until another restaurant claims them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.db import transaction
from shared.directory import directory_delete, directory_domains_of, directory_put
from shared.images.targets import ASSETS_CONTAINER, QUARANTINE_CONTAINER, UPLOADS_CONTAINER
from shared.provisioning.audit import audit
from shared.provisioning.failures import StepFailed
from shared.provisioning.requests import schema_for
from shared.provisioning.schemas import drop_schema
from shared.storage import blob_service
from shared.tenancy import resolver
from shared.tenants import domains_of, tenant_by_slug

DEPROVISION_STEPS = (
    "mark_deleting",
    "remove_directory",
    "delete_blobs",
    "drop_schema",
    "tombstone",
)
# Where a tenant's files live: every image blob is named `<slug>/<target>/...` (shared.images).
TENANT_CONTAINERS = (UPLOADS_CONTAINER, ASSETS_CONTAINER, QUARANTINE_CONTAINER)
_DELETE_CHUNK = 256  # a blob batch request carries at most 256 sub-requests


def mark_deleting(slug: str, operation: str) -> str:
    """`deleting` in Postgres, then in the directory: the storefront answers 410 from now on."""
    with transaction() as conn:
        row = conn.execute(
            """update public.tenants t set status = 'deleting', last_operation = %s,
                       updated_at = now()
                 where slug = %s
                   and status in ('provisioning', 'active', 'suspended', 'failed', 'deleting')
             returning t.id""",
            [operation, slug],
        ).fetchone()
        if row is None:
            status = conn.execute(
                "select status from public.tenants where slug = %s", [slug]
            ).fetchone()
            if status is not None and status["status"] == "deleted":
                return "already deleted"
            raise StepFailed(f"{slug} cannot be deleted now (status {status and status['status']})")
    domains = _put_current_record(slug)
    return f"deleting; {len(domains)} domain(s) answer 410"


def remove_directory(slug: str, operation: str) -> str:
    """Point every directory entry of the tenant at its current record and drop strays (entries
    for domains Postgres no longer lists for it).

    The tenant's own entries are overwritten, never deleted: the revision check refuses an older
    record only while an entry exists, so a late writer (a refill that read Postgres before
    `mark_deleting`, a save that committed just before it) would create a deleted entry again as
    `active`, and every instance would take orders until the schema went.
    """
    listed = _put_current_record(slug)
    strays = set(directory_domains_of(slug)) - set(listed)
    for domain in strays:
        directory_delete(domain)
        resolver.invalidate(domain)
    return f"{len(listed)} directory entries answer 410, {len(strays)} stray(s) removed"


def _put_current_record(slug: str) -> list[str]:
    """Write the tenant's record as Postgres has it now to each of its domains; the domains."""
    with transaction() as conn:
        record = tenant_by_slug(conn, slug)
        domains = domains_of(conn, record.id) if record else []
    for domain in domains:
        directory_put(domain, record)
        resolver.invalidate(domain)
    return domains


def delete_blobs(slug: str, operation: str) -> str:
    """Delete every blob named `<slug>/...` in the tenant containers, in batches."""
    deleted = 0
    for container_name in TENANT_CONTAINERS:
        container = blob_service().get_container_client(container_name)
        listing = container.list_blobs(name_starts_with=f"{slug}/")
        try:
            names = [blob.name for blob in listing]
        except ResourceNotFoundError:
            continue  # the container does not exist yet, so neither do the tenant's files
        for start in range(0, len(names), _DELETE_CHUNK):
            chunk = names[start : start + _DELETE_CHUNK]
            for result in container.delete_blobs(*chunk, raise_on_any_failure=False):
                # 404: deleted by an earlier attempt of this step; anything else is retried.
                if result.status_code not in (202, 404):
                    raise RuntimeError(f"deleting a blob failed with {result.status_code}")
            deleted += len(chunk)
    return f"{deleted} blob(s) deleted"


def drop_tenant_schema(slug: str, operation: str) -> str:
    """Drop the schema under its advisory lock (so no migration is halfway through it)."""
    schema = schema_for(slug)
    return f"schema {schema} {'dropped' if drop_schema(schema) else 'was not there'}"


def tombstone(slug: str, operation: str) -> str:
    """`deleted`, keeping the row: the slug stays taken and its domains answer 410.

    The row keeps what that needs (slug, name, status, dates), not the owner's e-mail or the
    profile (contact phone and address, theme): nothing is served from them any more.
    """
    with transaction() as conn:
        conn.execute(
            """update public.tenants
                  set status = 'deleted', deleted_at = coalesce(deleted_at, now()),
                      status_reason = null, updated_at = now(), owner_email = null,
                      settings = '{}'::jsonb, theme = '{}'::jsonb, ordering_pause = null
                where slug = %s and status in ('deleting', 'deleted')""",
            [slug],
        )
    # The tombstone replaces the `deleting` entries (a newer revision): they answer 410 until
    # another restaurant claims the domain (reserve clears its entry then).
    _put_current_record(slug)
    return "deleted"


STEPS: dict[str, Callable[[str, str], str]] = {
    "mark_deleting": mark_deleting,
    "remove_directory": remove_directory,
    "delete_blobs": delete_blobs,
    "drop_schema": drop_tenant_schema,
    "tombstone": tombstone,
}


def run_deprovision_step(step: str, slug: str, operation: str) -> dict[str, Any]:
    """Run one deletion step; `{"ok": False, "error"}` when it cannot proceed at all."""
    name = f"delete: {step}"
    try:
        detail = STEPS[step](slug, operation)
    except StepFailed as error:
        audit(slug, operation=operation, step=name, outcome="failed", detail=str(error))
        return {"ok": False, "error": str(error)}
    audit(slug, operation=operation, step=name, outcome="ok", detail=detail)
    return {"ok": True, "detail": detail}
