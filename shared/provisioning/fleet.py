"""Migrating every tenant schema: plan and check the whole fleet at once, migrate one at a time.

The fast path is in `plan`: it reads the applied migrations of CHECK_CHUNK schemas per query (a
UNION ALL over their `schema_migrations`) and compares each with the files on disk by a digest of
(version, checksum) pairs, so an edited file is noticed as well as a missing one. Current schemas
are recorded in one statement per chunk and never get an activity, a batch or a history event of
their own; only the rest are migrated, one activity per schema under the schema's advisory lock.

Which tenants: `active` and `suspended` ones. A tenant still `provisioning` migrates itself (its
`migrate` step applies every file this code has), so a restaurant created during a run ends up
current either way; `failed`, `deleting` and `deleted` ones have no schema to migrate.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import psycopg
from psycopg import sql

from shared.db import transaction
from shared.logs import log_context
from shared.migrate import (
    MIGRATABLE,
    MigrationError,
    latest_version,
    load_migrations,
    migrate_public,
    migrate_schema_in,
)
from shared.provisioning.audit import audit
from shared.provisioning.failures import is_transient
from shared.provisioning.migration_status import (
    migration_status_of,
    record_current,
    record_outcome,
)
from shared.provisioning.schemas import lock_schema, schema_exists
from shared.telemetry import record_migration_failed

CHECK_CHUNK = 250
log = logging.getLogger("stelly.migrations")


def expected_digest() -> str:
    """The digest `_applied` computes for a schema with exactly the files on disk applied."""
    pairs = ",".join(f"{m.version}:{m.checksum}" for m in load_migrations("tenant"))
    return hashlib.sha256(pairs.encode()).hexdigest()


def _applied(conn: psycopg.Connection, schemas: list[str]) -> dict[str, tuple[int, str]]:
    """schema → (version, digest of its applied migrations), if it has a schema_migrations."""
    present = conn.execute(
        """select n.nspname as schema_name from pg_namespace n
             join pg_class c on c.relnamespace = n.oid and c.relname = 'schema_migrations'
            where n.nspname = any(%s)""",
        [schemas],
    ).fetchall()
    parts = [
        sql.SQL(
            "select {} as schema_name, coalesce(max(version), 0) as version,"
            " encode(sha256(convert_to(coalesce(string_agg(version || ':' || checksum, ','"
            " order by version), ''), 'UTF8')), 'hex') as digest from {}.schema_migrations"
        ).format(sql.Literal(row["schema_name"]), sql.Identifier(row["schema_name"]))
        for row in present
    ]
    if not parts:
        return {}
    rows = conn.execute(sql.SQL(" union all ").join(parts)).fetchall()
    return {row["schema_name"]: (row["version"], row["digest"]) for row in rows}


def current_schemas(schemas: list[str], operation: str) -> set[str]:
    """Those of schemas with exactly the files on disk applied, recorded as current now."""
    digest = expected_digest()
    current: set[str] = set()
    # Chunks, so one transaction never holds a lock on thousands of tables.
    for start in range(0, len(schemas), CHECK_CHUNK):
        with transaction() as conn:
            applied = _applied(conn, schemas[start : start + CHECK_CHUNK])
            found = {s: version for s, (version, d) in applied.items() if d == digest}
            record_current(conn, found, operation)
        current |= set(found)
    return current


def plan(canaries: list[str], batch_size: int, operation: str) -> dict[str, Any]:
    """Check every schema; the pending ones as canaries (by slug) and batches of batch_size.

    The registry (public) migrates first, as `python -m shared.migrate` does: a file that fails
    fails the run before any restaurant is touched.
    """
    try:
        migrate_public()
    except MigrationError:
        record_migration_failed("public")  # once per attempt of the plan activity
        raise
    with transaction() as conn:
        rows = conn.execute(
            "select slug, schema_name from public.tenants where status = any(%s) order by slug",
            [list(MIGRATABLE)],
        ).fetchall()
    schemas = [row["schema_name"] for row in rows]
    current = current_schemas(schemas, operation)
    by_slug = {row["slug"]: row["schema_name"] for row in rows}
    # A slug named twice is one canary: two activities on one schema would count it twice.
    named = dict.fromkeys(canaries)
    first = [by_slug[s] for s in named if s in by_slug and by_slug[s] not in current]
    rest = [schema for schema in schemas if schema not in current and schema not in first]
    return {
        "total": len(schemas),
        "latest": latest_version("tenant"),
        "current": len(current),
        "canaries": first,
        "batches": [rest[i : i + batch_size] for i in range(0, len(rest), batch_size)],
    }


def _tenant(conn: psycopg.Connection, schema: str) -> dict[str, Any] | None:
    return conn.execute(
        "select id, slug, status from public.tenants where schema_name = %s", [schema]
    ).fetchone()


Outcome = dict[str, Any]


class AuditNotWritten(Exception):
    """The outcome is committed and recorded; only its audit row could not be written."""

    def __init__(self, outcome: Outcome, error: Exception) -> None:
        super().__init__(f"{outcome['schema']} is {outcome['status']}, but its audit row was "
                         f"not written: {error}")  # fmt: skip
        self.outcome = outcome


def migrate_one(schema: str, operation: str) -> Outcome:
    """Migrate one schema under its lock and record the outcome; failures are results.

    The audit row is written after the commit: a storage outage then raises AuditNotWritten
    (the activity is retried, and the retry writes it) without undoing the recorded outcome.
    """
    with transaction() as conn:
        outcome, detail = _migrate_locked(conn, schema, operation)
    if detail is not None:
        try:
            _audit(outcome, operation, detail)
        except Exception as error:
            raise AuditNotWritten(outcome, error) from error
    return outcome


def _migrate_locked(
    conn: psycopg.Connection, schema: str, operation: str
) -> tuple[Outcome, str | None]:
    """The outcome and what to audit (None: nothing)."""
    started = time.perf_counter()
    lock_schema(conn, schema)
    tenant = _tenant(conn, schema)
    # Under the lock, so a deletion that dropped the schema meanwhile is seen, and the runner
    # (which creates missing schemas) never brings a deleted one back.
    if tenant is None or tenant["status"] not in MIGRATABLE:
        return _skipped(schema, tenant), None
    if not schema_exists(conn, schema):
        missing = f"{schema}: the schema of this {tenant['status']} restaurant is missing"
        return _failed(conn, tenant, schema, operation, missing, started), missing
    try:
        with conn.transaction():  # a savepoint: a failure rolls back the schema, not the lock
            result = migrate_schema_in(conn, schema, "tenant")
    except (MigrationError, psycopg.Error) as error:
        if is_transient(error):
            raise
        return _failed(conn, tenant, schema, operation, str(error), started), str(error)
    # A redelivered activity, or a failed window redone one by one: when this run already
    # migrated the schema, it counts (and stays recorded) as migrated, not current.
    redone = not result.applied and _migrated_by(conn, schema, operation)
    status = "migrated" if result.applied or redone else "current"
    if not redone:
        elapsed = (time.perf_counter() - started) * 1000
        record_outcome(conn, schema=schema, version=result.version, status=status,
                       operation=operation, duration_ms=elapsed)  # fmt: skip
    outcome = {"schema": schema, "slug": tenant["slug"], "status": status,
               "version": result.version, "error": None}  # fmt: skip
    if status == "current":
        return outcome, None
    # Again when redone: the attempt that migrated may have failed at its audit write, after
    # its commit. A trail with the row twice beats one without it.
    applied = ", ".join(result.applied) or "applied by an earlier attempt of this run"
    return outcome, f"version {result.version}: {applied}"


def record_gave_up(schema: str, operation: str, error: str) -> Outcome:
    """A schema whose migration kept failing transiently (a lock never freed, a lost
    connection) until its retries ran out, recorded as failed like any other failure; one this
    run did migrate (only its audit write kept failing) stays migrated.

    Its retries are spent, so the audit row is tried once more and otherwise only logged.
    """
    started = time.perf_counter()
    with transaction() as conn:
        tenant = _tenant(conn, schema)
        if tenant is None or tenant["status"] not in MIGRATABLE:
            return _skipped(schema, tenant)
        recorded = migration_status_of(conn, schema)
        if recorded is not None and recorded["operation_id"] == operation:
            # This run got as far as recording an outcome (only its audit write kept failing):
            # keep it, and its reason, rather than the audit's error.
            outcome = {"schema": schema, "slug": tenant["slug"], "status": recorded["status"],
                       "version": recorded["version"], "error": recorded["error"]}  # fmt: skip
            detail = recorded["error"] or f"version {recorded['version']}: applied by this run"
        else:
            outcome = _failed(conn, tenant, schema, operation, error, started)
            detail = error
    with log_context(tenant=outcome["slug"], function="fleet_record_gave_up"):
        try:
            _audit(outcome, operation, detail)
        except Exception:
            log.exception("the audit row of %s (%s) was not written", schema, outcome["status"])
    return outcome


def _skipped(schema: str, tenant: dict[str, Any] | None) -> Outcome:
    return {"schema": schema, "slug": tenant["slug"] if tenant else None, "status": "skipped",
            "version": None, "error": None}  # fmt: skip


def _audit(outcome: Outcome, operation: str, detail: str) -> None:
    result = "failed" if outcome["status"] == "failed" else "ok"
    audit(outcome["slug"], operation=operation, step="migrate", outcome=result, detail=detail)


def _migrated_by(conn: psycopg.Connection, schema: str, operation: str) -> bool:
    row = migration_status_of(conn, schema)
    return row is not None and row["status"] == "migrated" and row["operation_id"] == operation


def _failed(
    conn: psycopg.Connection,
    tenant: dict[str, Any],
    schema: str,
    operation: str,
    error: str,
    started: float,
) -> Outcome:
    """Record schema as failed (the caller audits it after its commit)."""
    version = 0
    if conn.execute("select to_regclass(%s) as t", [f"{schema}.schema_migrations"]).fetchone()["t"]:
        version = conn.execute(
            sql.SQL("select coalesce(max(version), 0) as v from {}.schema_migrations").format(
                sql.Identifier(schema)
            )
        ).fetchone()["v"]
    # Counted once per run: a retry (its audit write had failed) finds it failed by this run.
    recorded = migration_status_of(conn, schema)
    counted = recorded is not None and (recorded["status"], recorded["operation_id"]) == (
        "failed",
        operation,
    )
    elapsed = (time.perf_counter() - started) * 1000
    record_outcome(
        conn,
        schema=schema,
        version=version,
        status="failed",
        operation=operation,
        duration_ms=elapsed,
        error=error,
    )
    if not counted:
        record_migration_failed(schema)
    return {"schema": schema, "slug": tenant["slug"], "status": "failed", "version": version,
            "error": error}  # fmt: skip
