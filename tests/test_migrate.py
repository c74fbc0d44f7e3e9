"""Migrations: order, idempotence, checksum drift, concurrent runners, the CLI's progress."""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from shared import migrate
from shared.config import get_settings
from shared.db import close_pool, transaction
from shared.provisioning import fleet
from tests.conftest import execute

REAL_MIGRATIONS = migrate.MIGRATIONS_DIR


@pytest.fixture
def migrations_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_public: None):
    """A private migrations folder; the runner reads it instead of shared/migrations."""
    (tmp_path / "tenant").mkdir()
    (tmp_path / "public").mkdir()
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path)
    migrate.load_migrations.cache_clear()
    yield tmp_path / "tenant"
    migrate.load_migrations.cache_clear()


@pytest.fixture
def schema() -> str:
    name = f"tenant_mig_{uuid.uuid4().hex[:10]}"
    yield name
    with transaction() as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(name)))


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)
    migrate.load_migrations.cache_clear()


def test_pending_files_apply_in_version_order(migrations_dir: Path, schema: str) -> None:
    write(migrations_dir, "0002_add_price.sql", "alter table dishes add column price int;")
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    result = migrate.migrate_tenant(schema)
    assert result.applied == ["0001_dishes.sql", "0002_add_price.sql"]
    assert result.version == 2
    columns = execute(
        "select column_name from information_schema.columns where table_schema = %s "
        "and table_name = 'dishes' order by ordinal_position",
        [schema],
    )
    assert [c["column_name"] for c in columns] == ["id", "price"]


def test_second_run_applies_nothing_and_new_files_apply_later(
    migrations_dir: Path, schema: str
) -> None:
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    assert migrate.migrate_tenant(schema).applied == ["0001_dishes.sql"]
    assert migrate.migrate_tenant(schema).applied == []
    write(migrations_dir, "0002_more.sql", "create table sides (id int);")
    again = migrate.migrate_tenant(schema)
    assert again.applied == ["0002_more.sql"] and again.version == 2


def test_changed_applied_file_is_an_error_naming_it(migrations_dir: Path, schema: str) -> None:
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    migrate.migrate_tenant(schema)
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id bigint primary key);")
    with pytest.raises(migrate.MigrationError, match=r"0001_dishes\.sql changed"):
        migrate.migrate_tenant(schema)


def test_failing_file_rolls_back_the_whole_schema(migrations_dir: Path, schema: str) -> None:
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    write(migrations_dir, "0002_broken.sql", "alter table no_such_table add column x int;")
    with pytest.raises(migrate.MigrationError, match=r"0002_broken\.sql failed"):
        migrate.migrate_tenant(schema)
    # Nothing half-applied: not even 0001 nor the schema survived the rollback.
    assert execute("select 1 from pg_namespace where nspname = %s", [schema]) == []


def test_a_file_numbered_below_the_applied_version_is_refused(
    migrations_dir: Path, schema: str
) -> None:
    # A branch merged after 0003 was deployed: old schemas would get 0003 then 0002, new ones
    # 0002 then 0003.
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    write(migrations_dir, "0003_price.sql", "alter table dishes add column price int;")
    assert migrate.migrate_tenant(schema).version == 3
    write(migrations_dir, "0002_name.sql", "alter table dishes add column name text;")
    with pytest.raises(migrate.MigrationError, match=r"0002_name\.sql is numbered below"):
        migrate.migrate_tenant(schema)


def test_an_applied_file_missing_from_disk_is_refused(migrations_dir: Path, schema: str) -> None:
    # Existing schemas would keep its table while every new restaurant is built without it.
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    write(migrations_dir, "0002_sides.sql", "create table sides (id int primary key);")
    write(migrations_dir, "0003_price.sql", "alter table dishes add column price int;")
    assert migrate.migrate_tenant(schema).version == 3
    (migrations_dir / "0002_sides.sql").unlink()
    migrate.load_migrations.cache_clear()
    with pytest.raises(migrate.MigrationError, match=r"0002_sides\.sql was applied but"):
        migrate.migrate_tenant(schema)


def test_applied_files_newer_than_the_code_are_left_alone(
    migrations_dir: Path, schema: str
) -> None:
    # The code was rolled back after a deployment migrated: the schema stays ahead of it.
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    write(migrations_dir, "0002_price.sql", "alter table dishes add column price int;")
    assert migrate.migrate_tenant(schema).version == 2
    (migrations_dir / "0002_price.sql").unlink()
    migrate.load_migrations.cache_clear()
    assert migrate.migrate_tenant(schema).applied == []


def test_misnamed_file_is_refused(migrations_dir: Path, schema: str) -> None:
    write(migrations_dir, "1_oops.sql", "select 1;")
    with pytest.raises(migrate.MigrationError, match=r"NNNN_name\.sql"):
        migrate.migrate_tenant(schema)


def test_racing_runner_waits_then_finds_nothing_to_do(migrations_dir: Path, schema: str) -> None:
    write(
        migrations_dir,
        "0001_slow.sql",
        "create table dishes (id int); select pg_sleep(0.6);",
    )
    results: list[migrate.MigrationResult] = []
    finished_at: list[float] = []

    def run() -> None:
        results.append(migrate.migrate_tenant(schema))
        finished_at.append(time.monotonic())

    first = threading.Thread(target=run)
    first.start()
    time.sleep(0.2)  # let the first runner take the lock
    second = threading.Thread(target=run)
    second.start()
    first.join()
    second.join()
    applied = sorted(len(r.applied) for r in results)
    assert applied == [0, 1]
    assert all(r.version == 1 for r in results)


