"""Tenant schemas as whole objects: the per-schema lock, creating and dropping them."""

from __future__ import annotations

import psycopg
from psycopg import sql

from shared.db import SESSION_TIMEOUTS, check_schema_name, transaction


def lock_schema(conn: psycopg.Connection, schema: str) -> None:
    """Take the schema's transaction-scoped advisory lock.

    The key must equal the one shared.migrate takes, so creating, migrating and dropping one
    schema never interleave. Advisory locks are re-entrant within a session, so migrating under
    this lock (which locks again) does not deadlock.
    """
    # It waits however long the other runner takes (an index build may take minutes): the
    # pool's lock and statement timeouts are for requests, and apply again once it holds it.
    conn.execute(
        "select set_config('lock_timeout', '0', true), set_config('statement_timeout', '0', true)"
    )
    conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('stelly.migrate.' || %s, 0))", [schema]
    )
    conn.execute(
        "select set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
        [SESSION_TIMEOUTS["lock_timeout"], SESSION_TIMEOUTS["statement_timeout"]],
    )


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    """True when the schema is there (whatever it holds)."""
    row = conn.execute("select 1 from pg_namespace where nspname = %s", [schema]).fetchone()
    return row is not None


def create_schema(schema: str) -> bool:
    """Create the tenant schema if missing; True when it was created now."""
    check_schema_name(schema)
    with transaction() as conn:
        lock_schema(conn, schema)
        if schema_exists(conn, schema):
            return False
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        return True


def drop_schema(schema: str) -> bool:
    """Drop the tenant schema and its migration status; True when there was one to drop."""
    check_schema_name(schema)
    with transaction() as conn:
        lock_schema(conn, schema)
        existed = schema_exists(conn, schema)
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute("delete from public.tenant_migration_status where schema_name = %s", [schema])
        return existed
