"""Undoing provisioning steps after a permanent failure, newest first.

Every undo acts only on a tenant row whose `provision_attempt` is this orchestration's attempt, so
a failure caused by someone else owning the slug or a domain never touches their restaurant, and
never on one a deletion has taken over.
Each undo is idempotent. The failed step itself is undone too: it may have done part of its work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from shared.db import transaction
from shared.directory import directory_delete, directory_get, directory_put
from shared.provisioning.audit import audit
from shared.provisioning.requests import ProvisionJob
from shared.provisioning.schemas import drop_schema
from shared.telemetry import record_provisioning_duration, span_from_traceparent
from shared.tenancy import resolver
from shared.tenants import TENANT_COLUMNS, TenantRecord

_MAX_REASON = 1000


def _owned(conn: psycopg.Connection, job: ProvisionJob) -> dict[str, Any] | None:
    """This attempt's tenant row, locked; None once a deletion has taken it over (a DELETE that
    landed after `activate` committed wins: undoing would bring the slug back as `failed`)."""
    return conn.execute(
        """select id, status from public.tenants
            where slug = %s and provision_attempt = %s and status not in ('deleting', 'deleted')
              for update""",
        [job.slug, job.attempt],
    ).fetchone()


def _forget_directory(job: ProvisionJob) -> int:
    """Remove the request's directory entries that point at this tenant (not anyone else's)."""
    removed = 0
    for domain in job.domains:
        cached = directory_get(domain)
        if cached is not None and cached.slug == job.slug:
            directory_delete(domain)
            removed += 1
        resolver.invalidate(domain)
    return removed


def deactivate(job: ProvisionJob, reason: str) -> str:
    """Stop serving first, so no request reaches a schema that is about to be dropped."""
    with transaction() as conn:
        if _owned(conn, job) is None:
            return "not this operation's tenant; left alone"
        row = conn.execute(
            f"""update public.tenants t set status = 'provisioning', updated_at = now()
                 where slug = %s and status = 'active' returning {TENANT_COLUMNS}""",
            [job.slug],
        ).fetchone()
    if row is None:
        return "was not active"
    record = TenantRecord.from_row(row)
    for domain in job.domains:
        directory_put(domain, record)
        resolver.invalidate(domain)
    return "back to provisioning"


def unregister_domains(job: ProvisionJob, reason: str) -> str:
    """Remove the directory entries this attempt wrote."""
    with transaction() as conn:
        owned = _owned(conn, job)
    if owned is None:
        return "not this operation's tenant; left alone"
    return f"{_forget_directory(job)} directory entries removed"


def drop_tenant_schema(job: ProvisionJob, reason: str) -> str:
    """Drop the schema (and with it the migrations and the seeded menu)."""
    with transaction() as conn:
        owned = _owned(conn, job)
    if owned is None or owned["status"] not in ("provisioning", "failed"):
        return "not this operation's tenant; left alone"
    return f"schema {job.schema} {'dropped' if drop_schema(job.schema) else 'was not there'}"


def release(job: ProvisionJob, reason: str) -> str:
    """Mark the tenant failed with the reason and give its domains back."""
    with transaction() as conn:
        owned = _owned(conn, job)
        if owned is None:
            return "not this operation's tenant; left alone"
        conn.execute(
            """update public.tenants set status = 'failed', status_reason = %s,
                      updated_at = now() where id = %s""",
            [reason[:_MAX_REASON], owned["id"]],
        )
        conn.execute("delete from public.tenant_domains where tenant_id = %s", [owned["id"]])
    # Timed once, by the call that marked it failed, as soon as that committed (a retried undo
    # finds it failed already).
    if owned["status"] != "failed" and (elapsed_ms := job.elapsed_ms()) is not None:
        record_provisioning_duration(job.slug, elapsed_ms, outcome="failed")
    # Again, last: a storefront request during compensation may have re-cached an entry.
    _forget_directory(job)
    return "tenant failed; domains released"


UNDO: dict[str, Callable[[ProvisionJob, str], str]] = {
    "activate": deactivate,
    "register_domains": unregister_domains,
    "create_schema": drop_tenant_schema,
    "reserve": release,
}


def undo_steps(steps: list[str]) -> list[str]:
    """The steps to undo, newest first, for steps done (the failed one last in `steps`)."""
    return [step for step in reversed(steps) if step in UNDO]


def run_undo(step: str, job: ProvisionJob, operation: str, reason: str) -> dict[str, Any]:
    """Undo one step (transient errors raise, to be retried); audited as `undo <step>`.

    It continues the provisioning request's trace, as the forward steps do.
    """
    with span_from_traceparent(f"provision undo {step}", job.traceparent, tenant=job.slug):
        detail = UNDO[step](job, reason)
        audit(job.slug, operation=operation, step=f"undo {step}", outcome="ok", detail=detail)
    return {"ok": True, "detail": detail}