def test_cli_reports_a_failing_public_migration_and_touches_no_restaurant(
    migrations_dir: Path,
) -> None:
    # The registry's files here do not match what public has applied: a MigrationError.
    (migrations_dir.parent / "public" / "0001_tenants.sql").write_text("select 1;")
    migrate.load_migrations.cache_clear()
    out = io.StringIO()
    assert migrate.migrate_all(out) == 1
    assert out.getvalue().startswith("[public] FAILED: ")
    assert "no restaurant was migrated" in out.getvalue()


def test_real_migrations_bring_a_tenant_to_the_latest_version(tenants) -> None:
    tenant = tenants.create()
    rows = execute(
        sql.SQL("select max(version) as v from {}.schema_migrations")
        .format(sql.Identifier(tenant.schema_name))
        .as_string(None)
    )
    assert rows[0]["v"] == migrate.latest_version("tenant")


def test_a_migration_waiting_behind_a_long_query_gives_up_instead_of_queueing_the_tenant(
    migrations_dir: Path, schema: str
) -> None:
    # ALTER TABLE needs an exclusive lock. Waiting for it behind a long query would queue every
    # later query on the table behind the ALTER (a restaurant's orders stalling for as long as
    # that query runs), so the migration gives up after a short wait, applies nothing, and says
    # why; the next run applies it.
    write(migrations_dir, "0001_dishes.sql", "create table dishes (id int primary key);")
    migrate.migrate_tenant(schema)
    write(migrations_dir, "0002_add_price.sql", "alter table dishes add column price int;")
    outcome: list[BaseException | migrate.MigrationResult] = []

    def run() -> None:
        try:
            outcome.append(migrate.migrate_tenant(schema))
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    with transaction() as long_query:
        long_query.execute(sql.SQL("select * from {}.dishes").format(sql.Identifier(schema)))
        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        runner.join(timeout=30)  # a hang guard: the old runner waited for as long as the query
        assert not runner.is_alive(), "the migration is still queued behind the long query"
        # A reader arriving now is not stuck behind a waiting ALTER either.
        with transaction() as reader:
            reader.execute("set local lock_timeout = '5s'")
            reader.execute(sql.SQL("select count(*) from {}.dishes").format(sql.Identifier(schema)))
    (error,) = outcome
    assert isinstance(error, migrate.MigrationError)
    assert "0002_add_price.sql" in str(error) and "lock" in str(error)
    assert isinstance(error.__cause__, psycopg.errors.LockNotAvailable)  # transient: retried
    assert migrate.migrate_tenant(schema).applied == ["0002_add_price.sql"]


@pytest.fixture
def fresh_database(monkeypatch: pytest.MonkeyPatch, migrated_public: None) -> Iterator[str]:
    """An empty database (a first `azd up`) that the app's settings and pool point at."""
    name = f"stelly_fresh_{uuid.uuid4().hex[:10]}"
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    monkeypatch.setenv("DATABASE_URL", make_conninfo(url, dbname=name))
    get_settings.cache_clear()
    close_pool()
    yield name
    monkeypatch.undo()
    get_settings.cache_clear()
    close_pool()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def test_the_app_brings_an_empty_registry_up_to_date_on_first_use(
    client, fresh_database: str, auth_header
) -> None:
    # In Azure no deploy step reaches the database: the app's first request after a first
    # deploy must find the registry it needs instead of failing on a missing table.
    response = client.get(
        "/api/v1/platform/tenants", host="stelly.test", headers=auth_header("platform_admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    (row,) = execute("select max(version) as v from public.schema_migrations")
    assert row["v"] == migrate.latest_version("public")


def test_a_failing_registry_file_is_logged_and_the_app_serves_with_what_it_has(
    client, fresh_database: str, migrations_dir: Path, auth_header, caplog
) -> None:
    public = migrations_dir.parent / "public"
    for real in sorted((REAL_MIGRATIONS / "public").glob("*.sql")):
        write(public, real.name, real.read_text())
    listing = {"host": "stelly.test", "headers": auth_header("platform_admin")}
    assert client.get("/api/v1/platform/tenants", **listing).status_code == 200
    # A later deploy brings a registry file that fails; its processes open new pools.
    write(public, "0099_broken.sql", "alter table no_such_table add column x int;")
    close_pool()
    response = client.get("/api/v1/platform/tenants", **listing)
    assert response.status_code == 200, response.text  # served, not a 500 or a 503
    assert "0099_broken.sql" in caplog.text and "registry migration failed" in caplog.text
    (row,) = execute("select max(version) as v from public.schema_migrations")
    assert row["v"] == int(real.name[:4])  # the newest real file; nothing half-applied


def test_a_fleet_migration_migrates_the_registry_first(
    fresh_database: str, migrations_dir: Path
) -> None:
    # `POST /api/v1/platform/migrations` is the operator's one call: it retries a registry file
    # that failed when a process opened its pool, as the CLI does.
    public = migrations_dir.parent / "public"
    for real in sorted((REAL_MIGRATIONS / "public").glob("*.sql")):
        write(public, real.name, real.read_text())
    migrate.migrate_public()
    write(public, "0099_probe.sql", "create table fleet_probe (id int);")
    fleet.plan(canaries=[], batch_size=10, operation="migration-test")
    assert execute("select to_regclass('public.fleet_probe') as t")[0]["t"] == "fleet_probe"


def test_two_migration_files_with_one_version_number_are_refused(migrations_dir: Path) -> None:
    """Two files with one version: one of them would never be applied where the other was."""
    (migrations_dir / "0001_dishes.sql").write_text("create table dishes (id int);")
    (migrations_dir / "0001_sides.sql").write_text("create table sides (id int);")
    migrate.load_migrations.cache_clear()
    with pytest.raises(migrate.MigrationError, match="share a version number"):
        migrate.load_migrations("tenant")
