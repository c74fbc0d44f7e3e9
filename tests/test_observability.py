"""Observability end to end: metrics at the documented moments, traces through compensation
and the outbox, log context on background threads, correlation ids.

Spans and metrics are captured with the OpenTelemetry SDK's in-memory exporter and reader, as
tests/test_telemetry.py does; the providers are process-wide, so this module puts the globals
back afterwards for that module to install its own. Nothing of ours is mocked: provisioning
steps, the outbox publisher and the HTTP edge run against the session's Postgres and Azurite.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from devhost.testclient import TestClient
from shared import migrate, telemetry
from shared.db import transaction
from shared.logs import ContextFilter
from shared.provisioning import compensation, fleet, steps
from shared.provisioning.compensation import run_undo, undo_steps
from shared.provisioning.deprovision import run_deprovision_step
from shared.provisioning.requests import (
    PROVISION_STEPS,
    ProvisionJob,
    ProvisionRequest,
    provision_job,
)
from shared.provisioning.steps import run_step
from tests.conftest import execute
from tests.order_fixtures import Shop, module_shop_fixture, settle  # noqa: F401
from tests.platform_helpers import provision_body, unique_slug
from tests.test_telemetry import Captured

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4799"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _reset_global_providers() -> None:
    """Back to an untouched process: OpenTelemetry lets a provider be set once per process."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    telemetry._tracer._real_tracer = None  # the API's proxy tracer caches the real one
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None


@pytest.fixture(scope="module")
def captured() -> Iterator[Captured]:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "SDK already set"
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)
    assert trace.get_tracer_provider() is tracer_provider
    try:
        yield Captured(spans, reader)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        _reset_global_providers()


@pytest.fixture(scope="module")
def shop(module_shop: Shop) -> Shop:
    """A restaurant with a published menu (tests/order_fixtures.py)."""
    return module_shop


class Records(logging.Handler):
    """Keeps the records of the `stelly` loggers, with the context fields every handler gets."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("stelly")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# --- provisioning, activity by activity as provision_tenant runs them -----------------------


def _job(**fields: Any) -> ProvisionJob:
    """A job as the orchestrator hands it to activities: attempt, start time, request's trace."""
    request = ProvisionRequest.model_validate(provision_body(unique_slug("obs"), **fields))
    made = provision_job(request)
    started = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    return ProvisionJob(made.request, made.fingerprint, uuid.uuid4().hex, started, TRACEPARENT)


def _cleanup(job: ProvisionJob) -> None:
    for step in ("mark_deleting", "remove_directory", "drop_schema", "tombstone"):
        run_deprovision_step(step, job.slug, "cleanup")
    with transaction() as conn:
        conn.execute("delete from tenants where slug = %s", [job.slug])


def _with_retry(activity: Callable[[], dict[str, Any]], attempts: int) -> dict[str, Any]:
    """An activity as call_activity_with_retry runs it: again after anything it raises."""
    for attempt in range(attempts):
        try:
            return activity()
        except Exception:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _provision(job: ProvisionJob, operation: str) -> tuple[list[str], list[str]]:
    """functions/provisioning_flows.provision_tenant's activities in its order, each retried as
    its retry policy does: the steps run (the failed one last) and the undo steps run."""
    ran: list[str] = []
    for step in PROVISION_STEPS:
        ran.append(step)
        result = _with_retry(lambda step=step: run_step(step, job, operation), attempts=4)
        if not result["ok"]:
            reason = f"{step} failed: {result['error']}"
            undos = undo_steps(ran)
            for undo in undos:
                work = (undo, job, operation, reason)
                assert _with_retry(lambda work=work: run_undo(*work), attempts=6)["ok"]
            return ran, undos
    return ran, []


def _audit_fails_once(module: Any, monkeypatch: pytest.MonkeyPatch, step: str) -> list[str]:
    """Table Storage refuses the audit row of `step` once (a transient error: retried)."""
    real = module.audit
    failed: list[str] = []

    def flaky(slug: str, **fields: Any) -> None:
        if fields.get("step") == step and fields.get("outcome") == "ok" and not failed:
            failed.append(step)
            raise ServiceRequestError("connection reset by the storage account")
        real(slug, **fields)

    monkeypatch.setattr(module, "audit", flaky)
    return failed


