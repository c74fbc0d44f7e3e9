"""The provisioning activities as plain functions: validation, idempotency, ownership, batches.

No durable engine here (tests/test_platform_api.py runs the orchestrations); each activity is
called directly, twice where a retry or a replay could run it twice.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from shared import db
from shared.config import get_settings
from shared.db import transaction
from shared.directory import directory_get
from shared.provisioning import fleet, requests
from shared.provisioning.compensation import run_undo, undo_steps
from shared.provisioning.deprovision import run_deprovision_step
from shared.provisioning.requests import (
    PROVISION_STEPS,
    ProvisionJob,
    ProvisionRequest,
    provision_job,
    schema_for,
)
from shared.provisioning.steps import run_step
from tests.conftest import execute, wait_for_lock_waiters
from tests.platform_helpers import (  # noqa: F401  (the `jobs` fixture)
    jobs_fixture,
    provision_body,
    provision_job_for,
    scalar,
    schema_exists,
    unique_slug,
)
from tests.stalling_proxy import run_in_thread


@pytest.fixture(name="job")
def job_fixture(migrated_public: None) -> Iterator[ProvisionJob]:
    """A provisioning job for a fresh slug, with an attempt id, deleted afterwards."""
    request = ProvisionRequest.model_validate(provision_body(unique_slug("unit")))
    made = provision_job(request)
    attempt = ProvisionJob(made.request, made.fingerprint, uuid.uuid4().hex)
    yield attempt
    for step in ("mark_deleting", "remove_directory", "drop_schema", "tombstone"):
        run_deprovision_step(step, attempt.slug, "cleanup")
    with transaction() as conn:
        conn.execute("delete from tenants where slug = %s", [attempt.slug])


def provision_all(job: ProvisionJob) -> None:
    for step in PROVISION_STEPS:
        assert run_step(step, job, "unit-op")["ok"], step


def test_request_is_normalised_and_the_default_domain_filled_in() -> None:
    request = ProvisionRequest.model_validate(provision_body("pizza-roma"))
    assert request.domains == ["pizza-roma.stelly.test"]
    named = ProvisionRequest.model_validate(
        provision_body("pizza-roma", domains=["Pizza.Example.COM.", "www.pizza.example.com"])
    )
    assert named.domains == ["pizza.example.com", "www.pizza.example.com"]
    assert provision_job(request).fingerprint == provision_job(request).fingerprint
    assert provision_job(request).fingerprint != provision_job(named).fingerprint
    assert schema_for("pizza-roma") == "tenant_pizza_roma"


@pytest.mark.parametrize(
    "change",
    [
        {"slug": "ab"},
        {"slug": "9lives"},
        {"slug": "www"},
        {"domains": []},
        {"domains": ["api.stelly.test"]},
        {"domains": ["www.stelly.test"]},  # reads as the platform's own
        {"domains": ["login.stelly.test"]},
        {"domains": ["\u0430dmin.stelly.test"]},  # U+0430 for the a: reads as our admin
        {"domains": ["café.stelly.test"]},  # internationalised names go on their own domain
        {"domains": ["roma.pizza.stelly.test"]},  # the platform's certificate covers one level
        {"domains": ["10.0.0.1"]},
        {"owner_email": "nobody"},
    ],
)
def test_request_refuses(change: dict) -> None:
    with pytest.raises(ValidationError):
        ProvisionRequest.model_validate({**provision_body("pizza-roma"), **change})


def test_fail_at_step_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    production = get_settings().model_copy(update={"environment": "production"})
    monkeypatch.setattr(requests, "get_settings", lambda: production)
    with pytest.raises(ValidationError, match="only in development"):
        ProvisionRequest.model_validate(provision_body("pizza-roma", fail_at_step="seed"))


def test_every_step_run_twice_builds_one_restaurant(job: ProvisionJob) -> None:
    # At-least-once delivery repeats the step that was in flight, so each one runs twice here.
    for step in PROVISION_STEPS:
        assert run_step(step, job, "unit-op")["ok"], step
        assert run_step(step, job, "unit-op")["ok"], step
    domain = job.domains[0]
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "active"
    assert scalar("select count(*) from tenant_domains where domain = %s", [domain]) == 1
    assert scalar(f"select count(*) from {job.schema}.menu_versions", []) == 1
    record = directory_get(domain)
    assert record is not None and record.status == "active"
    assert record.settings["timezone"] == "Europe/Berlin"


def test_a_step_refusing_its_input_fails_at_once_instead_of_retrying(job: ProvisionJob) -> None:
    """A rule a later step has and the request model lacked (as a tab in display_name was)."""
    assert run_step("reserve", job, "unit-op")["ok"]
    slipped_past = job.request.model_copy(update={"display_name": "Pizza\tRoma"})
    bad = ProvisionJob(slipped_past, job.fingerprint, job.attempt)
    outcome = run_step("seed", bad, "unit-op")  # raised before: retried as if transient
    assert outcome["ok"] is False and "business_name" in outcome["error"]


def test_compensation_never_touches_another_attempts_restaurant(job: ProvisionJob) -> None:
    provision_all(job)
    intruder = ProvisionJob(job.request, job.fingerprint, uuid.uuid4().hex)
    # Reserving fails for a second operation, and undoing it leaves the first one's work alone.
    assert run_step("reserve", intruder, "other-op") == {
        "ok": False,
        "error": f"the slug {job.slug} is taken (its restaurant is active)",
    }
    for step in undo_steps(list(PROVISION_STEPS)):
        run_undo(step, intruder, "other-op", "test")
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "active"
    assert schema_exists(job.schema) and directory_get(job.domains[0]) is not None


def test_undo_in_reverse_leaves_nothing_and_twice_is_harmless(job: ProvisionJob) -> None:
    provision_all(job)
    assert undo_steps(list(PROVISION_STEPS)) == [
        "activate",
        "register_domains",
        "create_schema",
        "reserve",
    ]
    for _ in range(2):
        for step in undo_steps(list(PROVISION_STEPS)):
            run_undo(step, job, "unit-op", "because")
    assert not schema_exists(job.schema)
    assert directory_get(job.domains[0]) is None
    assert scalar("select status_reason from tenants where slug = %s", [job.slug]) == "because"
    assert scalar("select count(*) from tenant_domains where domain = %s", [job.domains[0]]) == 0


def test_plan_skips_current_schemas_and_notices_an_edited_file(job: ProvisionJob) -> None:
    provision_all(job)
    assert job.schema in fleet.current_schemas([job.schema], "unit-op")
    with transaction() as conn:
        conn.execute(f"update {job.schema}.schema_migrations set checksum = 'edited'")
    assert fleet.current_schemas([job.schema], "unit-op") == set()
    planned = fleet.plan([job.slug], 100, "unit-op")
    assert planned["canaries"] == [job.schema]
    assert job.schema not in [schema for batch in planned["batches"] for schema in batch]
    outcome = fleet.migrate_one(job.schema, "unit-op")
    assert outcome["status"] == "failed" and "changed after it was applied" in outcome["error"]
    assert (
        scalar("select status from tenant_migration_status where schema_name = %s", [job.schema])
        == "failed"
    )


def test_migrate_one_never_brings_back_a_deleted_schema(job: ProvisionJob) -> None:
    provision_all(job)
    for step in ("mark_deleting", "remove_directory", "drop_schema", "tombstone"):
        assert run_deprovision_step(step, job.slug, "unit-op")["ok"]
    assert fleet.migrate_one(job.schema, "unit-op")["status"] == "skipped"
    assert not schema_exists(job.schema)


def test_an_active_restaurant_without_its_schema_is_reported(job: ProvisionJob) -> None:
    provision_all(job)
    with transaction() as conn:
        conn.execute(f"drop schema {job.schema} cascade")
    batches = fleet.plan([], 100, "unit-op")["batches"]
    assert job.schema in [schema for batch in batches for schema in batch]
    outcome = fleet.migrate_one(job.schema, "unit-op")
    assert outcome["status"] == "failed" and "is missing" in outcome["error"]
    assert not schema_exists(job.schema)


def test_compensation_never_undoes_a_deletion(job: ProvisionJob) -> None:
    # Provisioning failed after `activate` committed, and a DELETE marked the restaurant
    # `deleting` before the compensation reached `reserve`: the deletion must win, or the slug
    # would come back `failed` and could be given to someone else.
    provision_all(job)
    assert run_deprovision_step("mark_deleting", job.slug, "unit-op")["ok"]
    for step in undo_steps(list(PROVISION_STEPS)):
        run_undo(step, job, "unit-op", "activate failed")
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "deleting"
    assert scalar("select count(*) from tenant_domains where domain = %s", [job.domains[0]]) == 1
    for step in ("remove_directory", "drop_schema", "tombstone"):
        assert run_deprovision_step(step, job.slug, "unit-op")["ok"]
    assert scalar("select status from tenants where slug = %s", [job.slug]) == "deleted"


def test_two_restaurants_claiming_a_tombstones_domain_at_once_one_gets_it(tenants, jobs) -> None:
    # The second must not delete the row the first just claimed: it fails, domain taken.
    domain = f"shared-{uuid.uuid4().hex[:8]}.example.com"
    tenants.create(status="deleted", domains=[domain])  # its tombstone answers 410 until claimed
    first, second = (
        provision_job_for(unique_slug("ra"), domains=[domain]),
        provision_job_for(unique_slug("rb"), domains=[domain]),
    )
    jobs.extend([first, second])
    outcomes: dict[str, dict] = {}

    def reserve(job: ProvisionJob) -> None:
        outcomes[job.slug] = run_step("reserve", job, f"op-{job.slug}")

    with transaction() as conn:
        # Hold the tombstone's domain row so both reservations queue behind it, as two
        # provisioning requests arriving together would queue behind each other.
        conn.execute("select 1 from tenant_domains where domain = %s for update", [domain])
        threads = [threading.Thread(target=reserve, args=(job,)) for job in (first, second)]
        for thread in threads:
            thread.start()
        wait_for_lock_waiters("tenant_domains", 2)
    for thread in threads:
        thread.join(30)

    owner = execute(
        "select t.slug from tenant_domains d join tenants t on t.id = d.tenant_id"
        " where d.domain = %s",
        [domain],
    )
    succeeded = sorted(slug for slug, outcome in outcomes.items() if outcome["ok"])
    # One reservation must fail ("the domain ... belongs to ..."); the one that succeeded must
    # still own the domain it was told it had.
    assert len(succeeded) == 1, (succeeded, owner, outcomes)
    assert owner == [{"slug": succeeded[0]}]


SCHEMA_LOCK = "select pg_advisory_xact_lock(hashtextextended('stelly.migrate.' || %s, 0))"


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The pool's lock and statement timeouts at 300 ms, so waiting past them takes a second,
    not 5 or 25."""
    monkeypatch.setitem(db.SESSION_TIMEOUTS, "lock_timeout", "300ms")
    monkeypatch.setitem(db.SESSION_TIMEOUTS, "statement_timeout", "300ms")
    db.close_pool()
    yield
    monkeypatch.undo()
    db.close_pool()


