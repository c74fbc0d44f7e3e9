"""The migration CLI (`python -m shared.migrate`, `python -m devhost migrate`, `make dev`): every
restaurant through the fleet run's own step, one tenant's failure never the end of the run."""

from __future__ import annotations

import io
import os
import re
import threading
import time

import psycopg
import pytest
from psycopg import sql

from shared import migrate
from shared.db import transaction
from shared.provisioning import audit as audit_module
from shared.provisioning.audit import recent_audit
from shared.provisioning.migration_status import migration_status_of, record_outcome
from shared.provisioning.schemas import lock_schema
from tests.conftest import execute
from tests.storage_fixtures import unreachable_table


def test_cli_migrates_public_and_active_tenants_with_progress(tenants, migrated_public) -> None:
    active = tenants.create(status="active")
    # Suspended tenants too, as the fleet run does: the publishing timer still reads their outbox.
    suspended = tenants.create(status="suspended")
    pending = tenants.create(status="provisioning")
    out = io.StringIO()
    failures = migrate.migrate_all(out)
    text = out.getvalue()
    assert failures == 0
    assert "public] version" in text
    assert f"{active.schema_name}] version" in text
    assert f"{suspended.schema_name}] version" in text
    assert pending.schema_name not in text
    assert text.splitlines()[0].startswith("[1/")


def _wait_for_a_waiter(schema: str, timeout_s: float = 20) -> None:
    """Until someone waits for schema's advisory lock (its 64-bit key split over two columns)."""
    deadline = time.monotonic() + timeout_s
    while not execute(
        """select 1 from pg_locks where locktype = 'advisory' and not granted
              and ((classid::bigint << 32) | objid::bigint)
                  = hashtextextended('stelly.migrate.' || %s, 0)""",
        [schema],
    ):
        assert time.monotonic() < deadline, f"nobody queued for {schema}'s lock"
        time.sleep(0.02)


def test_cli_never_brings_back_the_schema_of_a_restaurant_deleted_meanwhile(tenants) -> None:
    # The CLI lists the restaurants once, then queues for each schema's lock; a deletion that
    # held it dropped the schema meanwhile.
    tenant = tenants.create()
    out, schema = io.StringIO(), tenant.schema_name
    with psycopg.connect(os.environ["DATABASE_URL"]) as deletion:
        lock_schema(deletion, schema)
        runner = threading.Thread(target=migrate.migrate_all, args=(out,))
        runner.start()
        _wait_for_a_waiter(schema)
        deletion.execute("update tenants set status = 'deleting' where slug = %s", [tenant.slug])
        deletion.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))
        deletion.commit()
    runner.join(60)
    assert execute("select 1 from pg_namespace where nspname = %s", [schema]) == []
    assert f"{schema}] skipped" in out.getvalue()
    # The closing line counts it as skipped, not as current.
    summary = out.getvalue().splitlines()[-1]
    found = re.fullmatch(r"(\d+)/(\d+) schemas current, (\d+) skipped, (\d+) failed", summary)
    assert found, summary
    current, total, skipped, failed = map(int, found.groups())
    assert skipped >= 1 and current == total - skipped - failed, summary


def test_cli_reports_an_active_restaurant_whose_schema_is_missing(tenants) -> None:
    tenant = tenants.create()
    execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(tenant.schema_name)))
    out = io.StringIO()
    assert migrate.migrate_all(out) == 1
    # Not re-created empty (no menu, no orders) and reported as current.
    assert execute("select 1 from pg_namespace where nspname = %s", [tenant.schema_name]) == []
    assert f"{tenant.schema_name}] FAILED: " in out.getvalue()
    assert "schema of this active restaurant is missing" in out.getvalue()