def _durations_of(captured: Captured, slug: str) -> list[Any]:
    return [
        point
        for point in captured.points("stelly.provisioning.duration_ms")
        if point.attributes.get(telemetry.TENANT) == slug
    ]


def test_a_failed_provisioning_is_recorded_in_the_duration_histogram(
    captured: Captured, migrated_public: None
) -> None:
    # A provisioning compensated to `failed` is timed too, with that outcome.
    job = _job(fail_at_step="seed")
    try:
        ran, undos = _provision(job, f"provision-{job.slug}")
    finally:
        _cleanup(job)
    assert ran[-1] == "seed" and undos, "the provisioning failed and was compensated"
    outcomes = [
        point.attributes.get("stelly.outcome") for point in _durations_of(captured, job.slug)
    ]
    assert "failed" in outcomes, f"failed provisioning not recorded; outcomes seen: {outcomes}"


def test_a_completed_provisioning_is_recorded_with_the_documented_outcome(
    captured: Captured, migrated_public: None
) -> None:
    # record_provisioning_duration's outcomes: `completed` or `failed`.
    job = _job()
    try:
        ran, undos = _provision(job, f"provision-{job.slug}")
    finally:
        _cleanup(job)
    assert ran == list(PROVISION_STEPS) and not undos
    outcomes = [
        point.attributes.get("stelly.outcome") for point in _durations_of(captured, job.slug)
    ]
    assert outcomes == ["completed"]


def test_compensation_activities_continue_the_provisioning_requests_trace(
    captured: Captured, migrated_public: None
) -> None:
    # The undo activities continue the request's trace, as the forward steps do.
    job = _job(fail_at_step="migrate")
    try:
        ran, undos = _provision(job, f"provision-{job.slug}")
    finally:
        _cleanup(job)
    assert undos, "the failure was compensated"
    in_trace = [
        span
        for span in captured.spans.get_finished_spans()
        if format(span.context.trace_id, "032x") == TRACE_ID
        and (span.attributes or {}).get(telemetry.TENANT) == job.slug
    ]
    forward = {f"provision {step}" for step in ran}
    compensation = [span.name for span in in_trace if span.name not in forward]
    assert len(compensation) >= len(undos), (
        f"undo steps {undos} left no span in the request's trace; its spans: "
        f"{[span.name for span in in_trace]}"
    )


# --- fleet migration: a failing registry ----------------------------------------------------


