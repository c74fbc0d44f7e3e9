"""The provisioning steps, in order; each is idempotent, so a retry or a replay is harmless.

reserve (row `provisioning` + domains) → create_schema → migrate → seed (settings, theme, an
empty published menu) → register_domains (Table Storage directory) → activate. Undoing them is
shared.provisioning.compensation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from pydantic import ValidationError

from shared.db import tenant_transaction, transaction
from shared.directory import directory_delete, directory_get, directory_put
from shared.menus.publish import publish_menu
from shared.migrate import MigrationError, migrate_schema_in
from shared.provisioning.audit import audit
from shared.provisioning.domains import DomainTaken, claim_domains
from shared.provisioning.failures import StepFailed, fail_if_injected, is_transient
from shared.provisioning.migration_status import record_outcome
from shared.provisioning.requests import ProvisionJob
from shared.provisioning.schemas import create_schema
from shared.restaurant_settings import RestaurantSettings, default_settings
from shared.telemetry import record_provisioning_duration, span_from_traceparent
from shared.tenancy import resolver
from shared.tenant_profile import update_tenant_profile
from shared.tenants import TENANT_COLUMNS, TenantRecord, domains_of, tenant_by_slug

_INSERT = """
insert into public.tenants
       (slug, schema_name, display_name, status, owner_email, provision_fingerprint,
        provision_attempt, last_operation)
values (%(slug)s, %(schema)s, %(name)s, 'provisioning', %(email)s, %(fingerprint)s,
        %(attempt)s, %(operation)s)
on conflict (slug) do nothing
returning id
"""

_RETAKE = """
update public.tenants
   set display_name = %(name)s, status = 'provisioning', status_reason = null,
       owner_email = %(email)s, provision_fingerprint = %(fingerprint)s,
       provision_attempt = %(attempt)s, last_operation = %(operation)s,
       settings = '{}'::jsonb, theme = '{}'::jsonb, ordering_pause = null, updated_at = now()
 where id = %(id)s