def test_cli_carries_on_past_a_schema_whose_migration_record_fails(tenants) -> None:
    behind = migrate.load_migrations("tenant")[:-1]
    poisoned, healthy = tenants.create_behind(behind), tenants.create_behind(behind)
    # Applying the newest file works, recording it does not (a CHECK on schema_migrations).
    poison = sql.SQL("alter table {}.schema_migrations add constraint poison check (version < {})")
    latest = migrate.latest_version("tenant")
    execute(poison.format(sql.Identifier(poisoned), sql.Literal(latest)))
    out = io.StringIO()
    assert migrate.migrate_all(out) >= 1, out.getvalue()
    assert f"{poisoned}] FAILED: " in out.getvalue()
    assert f"{healthy}] version {latest}: migrated" in out.getvalue()


def migration_status(schema: str) -> dict:
    with transaction() as conn:
        return migration_status_of(conn, schema)


def test_cli_carries_on_when_the_audit_table_is_out_of_reach(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Postgres migrates; only the audit trail (Table Storage) fails: each restaurant is reported
    # as migrated without its audit row, and the run goes on (no traceback after the first).
    behind = migrate.load_migrations("tenant")[:-1]
    first, second = tenants.create_behind(behind), tenants.create_behind(behind)
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    out = io.StringIO()
    migrate.migrate_all(out)
    for schema in (first, second):
        assert f"{schema}] {schema} is migrated, but its audit row was not written" in (
            out.getvalue()
        )
        assert migration_status(schema)["status"] == "migrated"


def test_cli_counts_a_failed_migration_whose_audit_row_was_not_written_as_failed(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure is a failure, whether or not its audit row could be written.
    behind = migrate.load_migrations("tenant")[:-1]
    poisoned = tenants.create_behind(behind)
    latest = migrate.latest_version("tenant")
    poison = sql.SQL("alter table {}.schema_migrations add constraint poison check (version < {})")
    execute(poison.format(sql.Identifier(poisoned), sql.Literal(latest)))
    monkeypatch.setattr(audit_module, "table", unreachable_table)  # Table Storage out of reach

    out = io.StringIO()
    failures = migrate.migrate_all(out)

    with transaction() as conn:
        assert migration_status_of(conn, poisoned)["status"] == "failed"
    assert failures >= 1, out.getvalue()
    assert f"{poisoned}] FAILED: " in out.getvalue(), out.getvalue()


def test_cli_records_a_restaurant_whose_migration_gave_up_on_a_table_lock(
    tenants, client, auth_header
) -> None:
    # A lock timeout is a failure like any other: recorded where the platform API shows it,
    # and audited.
    behind = migrate.load_migrations("tenant")[:-1]
    schema = tenants.create_behind(behind)  # the newest file is pending
    slug = schema.removeprefix("tenant_")
    newest = migrate.load_migrations("tenant")[-1].filename
    with transaction() as conn:  # what the last fleet run, before the new file, recorded
        record_outcome(conn, schema=schema, version=behind[-1].version, status="current",
                       operation="migration-earlier")  # fmt: skip
    out = io.StringIO()
    # A long transaction holds the tables the pending file needs (a report, a stuck session):
    # every table of the schema, whichever the newest file alters.
    with transaction() as long_query:
        names = long_query.execute(
            "select tablename from pg_tables where schemaname = %s", [schema]
        ).fetchall()
        tables = sql.SQL(", ").join(sql.Identifier(schema, row["tablename"]) for row in names)
        long_query.execute(sql.SQL("lock table {} in exclusive mode").format(tables))
        failures = migrate.migrate_all(out)
    assert failures >= 1
    assert f"{schema}] FAILED: " in out.getvalue() and newest in out.getvalue()
    # What the operator then reads on the platform API.
    detail = client.get(
        f"/api/v1/platform/tenants/{slug}",
        host="stelly.test",
        headers=auth_header("platform_admin"),
    )
    assert detail.status_code == 200, detail.text
    migration = detail.json()["migration"]
    assert migration["status"] == "failed", migration
    assert newest in (migration["error"] or ""), migration
    with transaction() as conn:
        assert migration_status_of(conn, schema)["status"] == "failed"
    assert any(
        row["step"] == "migrate" and row["outcome"] == "failed" for row in recent_audit(slug)
    )