def _while_another_runner_holds_the_schema(schema: str, fn: Callable[[], Any]) -> Any:
    """fn() while another session holds the schema's migration lock for a second (a runner
    applying a long migration), then lets that runner finish; fn's result (or its error)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except Exception as error:  # handed to the test thread
            outcome.append(error)

    with psycopg.connect(os.environ["DATABASE_URL"]) as other:
        other.execute(SCHEMA_LOCK, [schema])
        worker = run_in_thread(run)
        time.sleep(1)  # past the pool's lock and statement timeouts
        other.commit()
    worker.join(30)
    assert not worker.is_alive()
    return outcome[0]


def test_a_fleet_migration_waits_for_the_runner_already_migrating_the_schema(
    tenants, short_timeouts: None
) -> None:
    # The schema lock is meant to wait (the pool's timeouts are for requests).
    tenant = tenants.create()
    outcome = _while_another_runner_holds_the_schema(
        tenant.schema_name, lambda: fleet.migrate_one(tenant.schema_name, "unit-fleet-op")
    )
    assert not isinstance(outcome, Exception), outcome
    assert outcome["status"] == "current"


def test_deleting_a_restaurant_waits_for_a_migration_of_its_schema(
    tenants, short_timeouts: None
) -> None:
    tenant = tenants.create(status="deleting")
    outcome = _while_another_runner_holds_the_schema(
        tenant.schema_name, lambda: run_deprovision_step("drop_schema", tenant.slug, "unit-op")
    )
    assert not isinstance(outcome, Exception), outcome
    assert outcome["ok"] is True and not schema_exists(tenant.schema_name)