def test_fleet_migration_counts_a_failed_registry_migration(
    captured: Captured, migrated_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted as schema `public`, as the app's start counts the same failure.
    load = migrate.load_migrations
    broken = migrate.Migration(9999, "9999_broken.sql", "select 1/0", "0" * 64)
    monkeypatch.setattr(
        migrate,
        "load_migrations",
        lambda kind: (*load(kind), broken) if kind == "public" else load(kind),
    )

    def public_failures() -> int:
        points = captured.points("stelly.migrations.failed")
        return sum(p.value for p in points if p.attributes.get("stelly.schema") == "public")

    before = public_failures()
    with pytest.raises(migrate.MigrationError, match=r"9999_broken\.sql"):
        fleet.plan([], 10, "fleet-review-broken-public")  # the fleet_plan activity
    assert public_failures() == before + 1


# --- logs of the outbox publisher -----------------------------------------------------------


@pytest.mark.usefixtures("webpubsub_hub")
def test_outbox_publish_failures_are_logged_with_the_tenant(
    shop: Shop, records: Records, webpubsub_hub
) -> None:
    # The outbox thread runs outside any request's log context: its lines name the restaurant.
    webpubsub_hub.stop()
    try:
        placed = shop.post_order(shop.order_body(shop.cola_line()), ip="10.77.0.1")
        assert placed.status_code == 201, placed.text
        settle()  # the post-commit publisher tried the hub, which is down
    finally:
        webpubsub_hub.start()
    failures = [
        record
        for record in records.records
        if record.name == "stelly.events" and record.levelno >= logging.WARNING
    ]
    assert failures, "the failed publish was logged"
    assert [record.tenant for record in failures] == [shop.slug] * len(failures)


# --- correlation ids ------------------------------------------------------------------------


def test_an_all_zero_traceparent_does_not_become_a_shared_correlation_id(
    client: TestClient, shop: Shop
) -> None:
    # An all-zero trace id is invalid (W3C Trace Context): as a correlation id it would be
    # shared by unrelated requests.
    invalid = f"00-{'0' * 32}-00f067aa0ba902b7-01"
    ids = []
    for _ in range(2):
        response = client.get(
            "/api/v1/store/config", host=shop.host, headers={"traceparent": invalid}
        )
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-correlation-id"])
    assert ids[0] != "0" * 32 and ids[0] != ids[1], f"two requests, one correlation id: {ids}"


@pytest.mark.parametrize(
    ("module", "step", "fail_at_step", "outcome"),
    [(compensation, "undo reserve", "seed", "failed"), (steps, "activate", None, "completed")],
    ids=["undo-reserve", "activate"],
)
def test_a_retried_activity_times_one_provisioning_once(
    captured: Captured,
    migrated_public: None,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    step: str,
    fail_at_step: str | None,
    outcome: str,
) -> None:
    # The activity that ends a provisioning is retried when its audit write fails (or the host
    # runs it twice): the restaurant is still one completed or failed provisioning.
    failed = _audit_fails_once(module, monkeypatch, step)
    job = _job(fail_at_step=fail_at_step) if fail_at_step else _job()
    try:
        _provision(job, f"provision-{job.slug}")
    finally:
        _cleanup(job)
    assert failed == [step], "the activity was retried"
    durations = _durations_of(captured, job.slug)
    assert [(p.attributes.get("stelly.outcome"), p.count) for p in durations] == [(outcome, 1)]


def _status(slug: str) -> str:
    return execute("select status from tenants where slug = %s", [slug])[0]["status"]


def test_activate_retried_after_its_directory_write_failed_still_times_the_restaurant(
    captured: Captured,
    migrated_public: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # activate commits `active` before it writes the directory: when that write fails, the
    # retry finds the restaurant active, and the one timing must already be recorded.
    real = steps.directory_put
    failed: list[str] = []

    def flaky(domain: str, record: Any, **options: Any) -> bool:
        if record.status == "active" and not failed:
            failed.append(domain)
            raise ServiceRequestError("connection reset by the storage account")
        return real(domain, record, **options)

    monkeypatch.setattr(steps, "directory_put", flaky)
    job = _job()
    try:
        ran, undos = _provision(job, f"provision-{job.slug}")
        assert ran[-1] == "activate" and not undos and _status(job.slug) == "active"
    finally:
        _cleanup(job)
    assert failed, "the activity was retried"
    durations = _durations_of(captured, job.slug)
    assert [(p.attributes.get("stelly.outcome"), p.count) for p in durations] == [("completed", 1)]


def test_release_retried_after_its_directory_cleanup_failed_still_times_the_restaurant(
    captured: Captured,
    migrated_public: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same for release, which commits `failed` before it cleans the directory.
    job = _job(fail_at_step="seed")
    real = compensation.directory_get
    failed: list[str] = []

    def flaky(domain: str, **options: Any) -> Any:
        if not failed and _status(job.slug) == "failed":
            failed.append(domain)
            raise ServiceRequestError("connection reset by the storage account")
        return real(domain, **options)

    monkeypatch.setattr(compensation, "directory_get", flaky)
    try:
        ran, undos = _provision(job, f"provision-{job.slug}")
        assert ran[-1] == "seed" and undos
    finally:
        _cleanup(job)
    assert failed, "the undo was retried"
    durations = _durations_of(captured, job.slug)
    assert [(p.attributes.get("stelly.outcome"), p.count) for p in durations] == [("failed", 1)]