"""


def _reserve_row(conn: psycopg.Connection, job: ProvisionJob, operation: str) -> str:
    values = {
        "slug": job.slug,
        "schema": job.schema,
        "name": job.request.display_name,
        "email": job.request.owner_email,
        "fingerprint": job.fingerprint,
        "attempt": job.attempt,
        "operation": operation,
    }
    inserted = conn.execute(_INSERT, values).fetchone()
    if inserted is not None:
        return str(inserted["id"])
    row = conn.execute(
        """select id, status, provision_fingerprint from public.tenants
            where slug = %s for update""",
        [job.slug],
    ).fetchone()
    # A failed tenant may be provisioned again with any request; a provisioning one only by the
    # same request (a retry of this operation after a crash, or its restart).
    retake = row["status"] == "failed" or (
        row["status"] == "provisioning" and row["provision_fingerprint"] == job.fingerprint
    )
    if not retake:
        raise StepFailed(f"the slug {job.slug} is taken (its restaurant is {row['status']})")
    conn.execute(_RETAKE, {**values, "id": row["id"]})
    return str(row["id"])


def reserve(job: ProvisionJob, operation: str) -> str:
    """Insert (or retake) the tenant row as `provisioning` and claim its domains."""
    try:
        with transaction() as conn:
            tenant_id = _reserve_row(conn, job, operation)
            claim_domains(conn, tenant_id, job.domains)
    except DomainTaken as taken:
        raise StepFailed(str(taken)) from None
    except psycopg.errors.UniqueViolation as error:
        raise StepFailed(f"a domain was claimed by another restaurant meanwhile: {error}") from None
    for domain in job.domains:
        # A domain taken over from a deleted restaurant may still be cached as its tombstone.
        cached = directory_get(domain)
        if cached is not None and cached.slug != job.slug:
            directory_delete(domain)
        resolver.invalidate(domain)
    return f"tenant {tenant_id} reserved with domains {', '.join(job.domains)}"


def create_tenant_schema(job: ProvisionJob, operation: str) -> str:
    """The empty schema, under its advisory lock."""
    created = create_schema(job.schema)
    return f"schema {job.schema} {'created' if created else 'already existed'}"


def migrate(job: ProvisionJob, operation: str) -> str:
    """Apply every tenant migration and record the version, like a fleet run would."""
    try:
        with transaction() as conn:
            result = migrate_schema_in(conn, job.schema, "tenant")
            record_outcome(
                conn,
                schema=job.schema,
                version=result.version,
                status="migrated",
                operation=operation,
                duration_ms=result.duration_ms,
            )
    except (MigrationError, psycopg.Error) as error:
        if is_transient(error):
            raise
        raise StepFailed(f"migrating the schema failed: {error}") from error
    return f"version {result.version}, applied {len(result.applied)} file(s)"


def _record(slug: str) -> TenantRecord:
    """The tenant as Postgres has it now."""
    with transaction() as conn:
        record = tenant_by_slug(conn, slug)
    if record is None:
        raise StepFailed(f"the tenant row of {slug} disappeared during provisioning")
    return record


def seed(job: ProvisionJob, operation: str) -> str:
    """Settings from the request, its theme, and an empty published menu."""
    request = job.request
    settings = RestaurantSettings.model_validate(
        {
            **default_settings(request.display_name),
            "currency": request.currency,
            "timezone": request.timezone,
        }
    )
    record = update_tenant_profile(
        tenant_id=_record(job.slug).id,
        settings=settings.as_data(),
        theme=request.theme.as_data() if request.theme is not None else None,
    )
    with tenant_transaction(job.schema) as conn:
        published = conn.execute("select exists (select 1 from menu_versions) as yes").fetchone()
    if published["yes"]:
        return "settings saved; a menu was already published"
    version = publish_menu(tenant=record, published_by="provisioning")["version"]
    return f"settings saved; empty menu published as version {version}"


def _put_directory(record: TenantRecord, domains: list[str]) -> None:
    for domain in domains:
        directory_put(domain, record)
        resolver.invalidate(domain)


def register_domains(job: ProvisionJob, operation: str) -> str:
    """Directory entries (still `provisioning`) for every domain, so the first lookup is cheap."""
    _put_directory(_record(job.slug), job.domains)
    return f"{len(job.domains)} domain(s) in the directory"


def activate(job: ProvisionJob, operation: str) -> str:
    """Postgres says active first, then the directory (design §3's order for any change).

    A restaurant a platform admin suspended between a first run of this step and a retry (its
    directory write failed, or the host ran it twice) stays suspended: the step is done, and
    failing it would have compensation mark a working restaurant failed.
    """
    with transaction() as conn:
        before = conn.execute(
            "select status from public.tenants where slug = %s and provision_attempt = %s "
            "for update",
            [job.slug, job.attempt],
        ).fetchone()
        row = conn.execute(
            f"""update public.tenants t
                   set status = case t.status when 'suspended' then t.status else 'active' end,
                       status_reason = case t.status when 'suspended' then t.status_reason end,
                       updated_at = now()
                 where slug = %s and provision_attempt = %s
                   and status in ('provisioning', 'active', 'suspended')
             returning {TENANT_COLUMNS}""",
            [job.slug, job.attempt],
        ).fetchone()
        if row is None:
            raise StepFailed("the tenant is no longer being provisioned by this operation")
        record = TenantRecord.from_row(row)
        domains = domains_of(conn, record.id)
    # Timed once, by the call that made it active, as soon as that committed: a retry (the
    # directory or audit write after this failed, or the host ran it twice) finds it active.
    if before["status"] == "provisioning" and (elapsed_ms := job.elapsed_ms()) is not None:
        record_provisioning_duration(job.slug, elapsed_ms, outcome="completed")
    _put_directory(record, domains)
    return record.status


STEPS: dict[str, Callable[[ProvisionJob, str], str]] = {
    "reserve": reserve,
    "create_schema": create_tenant_schema,
    "migrate": migrate,
    "seed": seed,
    "register_domains": register_domains,
    "activate": activate,
}


def run_step(step: str, job: ProvisionJob, operation: str) -> dict[str, Any]:
    """Run one step; `{"ok": False, "error"}` for a permanent failure, transient ones raise."""
    try:
        # Each step continues the trace of the platform request that started the operation.
        with span_from_traceparent(f"provision {step}", job.traceparent, tenant=job.slug):
            detail = STEPS[step](job, operation)
        fail_if_injected(job, step)
    except (StepFailed, ValidationError) as error:
        # A ValidationError is a rule the request should have met (the request model missing
        # one of a later step's rules): the same input fails the same way, so no retries.
        audit(job.slug, operation=operation, step=step, outcome="failed", detail=str(error))
        return {"ok": False, "error": str(error)}
    audit(job.slug, operation=operation, step=step, outcome="ok", detail=detail)
    return {"ok": True, "detail": detail}
