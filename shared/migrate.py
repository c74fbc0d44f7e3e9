"""Apply the SQL files in shared/migrations/<kind>/NNNN_name.sql to one schema, or to all of them.

Each schema migrates in its own transaction under a transaction-scoped advisory lock keyed by the
schema, so a second runner waits for the first and then finds nothing to do, and a failure rolls
the whole schema back (never half-applied DDL). `python -m shared.migrate` migrates `public` and
every active tenant, printing `[i/N schema] ...` and carrying on past one tenant's failure.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from shared.config import SettingsError
from shared.db import check_schema_name, transaction
from shared.log_redaction import error_text
from shared.telemetry import record_migration_failed

log = logging.getLogger("stelly.migrate")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# How long one statement of a migration waits for a table lock. An ALTER waiting behind a long
# query makes every later query on that table queue behind the ALTER, so a restaurant's orders
# would stall for as long as that query runs; giving up rolls the schema back (nothing applied)
# with a transient error, which the fleet run retries and the CLI reports.
LOCK_TIMEOUT_MS = 2000
Kind = Literal["public", "tenant"]


class MigrationError(RuntimeError):
    """A migration cannot be applied; the message names the schema and the file."""


@dataclass(frozen=True)
class Migration:
    version: int
    filename: str
    sql_text: str
    checksum: str


@dataclass
class MigrationResult:
    schema: str
    version: int
    applied: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


@functools.cache
def load_migrations(kind: Kind) -> tuple[Migration, ...]:
    """The migration files of kind, in version order; misnamed or duplicate versions are errors."""
    migrations = []
    for path in sorted((MIGRATIONS_DIR / kind).glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{kind}/{path.name}: migration files are named NNNN_name.sql")
        text = path.read_text(encoding="utf-8")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        migrations.append(Migration(int(match.group(1)), path.name, text, checksum))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{kind}: two migration files share a version number")
    return tuple(migrations)


def latest_version(kind: Kind) -> int:
    migrations = load_migrations(kind)
    return migrations[-1].version if migrations else 0


def _lock_and_enter(conn: psycopg.Connection, schema: str) -> None:
    # hashtextextended gives a bigint key per schema; the lock ends with the transaction.
    conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('stelly.migrate.' || %s, 0))", [schema]
    )
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    quoted = sql.Identifier(schema).as_string(conn)
    conn.execute("select set_config('search_path', %s, true)", [quoted])
    conn.execute(
        """create table if not exists schema_migrations (
               version integer primary key,
               filename text not null,
               checksum text not null,
               applied_at timestamptz not null default now())"""
    )


def _pending(conn: psycopg.Connection, schema: str, kind: Kind) -> list[Migration]:
    rows = conn.execute("select version, filename, checksum from schema_migrations").fetchall()
    applied = {row["version"]: (row["filename"], row["checksum"]) for row in rows}
    migrations = load_migrations(kind)
    _check_history(schema, kind, applied, migrations)
    pending = []
    for migration in migrations:
        if migration.version not in applied:
            pending.append(migration)
        elif applied[migration.version][1] != migration.checksum:
            raise MigrationError(
                f"{schema}: {kind}/{migration.filename} changed after it was applied "
                "(checksum differs); add a new migration file instead of editing an applied one"
            )
    return pending


def _check_history(
    schema: str, kind: Kind, applied: dict[int, tuple[str, str]], migrations: tuple[Migration, ...]
) -> None:
    """Refuse files and history that would make this schema differ from a new one.

    A file numbered below what the schema already has (a branch merged late) would run after
    newer files here but before them in every new schema; an applied file gone from disk leaves
    its objects here and nowhere new. Applied versions above the newest file are left alone: the
    code was rolled back, and the schema stays ahead of it.
    """
    newest_applied = max(applied, default=0)
    on_disk = {m.version for m in migrations}
    late = [
        m.filename for m in migrations if m.version not in applied and m.version < newest_applied
    ]
    if late:
        raise MigrationError(
            f"{schema}: {kind}/{', '.join(late)} is numbered below the applied version "
            f"{newest_applied}; renumber it after the newest file"
        )
    newest_file = max(on_disk, default=0)
    gone = [applied[v][0] for v in sorted(applied) if v not in on_disk and v <= newest_file]
    if gone:
        raise MigrationError(
            f"{schema}: {kind}/{', '.join(gone)} was applied but is no longer on disk; "
            "restore it (undo its changes with a new migration file instead)"
        )


def migrate_schema_in(conn: psycopg.Connection, schema: str, kind: Kind) -> MigrationResult:
    """Migrate schema on conn, which must be inside a transaction the caller commits."""
    started = time.perf_counter()
    # A migration may run long (an index on a big table), and a second runner waits for the
    # first however long it takes: neither the pool's statement nor its lock timeout applies.
    conn.execute(
        "select set_config('statement_timeout', '0', true), set_config('lock_timeout', '0', true)"
    )
    _lock_and_enter(conn, schema)
    # Set after the runner's advisory lock: only the tables' locks are waited for briefly.
    conn.execute("select set_config('lock_timeout', %s, true)", [f"{LOCK_TIMEOUT_MS}ms"])
    result = MigrationResult(schema, 0)
    for migration in _pending(conn, schema, kind):
        try:
            conn.execute(migration.sql_text, prepare=False)
        except psycopg.errors.LockNotAvailable as error:
            raise MigrationError(
                f"{schema}: {kind}/{migration.filename} waited {LOCK_TIMEOUT_MS / 1000:g} s for "
                "a lock on its tables (a long query or transaction holds one); nothing was "
                "applied, run it again"
            ) from error
        except psycopg.Error as error:
            # Told by type, SQLSTATE and primary message: this text is logged and kept in the
            # fleet's migration status, and Postgres's own quotes the rows it refused.
            raise MigrationError(
                f"{schema}: {kind}/{migration.filename} failed: {error_text(error)}"
            ) from error
        conn.execute(
            "insert into schema_migrations (version, filename, checksum) values (%s, %s, %s)",
            [migration.version, migration.filename, migration.checksum],
        )
        result.applied.append(migration.filename)
    row = conn.execute("select coalesce(max(version), 0) as v from schema_migrations").fetchone()
    result.version = row["v"]
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def migrate_public() -> MigrationResult:
    with transaction() as conn:
        return migrate_schema_in(conn, "public", "public")


def apply_public_migrations(pool: ConnectionPool) -> None:
    """Bring the registry up to date on a pool the process just opened (shared.db.on_pool_open).

    A deployment's new code thus finds the registry it expects (public migrations must suit the
    code still running elsewhere: add, never rename or drop in the same release). A file that
    fails is logged and the app serves with the registry it has; the next process, `POST
    /api/v1/platform/migrations` or `python -m shared.migrate` tries again. A database that is
    unreachable raises, and shared.db tries again a few seconds later.
    """
    try:
        # A short wait: callers queue behind this while the pool opens (shared.db).
        with pool.connection(timeout=5.0) as conn, conn.transaction():
            result = migrate_schema_in(conn, "public", "public")
    except MigrationError as error:
        record_migration_failed("public")
        log.error("registry migration failed, serving with the registry as it is: %s", error)
        return
    if result.applied:
        log.info("registry migrated to version %s: %s", result.version, ", ".join(result.applied))


def has_migration(conn: psycopg.Connection, version: int) -> bool:
    """Whether the schema on conn's search path has applied migration version.

    Code is deployed before the fleet run migrates every restaurant, so a write that needs a
    new column asks first: until the run gets there, it answers 409 rather than failing.
    """
    row = conn.execute(
        "select exists (select from schema_migrations where version = %s)", [version]
    ).fetchone()
    return bool(row["exists"])


def migrate_tenant(schema: str) -> MigrationResult:
    check_schema_name(schema)
    with transaction() as conn:
        return migrate_schema_in(conn, schema, "tenant")


# Tenants whose schemas migrations keep current: a suspended one is still read (its outbox by
# the publishing timer), and comes back as it was. One still provisioning migrates itself.
MIGRATABLE = ("active", "suspended")


def migratable_tenant_schemas() -> list[str]:
    with transaction() as conn:
        rows = conn.execute(
            "select schema_name from tenants where status = any(%s) order by slug",
            [list(MIGRATABLE)],
        ).fetchall()
    return [row["schema_name"] for row in rows]


def migrate_all(out=sys.stdout) -> int:
    """Migrate public then every active or suspended tenant; return how many schemas failed.

    Restaurants' schemas are left alone when the registry (public) fails: the app reads both.
    Each restaurant goes through the fleet run's own step, which checks under the schema's lock
    that the restaurant is still there (a deletion meanwhile is skipped, never re-created) and
    that its schema exists, and records the outcome where the platform API shows it.
    """
    # Imported here: the fleet module builds on this one.
    from shared.provisioning.fleet import AuditNotWritten, migrate_one, record_gave_up

    try:
        migrate_public()
    except MigrationError as error:
        print(f"[public] FAILED: {error}; no restaurant was migrated", file=out)
        return 1
    schemas = migratable_tenant_schemas()
    total = len(schemas) + 1
    print(f"[1/{total} public] version {latest_version('public')}", file=out)
    operation = f"cli-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    failures = skipped = 0
    for i, schema in enumerate(schemas, start=2):
        try:
            outcome = migrate_one(schema, operation)
        except AuditNotWritten as error:  # recorded all the same; say what is missing
            print(f"[{i}/{total} {schema}] {error}", file=out)
            outcome = error.outcome
        except Exception as error:  # a lost connection, a lock held past the timeout, ...
            # The fleet run retries these; here the operator runs it again. Recorded (and
            # audited) as the fleet records one whose retries ran out, if the database lets us.
            outcome = _gave_up(record_gave_up, schema, operation, error)
        if outcome["status"] == "failed":
            failures += 1
            print(f"[{i}/{total} {schema}] FAILED: {outcome['error']}", file=out)
        elif outcome["status"] == "skipped":
            skipped += 1
            print(f"[{i}/{total} {schema}] skipped: no longer active or suspended", file=out)
        else:
            print(f"[{i}/{total} {schema}] version {outcome['version']}: {outcome['status']}",
                  file=out)  # fmt: skip
    current = total - failures - skipped
    print(f"{current}/{total} schemas current, {skipped} skipped, {failures} failed", file=out)
    return failures


def _gave_up(record_gave_up, schema: str, operation: str, error: Exception) -> dict:
    """The failed outcome of a schema whose migration raised, recorded where possible."""
    reason = f"{type(error).__name__}: {error}"
    try:
        return record_gave_up(schema, operation, reason)
    except Exception:  # the database is gone too: the line printed is all there is
        record_migration_failed(schema)
        return {"status": "failed", "error": reason}


def main() -> int:
    try:
        return 1 if migrate_all() else 0
    except SettingsError as error:
        # The pool reads the app's settings; `python -m devhost migrate` applies the local ones.
        print(f"{error}\n(locally, `python -m devhost migrate` uses local.settings.json)",
              file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    sys.exit(main())
