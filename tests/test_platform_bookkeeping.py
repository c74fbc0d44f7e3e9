"""The platform's bookkeeping: the registry's status filter, the audit trail, migration status,
schema locks and drops, failure classification, and what running operations report."""

from __future__ import annotations

import os
import threading
import time
import uuid

import psycopg
import pytest

from shared import migrate
from shared.config import get_settings
from shared.db import SESSION_TIMEOUTS, transaction
from shared.migrate import MigrationError
from shared.provisioning import failures
from shared.provisioning.audit import audit, recent_audit
from shared.provisioning.migration_status import (
    migration_status_of,
    record_current,
    record_outcome,
)
from shared.provisioning.requests import (
    PROVISION_STEPS,
    ProvisionJob,
    ProvisionRequest,
    provision_job,
)
from shared.provisioning.schemas import drop_schema, lock_schema
from tests.conftest import execute
from tests.platform_helpers import (
    PlatformHost,
    platform_get,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    provision_body,
    provisioning_parked_in_create_schema,
    scalar,
    unique_slug,
)
from tests.storefront_helpers import error_paths, ok


def test_the_status_filter_lists_only_restaurants_in_that_status(
    tenants, client, auth_header
) -> None:
    """GET /tenants?status=suspended lists no active restaurant."""
    prefix = f"zzzy{uuid.uuid4().hex[:10]}"
    tenants.create(slug=f"{prefix}-a")
    suspended = tenants.create(slug=f"{prefix}-b", status="suspended")
    page = ok(
        platform_get(client, auth_header, "/tenants", status="suspended", cursor=prefix, limit=200)
    )
    assert [t["slug"] for t in page["items"] if t["slug"].startswith(prefix)] == [suspended.slug]
    assert {t["status"] for t in page["items"]} == {"suspended"}


def _slugs(response) -> list[str]:
    return [tenant["slug"] for tenant in ok(response)["items"]]


def test_the_listing_pages_by_cursor_within_a_status(tenants, client, auth_header) -> None:
    """`cursor` is the last slug of the page before (`next_cursor`): the next page starts after
    it, with or without a status filter."""
    prefix = f"lq{uuid.uuid4().hex[:8]}"
    first, middle, last = (f"{prefix}{letter}" for letter in "abc")
    tenants.create(slug=first)
    tenants.create(slug=middle, status="suspended")
    tenants.create(slug=last)

    page = ok(platform_get(client, auth_header, "/tenants", cursor=prefix, limit=2))
    assert [t["slug"] for t in page["items"]] == [first, middle]
    assert page["next_cursor"] == middle
    after = platform_get(client, auth_header, "/tenants", cursor=page["next_cursor"], limit=1)
    assert _slugs(after) == [last]
    active = platform_get(client, auth_header, "/tenants", cursor=prefix, limit=2, status="active")
    assert _slugs(active) == [first, last]


def test_the_listing_takes_a_limit_of_1_to_200_a_slug_cursor_and_nothing_else(
    tenants, client, auth_header
) -> None:
    """Out-of-range limits, a cursor no slug could be, and a misspelt parameter (`lmit`, which
    would otherwise list the default 50) are 422s naming the parameter."""
    tenants.create()
    assert len(_slugs(platform_get(client, auth_header, "/tenants", limit=1))) == 1
    assert ok(platform_get(client, auth_header, "/tenants", limit=200))
    for bad in ({"limit": "201"}, {"limit": "0"}, {"cursor": "9pizza"}, {"cursor": "Pizza"}):
        refused = platform_get(client, auth_header, "/tenants", **bad)
        assert error_paths(refused) == [f"query.{next(iter(bad))}"], bad
    misspelt = platform_get(client, auth_header, "/tenants", lmit="5")
    assert misspelt.status_code == 422, misspelt.text


def test_a_long_audit_detail_is_kept_to_its_first_4000_characters(migrated_public) -> None:
    """An audit row keeps the start of a long error, not all of it."""
    slug = unique_slug("aud")
    audit(slug, operation="op-long", step="migrate", outcome="failed", detail="x" * 5000)
    [row] = recent_audit(slug)
    assert row["detail"] == "x" * 4000


