"""`public.tenant_migration_status`: the last migration outcome of every tenant schema."""

from __future__ import annotations

from typing import Any, Literal

import psycopg

MigrationOutcome = Literal["current", "migrated", "failed"]

_UPSERT = """
insert into public.tenant_migration_status as s
       (schema_name, tenant_id, version, status, error, duration_ms, operation_id, updated_at)
select %(schema)s, t.id, %(version)s, %(status)s, %(error)s, %(duration_ms)s, %(operation)s, now()
  from public.tenants t where t.schema_name = %(schema)s
on conflict (schema_name) do update
   set tenant_id = excluded.tenant_id, version = excluded.version, status = excluded.status,
       error = excluded.error, duration_ms = excluded.duration_ms,
       operation_id = excluded.operation_id, updated_at = now()
"""

_UPSERT_CURRENT = """
insert into public.tenant_migration_status as s
       (schema_name, tenant_id, version, status, error, duration_ms, operation_id, updated_at)
select u.schema_name, t.id, u.version, 'current', null, 0, %(operation)s, now()
  from unnest(%(schemas)s::text[], %(versions)s::int[]) as u (schema_name, version)
  join public.tenants t on t.schema_name = u.schema_name
on conflict (schema_name) do update
   set version = excluded.version, status = 'current', error = null, duration_ms = 0,
       operation_id = excluded.operation_id, updated_at = now()
"""


def record_outcome(
    conn: psycopg.Connection,
    *,
    schema: str,
    version: int,
    status: MigrationOutcome,
    operation: str,
    duration_ms: float = 0.0,
    error: str | None = None,
) -> None:
    """Upsert one schema's row (no row when the schema belongs to no tenant)."""
    conn.execute(
        _UPSERT,
        {
            "schema": schema,
            "version": version,
            "status": status,
            "error": error,
            "duration_ms": round(duration_ms, 2),
            "operation": operation,
        },
    )


def record_current(conn: psycopg.Connection, versions: dict[str, int], operation: str) -> None:
    """Mark many schemas current in one statement (a fleet run's fast path)."""
    if versions:
        conn.execute(
            _UPSERT_CURRENT,
            {
                "schemas": list(versions),
                "versions": list(versions.values()),
                "operation": operation,
            },
        )


def migration_status_of(conn: psycopg.Connection, schema: str) -> dict[str, Any] | None:
    """The schema's row (version, status, error, ...), or None if never migrated by a run."""
    return conn.execute(
        """select version, status, error, duration_ms, operation_id, updated_at
             from public.tenant_migration_status where schema_name = %s""",
        [schema],
    ).fetchone()
