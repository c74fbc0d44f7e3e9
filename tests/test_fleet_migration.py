"""Fleet-wide migration through the platform API on devhost: 50 tenants, one poisoned schema.

The tenants are created one migration behind the files on disk (as after deploying a new
migration), so every schema has exactly the newest file to apply. The poisoned schema refuses it:
a CHECK constraint on its schema_migrations rejects the newest version, so applying the file fails
inside its transaction exactly like a migration hitting bad data would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from psycopg import sql

from shared import migrate
from shared.db import transaction
from shared.provisioning import fleet as fleet_steps
from shared.provisioning.requests import schema_for
from tests.platform_helpers import PlatformHost, scalar

pytestmark = pytest.mark.devhost

TENANTS = 50
POISON = "stelly_test_poison"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, migrated_public: None) -> Iterator[PlatformHost]:
    platform = PlatformHost(Path(tmp_path_factory.mktemp("fleet")))
    yield platform
    platform.stop()


def create_behind(slug: str, behind: tuple[migrate.Migration, ...]) -> None:
    """An active tenant whose schema has every migration file but the newest applied."""
    schema = schema_for(slug)
    with transaction() as conn:
        conn.execute(
            """insert into tenants (slug, schema_name, display_name, status)
               values (%s, %s, %s, 'active')""",
            [slug, schema, slug],
        )
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        conn.execute("select set_config('search_path', %s, true)", [schema])
        conn.execute(
            """create table schema_migrations (version integer primary key,
                   filename text not null, checksum text not null,
                   applied_at timestamptz not null default now())"""
        )
        for migration in behind:
            conn.execute(migration.sql_text, prepare=False)
            conn.execute(
                "insert into schema_migrations (version, filename, checksum) values (%s, %s, %s)",
                [migration.version, migration.filename, migration.checksum],
            )


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
    migrated_public: None,
) -> None:
    # An activity is at-least-once, and a window whose task_all failed is redone one schema at a
    # time: either way migrate_one meets a schema this very run already migrated.
    slug = f"fleet-again-{uuid.uuid4().hex[:6]}"
    create_behind(slug, migrate.load_migrations("tenant")[:-1])
    try:
        schema = schema_for(slug)
        first = fleet_steps.migrate_one(schema, "op-a")
        again = fleet_steps.migrate_one(schema, "op-a")
        assert (first["status"], again["status"]) == ("migrated", "migrated")
        assert again["version"] == migrate.latest_version("tenant")
        assert status_rows([slug])[schema]["status"] == "migrated"
        assert fleet_steps.migrate_one(schema, "op-b")["status"] == "current"
        assert status_rows([slug])[schema]["operation_id"] == "op-b"
    finally:
        drop_tenant(slug)