def test_the_trail_returns_only_the_newest_rows_up_to_the_limit(migrated_public) -> None:
    """recent_audit(slug, 3) is the 3 newest rows, newest first, not a fourth."""
    slug = unique_slug("aud")
    for n in range(5):
        audit(slug, operation=f"op-{n}", step="seed", outcome="ok")
        time.sleep(0.003)  # each row in a millisecond of its own, so their order is defined
    assert [r["operation"] for r in recent_audit(slug, 3)] == ["op-4", "op-3", "op-2"]


def _migration(client, auth_header, slug: str) -> dict:
    return ok(platform_get(client, auth_header, f"/tenants/{slug}"))["migration"]


def test_a_schema_migrated_after_a_failure_no_longer_shows_the_old_error(
    tenants, client, auth_header
) -> None:
    """After a failed run, a later successful one clears the error GET /tenants/{slug} shows."""
    tenant = tenants.create()
    latest = migrate.latest_version("tenant")
    with transaction() as conn:
        record_outcome(conn, schema=tenant.schema_name, version=latest - 1, status="failed",
                       operation="op-1", error="the newest file failed")  # fmt: skip
    assert _migration(client, auth_header, tenant.slug)["error"] == "the newest file failed"
    with transaction() as conn:
        record_outcome(conn, schema=tenant.schema_name, version=latest, status="migrated",
                       operation="op-2", duration_ms=12.5)  # fmt: skip
    migration = _migration(client, auth_header, tenant.slug)
    assert (migration["status"], migration["version"], migration["error"]) == (
        "migrated", latest, None
    )  # fmt: skip


def test_a_failed_schema_found_current_later_no_longer_shows_the_old_error(
    tenants, client, auth_header
) -> None:
    """A schema a fleet run finds current (migrated meanwhile, e.g. by the CLI) loses the
    error of its earlier failure."""
    tenant = tenants.create()
    latest = migrate.latest_version("tenant")
    with transaction() as conn:
        record_outcome(conn, schema=tenant.schema_name, version=latest - 1, status="failed",
                       operation="op-1", error="the newest file failed")  # fmt: skip
        record_current(conn, {tenant.schema_name: latest}, "op-2")
    migration = _migration(client, auth_header, tenant.slug)
    assert (migration["status"], migration["version"], migration["error"]) == (
        "current", latest, None
    )  # fmt: skip


def test_dropping_a_schema_forgets_its_migration_status(tenants) -> None:
    """drop_schema removes the schema's migration status row too, and says whether it dropped
    anything."""
    tenant = tenants.create()
    schema = tenant.schema_name
    with transaction() as conn:
        record_outcome(conn, schema=schema, version=migrate.latest_version("tenant"),
                       status="migrated", operation="op-1")  # fmt: skip
    assert drop_schema(schema) is True
    with transaction() as conn:
        assert migration_status_of(conn, schema) is None
    assert drop_schema(schema) is False


def test_lock_schema_gives_the_transaction_back_the_request_timeouts(migrated_public) -> None:
    """Waiting for the schema lock lifts the timeouts; holding it puts them back."""
    with transaction() as conn:
        lock_schema(conn, f"tenant_review_{uuid.uuid4().hex[:8]}")
        row = conn.execute(
            "select current_setting('lock_timeout') as lock,"
            " current_setting('statement_timeout') as statement"
        ).fetchone()
    assert (row["lock"], row["statement"]) == (
        SESSION_TIMEOUTS["lock_timeout"],
        SESSION_TIMEOUTS["statement_timeout"],
    )


