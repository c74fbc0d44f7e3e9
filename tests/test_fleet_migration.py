"""Fleet-wide migration through the platform API on devhost: 50 tenants, one poisoned schema.

The tenants are created one migration behind the files on disk (as after deploying a new
migration), so every schema has exactly the newest file to apply. The poisoned schema refuses it:
a CHECK constraint on its schema_migrations rejects the newest version, so applying the file fails
inside its transaction exactly like a migration hitting bad data would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shared import migrate
from shared.db import transaction
from shared.provisioning import audit as audit_module
from shared.provisioning import fleet as fleet_steps
from shared.provisioning.audit import recent_audit
from shared.provisioning.requests import schema_for
from tests.conftest import execute
from tests.platform_helpers import PlatformHost, scalar
from tests.storage_fixtures import unreachable_table
from tests.tenant_fixtures import create_behind

pytestmark = pytest.mark.devhost

TENANTS = 50
POISON = "stelly_test_poison"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, migrated_public: None) -> Iterator[PlatformHost]:
    platform = PlatformHost(Path(tmp_path_factory.mktemp("fleet")))
    yield platform
    platform.stop()


def drop_tenant(slug: str) -> None:
    # One transaction per schema: dropping dozens of schemas at once runs out of lock slots.
    with transaction() as conn:
        conn.execute(
            sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema_for(slug)))
        )
        conn.execute("delete from tenants where slug = %s", [slug])


@pytest.fixture(scope="module")
def fleet(migrated_public: None) -> Iterator[list[str]]:
    """TENANTS active restaurants, each one migration behind; dropped again afterwards."""
    behind = migrate.load_migrations("tenant")[:-1]
    run = uuid.uuid4().hex[:6]
    slugs = [f"fleet-{run}-{i:02d}" for i in range(TENANTS)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda slug: create_behind(slug, behind), slugs))
    yield slugs
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(drop_tenant, slugs))


@pytest.fixture(name="behind")
def behind_fixture(migrated_public: None) -> Iterator[str]:
    """An active restaurant of its own, one migration behind; its slug (dropped afterwards)."""
    slug = f"fleet-one-{uuid.uuid4().hex[:6]}"
    create_behind(slug, migrate.load_migrations("tenant")[:-1])
    yield slug
    drop_tenant(slug)


def version_of(slug: str) -> int:
    return scalar(f"select max(version) from {schema_for(slug)}.schema_migrations", [])


def poison(slug: str, latest: int) -> None:
    with transaction() as conn:
        conn.execute(
            sql.SQL(
                "alter table {}.schema_migrations add constraint {} check (version < {})"
            ).format(sql.Identifier(schema_for(slug)), sql.Identifier(POISON), sql.Literal(latest))
        )


def repair(slug: str) -> None:
    with transaction() as conn:
        conn.execute(
            sql.SQL("alter table {}.schema_migrations drop constraint {}").format(
                sql.Identifier(schema_for(slug)), sql.Identifier(POISON)
            )
        )


def status_rows(slugs: list[str]) -> dict[str, dict]:
    with transaction() as conn:
        rows = conn.execute(
            """select schema_name, status, version, error, operation_id, duration_ms
                 from tenant_migration_status where schema_name = any(%s)""",
            [[schema_for(slug) for slug in slugs]],
        ).fetchall()
    return {row["schema_name"]: row for row in rows}


def start(host: PlatformHost, **body) -> dict:
    response = host.request("POST", "/v1/platform/migrations", json=body)
    assert response.status_code == 202, response.text
    return host.wait(response.json()["id"], timeout=60)


def test_fleet_migration_reports_the_poisoned_schema_and_a_rerun_finishes(
    host: PlatformHost, fleet: list[str]
) -> None:
    latest = migrate.latest_version("tenant")
    poisoned, canary = fleet[17], fleet[0]
    poison(poisoned, latest)

    # A failing canary stops the run before any other restaurant is touched.
    stopped = start(host, canaries=[poisoned])
    assert stopped["status"] == "failed" and "canary failed" in stopped["error"], stopped
    assert stopped["custom_status"]["phase"] == "stopped"
    assert version_of(canary) == latest - 1

    first = start(host, canaries=[canary], batch_size=10, max_parallel=4)
    assert first["status"] == "completed", first
    output = first["output"]
    # Other tests' restaurants are in the same database: they count, but only as skipped
    # (current) ones; what this test knows is its own fleet.
    ours = {schema_for(slug) for slug in fleet}
    reported = [f for f in output["failures"] if f["schema"] in ours]
    assert [f["schema"] for f in reported] == [schema_for(poisoned)]
    assert reported[0]["slug"] == poisoned and POISON in reported[0]["error"]
    assert output["done"] >= TENANTS - 1 and output["failed"] >= 1
    assert output["done"] + output["failed"] + output["skipped"] == output["total"]
    counts = ("done", "failed", "skipped", "total")
    assert {k: first["custom_status"][k] for k in counts} == {k: output[k] for k in counts}
    rows = status_rows(fleet)
    failed = rows.pop(schema_for(poisoned))
    assert failed["status"] == "failed" and failed["version"] == latest - 1
    assert POISON in failed["error"] and failed["operation_id"] == first["id"]
    assert {(r["status"], r["version"], r["operation_id"]) for r in rows.values()} == {
        ("migrated", latest, first["id"])
    }
    assert len(rows) == TENANTS - 1 and all(r["duration_ms"] > 0 for r in rows.values())
    assert version_of(poisoned) == latest - 1

    repair(poisoned)
    rerun = start(host, batch_size=25, max_parallel=8)
    assert rerun["status"] == "completed", rerun
    assert not [f for f in rerun["output"]["failures"] if f["schema"] in ours]
    assert {version_of(slug) for slug in fleet} == {latest}
    rows = status_rows(fleet)
    assert rows.pop(schema_for(poisoned))["status"] == "migrated"
    assert {(r["status"], r["operation_id"]) for r in rows.values()} == {("current", rerun["id"])}


def test_a_schema_migrated_earlier_in_the_same_run_still_counts_as_migrated(
    behind: str,
) -> None:
    # An activity is at-least-once, and a window whose task_all failed is redone one schema at a
    # time: either way migrate_one meets a schema this very run already migrated.
    slug = behind
    schema = schema_for(slug)
    first = fleet_steps.migrate_one(schema, "op-a")
    again = fleet_steps.migrate_one(schema, "op-a")
    assert (first["status"], again["status"]) == ("migrated", "migrated")
    assert again["version"] == migrate.latest_version("tenant")
    assert status_rows([slug])[schema]["status"] == "migrated"
    assert fleet_steps.migrate_one(schema, "op-b")["status"] == "current"
    assert status_rows([slug])[schema]["operation_id"] == "op-b"


def test_a_schema_whose_retries_run_out_is_reported_failed_with_its_restaurant(
    host: PlatformHost, behind: str
) -> None:
    # A long transaction holds the tables the newest file alters for the whole run: every
    # attempt gives up on the lock (a transient failure, retried) until the retries run out. The
    # run then reports it like any failure: named by slug, recorded where GET /tenants shows it.
    # A neighbour pending in the same window of two is migrated all the same.
    slug, neighbour = behind, f"fleet-two-{uuid.uuid4().hex[:6]}"
    create_behind(neighbour, migrate.load_migrations("tenant")[:-1])
    latest, schema = migrate.latest_version("tenant"), schema_for(slug)
    try:
        with psycopg.connect(os.environ["DATABASE_URL"]) as long_transaction:
            # Whatever table the newest file touches, it waits (schema_migrations stays free).
            tables = long_transaction.execute(
                """select tablename from pg_tables
                    where schemaname = %s and tablename <> 'schema_migrations'""",
                [schema],
            ).fetchall()
            names = [sql.Identifier(schema, name) for (name,) in tables]
            lock = sql.SQL("lock table {} in access exclusive mode").format(
                sql.SQL(", ").join(names)
            )
            long_transaction.execute(lock)
            run = start(host, batch_size=10, max_parallel=2)
        assert run["status"] == "completed", run
        [ours] = [f for f in run["output"]["failures"] if f["schema"] == schema]
        assert ours["slug"] == slug
        assert "waited 2 s for a lock" in ours["error"] and "Traceback" not in ours["error"]
        assert version_of(slug) == latest - 1
        assert version_of(neighbour) == latest
        migration = host.request("GET", f"/v1/platform/tenants/{slug}").json()["migration"]
        assert (migration["status"], migration["version"]) == ("failed", latest - 1)
        assert "waited 2 s for a lock" in migration["error"]
    finally:
        drop_tenant(neighbour)


def test_a_canary_named_twice_is_migrated_and_counted_once(host: PlatformHost, behind: str) -> None:
    slug = behind
    run = start(host, canaries=[slug, slug])
    assert run["status"] == "completed", run
    assert version_of(slug) == migrate.latest_version("tenant")
    out = run["output"]
    assert out["done"] + out["skipped"] + out["failed"] == out["total"], out


def test_a_migration_whose_audit_write_failed_is_audited_when_the_activity_is_retried(
    behind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The schema commits, then the audit table is unreachable: the activity raises and is
    # retried, finds the schema migrated by this run, and writes the row the trail lacks.
    slug = behind
    schema, operation = schema_for(slug), f"op-{uuid.uuid4().hex[:8]}"
    with monkeypatch.context() as patch:
        patch.setattr(audit_module, "table", unreachable_table)
        with pytest.raises(fleet_steps.AuditNotWritten):
            fleet_steps.migrate_one(schema, operation)
    assert fleet_steps.migrate_one(schema, operation)["status"] == "migrated"
    trail = [(r["operation"], r["step"], r["outcome"]) for r in recent_audit(slug)]
    assert (operation, "migrate", "ok") in trail, trail


def test_a_failure_stays_recorded_when_its_audit_write_fails(
    behind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = behind
    poison(slug, migrate.latest_version("tenant"))
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    # The activity is retried; the outcome is kept.
    with pytest.raises(fleet_steps.AuditNotWritten):
        fleet_steps.migrate_one(schema_for(slug), "op-audit-down")
    row = status_rows([slug])[schema_for(slug)]
    assert (row["status"], row["operation_id"]) == ("failed", "op-audit-down")


def test_a_schema_migrated_by_the_run_stays_migrated_when_only_its_audit_kept_failing(
    behind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Table Storage is down through every attempt: the first migrates and commits, each then
    # fails at its audit write; once the retries are spent, fleet_record_gave_up must not
    # report a schema at the newest version as a failed migration.
    slug = behind
    schema, operation = schema_for(slug), f"op-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    for _ in range(2):
        with pytest.raises(fleet_steps.AuditNotWritten):
            fleet_steps.migrate_one(schema, operation)
    outcome = fleet_steps.record_gave_up(schema, operation, "AuditNotWritten: refused")
    assert outcome["status"] == "migrated", outcome
    row = status_rows([slug])[schema]
    assert (row["status"], row["version"]) == ("migrated", migrate.latest_version("tenant"))


def test_a_failed_migration_whose_audit_kept_failing_keeps_its_reason(
    behind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Table Storage down through every retry of a failing migration: the run's failures and
    # GET /tenants/{slug} keep why the migration failed, not the audit's error.
    slug = behind
    schema, operation = schema_for(slug), f"op-{uuid.uuid4().hex[:8]}"
    poison(slug, migrate.latest_version("tenant"))
    monkeypatch.setattr(audit_module, "table", unreachable_table)
    for _ in range(2):  # the activity and a retry: each fails, then cannot audit it
        with pytest.raises(fleet_steps.AuditNotWritten) as raised:
            fleet_steps.migrate_one(schema, operation)
    # What the orchestration passes on once the retries are spent (activity_error).
    outcome = fleet_steps.record_gave_up(schema, operation, f"AuditNotWritten: {raised.value}")
    assert outcome["status"] == "failed" and POISON in outcome["error"], outcome
    assert POISON in status_rows([slug])[schema]["error"]


def test_a_current_restaurant_named_as_a_canary_is_not_planned_again(tenants) -> None:
    """A canary that is already current is not planned again (nor counted twice)."""
    tenant = tenants.create()
    planned = fleet_steps.plan([tenant.slug], 100, "fleet-op")
    assert planned["canaries"] == []
    assert tenant.schema_name not in [schema for batch in planned["batches"] for schema in batch]


def test_every_schema_of_a_chunk_is_checked(tenants, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every schema of each chunk is checked for being current, the last one too."""
    monkeypatch.setattr(fleet_steps, "CHECK_CHUNK", 2)
    schemas = [tenants.create().schema_name for _ in range(3)]
    assert fleet_steps.current_schemas(schemas, "fleet-op") == set(schemas)


def test_a_migration_that_waits_out_a_lock_is_retried_not_recorded_failed(tenants) -> None:
    """A schema locked for a moment fails the attempt as transient, so the activity retries;
    nothing is recorded failed, and the next attempt migrates it."""
    schema = tenants.create_behind(migrate.load_migrations("tenant")[:-1])
    with psycopg.connect(os.environ["DATABASE_URL"]) as long_transaction:
        tables = long_transaction.execute(
            """select tablename from pg_tables
                where schemaname = %s and tablename <> 'schema_migrations'""",
            [schema],
        ).fetchall()
        names = sql.SQL(", ").join(sql.Identifier(schema, name) for (name,) in tables)
        long_transaction.execute(sql.SQL("lock table {} in access exclusive mode").format(names))
        with pytest.raises((migrate.MigrationError, psycopg.OperationalError)):
            fleet_steps.migrate_one(schema, "fleet-op")
    recorded = execute(
        "select status from tenant_migration_status where schema_name = %s", [schema]
    )
    assert recorded == []
    assert fleet_steps.migrate_one(schema, "fleet-op")["status"] == "migrated"