def test_an_injected_failure_is_ignored_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fail_at_step that reached an activity in production (the request model refuses it
    there) does nothing: the activity checks the environment again."""
    made = provision_job(
        ProvisionRequest.model_validate(provision_body("pizza-roma", fail_at_step="seed"))
    )
    job = ProvisionJob(made.request, made.fingerprint, uuid.uuid4().hex)
    with pytest.raises(failures.StepFailed):
        failures.fail_if_injected(job, "seed")
    production = get_settings().model_copy(update={"environment": "production"})
    monkeypatch.setattr(failures, "get_settings", lambda: production)
    failures.fail_if_injected(job, "seed")  # no StepFailed


def test_a_lost_connection_is_transient_and_a_refused_statement_is_not() -> None:
    """Interface errors (a connection closed under us) are retried like operational ones,
    whether raised directly or as a migration's cause."""
    assert failures.is_transient(psycopg.InterfaceError("the connection is closed"))
    assert failures.is_transient(psycopg.OperationalError("server closed the connection"))
    wrapped = MigrationError("tenant_x: 0007_add.sql failed")
    wrapped.__cause__ = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    assert failures.is_transient(wrapped)
    refused = MigrationError("tenant_x: 0007_add.sql failed")
    refused.__cause__ = psycopg.errors.CheckViolation("new row violates check constraint")
    assert not failures.is_transient(refused)
    assert not failures.is_transient(psycopg.errors.CheckViolation("violates check constraint"))


# Someone waits for this schema's advisory lock (the 64-bit key is split over classid/objid).
@pytest.mark.devhost
def test_a_running_provisioning_reports_the_steps_done_and_its_progress(
    host: PlatformHost,
) -> None:
    """While create_schema runs, the operation says one step of six is done: progress 0.17."""
    slug = unique_slug("prog")
    with provisioning_parked_in_create_schema(host, slug):
        status = host.operation(f"provision-{slug}")["custom_status"]
    done, total = PROVISION_STEPS.index("create_schema"), len(PROVISION_STEPS)
    assert status == {
        "slug": slug,
        "step": "create_schema",
        "state": "running",
        "done": done,
        "total": total,
        "progress": round(done / total, 2),
    }
    assert (done, total, status["progress"]) == (1, 6, 0.17)
    assert host.wait(f"provision-{slug}")["status"] == "completed"


@pytest.mark.devhost
def test_a_finished_fleet_run_counts_its_batches_and_not_its_canaries(
    host: PlatformHost, tenants
) -> None:
    """A finished run reports batches_done == batches: the canaries are no batch."""
    schema = tenants.create_behind(migrate.load_migrations("tenant")[:-1])
    slug = schema.removeprefix("tenant_")
    response = host.request("POST", "/v1/platform/migrations", json={"canaries": [slug]})
    assert response.status_code == 202, response.text
    run = host.wait(response.json()["id"], timeout=60)
    assert run["status"] == "completed", run
    output = run["output"]
    assert output["phase"] == "finished" and output["done"] >= 1
    assert output["batches_done"] == output["batches"]
    assert run["custom_status"]["batches_done"] == output["batches"]


def _schema_lock_waiters(schema: str) -> int:
    """Sessions waiting for schema's advisory lock (its 64-bit key split over two columns)."""
    return len(execute(
        """select 1 from pg_locks where locktype = 'advisory' and not granted
              and ((classid::bigint << 32) | objid::bigint)
                  = hashtextextended('stelly.migrate.' || %s, 0)""",
        [schema],
    ))  # fmt: skip


def test_dropping_a_schema_waits_for_the_runner_migrating_it(tenants) -> None:
    """drop_schema queues for the schema's migration lock: while a migration runner holds it,
    the schema is still there; once the runner commits, it is dropped."""
    schema = tenants.create(status="deleting").schema_name
    dropped: list[bool] = []
    with psycopg.connect(os.environ["DATABASE_URL"]) as runner:
        runner.execute(
            "select pg_advisory_xact_lock(hashtextextended('stelly.migrate.' || %s, 0))", [schema]
        )
        worker = threading.Thread(target=lambda: dropped.append(drop_schema(schema)))
        worker.start()
        for _ in range(800):
            if _schema_lock_waiters(schema) or not worker.is_alive():
                break
            time.sleep(0.025)
        assert _schema_lock_waiters(schema) == 1, "drop_schema did not queue for the schema lock"
        assert scalar("select count(*) from pg_namespace where nspname = %s", [schema]) == 1
        runner.commit()
    worker.join(30)
    assert dropped == [True]
    assert scalar("select count(*) from pg_namespace where nspname = %s", [schema]) == 0
