"""Telemetry through the real HTTP path, captured by the OpenTelemetry SDK's in-memory exporters.

The SDK stands in for Azure Monitor: `configure_telemetry()` would install the same kind of
providers with Azure exporters. Nothing of ours is mocked; requests go through the app's router
to Postgres and Azurite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from devhost.testclient import TestClient
from shared import telemetry
from shared.events import dispatch
from shared.events.dispatch import dispatcher
from shared.telemetry import TENANT, end_http_span, trace_id
from tests.order_fixtures import Shop, module_shop_fixture, settle  # noqa: F401
from tests.test_orders_outbox import _add_unsent_event, _run_timer, _unsent

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
# The hub runs for every test here: an order placed while it is down leaves a failed event at
# the head of the restaurant's outbox, and later events wait behind it.
pytestmark = pytest.mark.usefixtures("webpubsub_hub")


@dataclass
class Captured:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def server_span(self, correlation_id: str) -> ReadableSpan:
        """The one SERVER span of the call with this correlation id."""
        [span] = [
            span
            for span in self.spans.get_finished_spans()
            if span.kind == SpanKind.SERVER
            and (span.attributes or {}).get(telemetry.CORRELATION_ID) == correlation_id
        ]
        return span

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture(scope="module")
def captured() -> Captured:
    """Process-wide SDK providers (OpenTelemetry allows setting them once per process)."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    assert trace.get_tracer_provider() is tracer_provider, "another test set a tracer provider"
    return Captured(spans, reader)


@pytest.fixture(scope="module")
def shop(module_shop: Shop) -> Shop:
    """A restaurant with a published menu (tests/order_fixtures.py)."""
    return module_shop


def test_http_call_is_a_server_span_with_tenant_and_correlation_id(
    captured: Captured, client: TestClient, shop: Shop
) -> None:
    response = client.get(
        "/api/v1/store/config",
        host=shop.host,
        headers={"x-correlation-id": "corr-telemetry-1", "traceparent": TRACEPARENT},
    )
    assert response.status_code == 200, response.text

    span = captured.server_span("corr-telemetry-1")
    assert span.name == "GET store_config"
    assert span.attributes is not None
    assert span.attributes[telemetry.TENANT] == shop.slug
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["url.path"] == "/api/v1/store/config"
    # The caller's traceparent is the parent: one trace from the client through the app.
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("traceparent", "joined"),
    [
        (f"01-{TRACE_ID}-00f067aa0ba902b7-01-future-fields", True),  # a later version
        (f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra", False),  # version 00 has four fields
        (f"00-{TRACE_ID.upper()}-00F067AA0BA902B7-01", False),  # W3C hex is lower-case
    ],
)
def test_the_correlation_id_is_the_callers_trace_exactly_when_the_span_joins_it(
    captured: Captured, client: TestClient, traceparent: str, joined: bool
) -> None:
    """The edge and the tracer read a traceparent alike: a correlation id a caller quotes never
    names a trace the request's span is not in."""
    response = client.get("/api/health", headers={"traceparent": traceparent})
    assert response.status_code == 200, response.text
    correlation_id = response.headers["x-correlation-id"]
    span = captured.server_span(correlation_id)
    assert (format(span.context.trace_id, "032x") == TRACE_ID) is joined
    assert (correlation_id == TRACE_ID) is joined


def test_errors_are_spans_too_and_unknown_hosts_carry_no_tenant(
    captured: Captured, client: TestClient, migrated_public: None
) -> None:
    response = client.get(
        "/api/v1/store/config",
        host="nobody-here.stelly.test",
        headers={"x-correlation-id": "corr-telemetry-404"},
    )
    assert response.status_code == 404
    span = captured.server_span("corr-telemetry-404")
    assert span.name == "GET store_config"
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 404
    assert telemetry.TENANT not in span.attributes
    assert span.status.status_code != StatusCode.ERROR  # a client's mistake is not our failure


def test_placing_an_order_counts_it_and_records_its_latency(captured: Captured, shop: Shop) -> None:
    def orders_of_shop() -> int:
        points = captured.points("stelly.orders.created")
        return sum(p.value for p in points if p.attributes.get(telemetry.TENANT) == shop.slug)

    before = orders_of_shop()
    shop.place()
    assert orders_of_shop() == before + 1
    [latency] = [
        point
        for point in captured.points("stelly.order.latency_ms")
        if point.attributes.get(telemetry.TENANT) == shop.slug
    ]
    assert latency.count >= 1 and latency.sum > 0


def test_an_idempotent_replay_is_not_counted_again(captured: Captured, shop: Shop) -> None:
    def orders_of_shop() -> int:
        points = captured.points("stelly.orders.created")
        return sum(p.value for p in points if p.attributes.get(telemetry.TENANT) == shop.slug)

    body = shop.order_body()
    first = shop.post_order(body, key="telemetry-replay-1", ip="10.1.2.3")
    assert first.status_code == 201, first.text
    counted = orders_of_shop()
    again = shop.post_order(body, key="telemetry-replay-1", ip="10.1.2.3")
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert orders_of_shop() == counted


def test_traceparent_hands_a_trace_to_another_process(captured: Captured) -> None:
    with trace.get_tracer("test").start_as_current_span("request") as request:
        handed_off = telemetry.current_traceparent()
    assert handed_off is not None
    with telemetry.span_from_traceparent("activity", handed_off, tenant="pizza") as activity:
        pass
    assert activity.get_span_context().trace_id == request.get_span_context().trace_id
    finished = {span.name: span for span in captured.spans.get_finished_spans()}
    assert finished["activity"].parent is not None
    assert finished["activity"].parent.span_id == request.get_span_context().span_id
    assert finished["activity"].attributes == {telemetry.TENANT: "pizza"}


def test_a_missing_or_broken_traceparent_starts_a_new_trace(captured: Captured) -> None:
    for given in (None, "not-a-traceparent"):
        with telemetry.span_from_traceparent(f"sweep {given}", given) as span:
            assert span.get_span_context().is_valid
    finished = {span.name: span for span in captured.spans.get_finished_spans()}
    assert finished["sweep None"].parent is None
    assert finished["sweep not-a-traceparent"].parent is None
    assert telemetry.current_traceparent() is None  # outside any span there is nothing to hand on


def test_record_helpers_reach_the_meter(captured: Captured) -> None:
    telemetry.record_events_published("pizza", 3)
    telemetry.record_events_pending("pizza", 7)
    telemetry.record_provisioning_duration("pizza", 1234.0, outcome="completed")
    telemetry.record_migration_failed("tenant_pizza")
    assert sum(p.value for p in captured.points("stelly.events.published")) >= 3
    pending = captured.points("stelly.events.pending")
    assert [p.value for p in pending if p.attributes.get(telemetry.TENANT) == "pizza"] == [7]
    assert captured.points("stelly.provisioning.duration_ms")[0].sum == 1234.0
    assert captured.points("stelly.migrations.failed")[0].value >= 1


def test_export_is_off_without_a_connection_string() -> None:
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in os.environ
    assert telemetry.configure_telemetry() is False


def test_the_outbox_publish_joins_the_trace_of_the_order_request(
    captured: Captured, shop: Shop, webpubsub_hub
) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    response = shop.client.post(
        "/api/v1/store/orders",
        host=shop.host,
        headers={
            "traceparent": f"00-{trace_id}-b7ad6b7169203331-01",
            "X-Forwarded-For": "10.1.2.3",
        },
        json=shop.order_body(shop.cola_line()),
    )
    assert response.status_code == 201, response.text
    settle()  # the dispatcher thread publishes right after the commit
    publishes = [
        span
        for span in captured.spans.get_finished_spans()
        if span.name == "outbox publish" and format(span.context.trace_id, "032x") == trace_id
    ]
    assert publishes, "the order.placed publish is not part of the request's trace"
    assert publishes[0].attributes[telemetry.TENANT] == shop.slug


def pending_of(captured: Captured, slug: str) -> list[int]:
    points = captured.points("stelly.events.pending")
    return [p.value for p in points if p.attributes.get(telemetry.TENANT) == slug]


def test_pending_gauge_falls_back_to_zero_once_the_backlog_is_published(
    captured: Captured, tenants, app_functions, webpubsub_hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Drained by the post-commit path (not the timer), the backlog must still read zero: only
    # a sweep that finds due events recorded the gauge, so it reported the outage for good.
    shop = tenants.create()
    _add_unsent_event(shop.schema_name)
    webpubsub_hub.stop()
    try:
        assert _run_timer(app_functions, "publish_pending_events") is None
    finally:
        webpubsub_hub.start()
    assert pending_of(captured, shop.slug) == [1]  # the outage is visible: good

    # The hub is back; the restaurant's next commit drains the backlog on the post-commit path.
    monkeypatch.setattr(dispatch, "RETRY_AFTER_FAILURE_S", 0.0)
    dispatcher.notify(shop.schema_name, shop.slug)
    settle()
    assert _unsent(shop.schema_name) == 0

    for _ in range(2):  # the timer keeps running every 10 s
        assert _run_timer(app_functions, "publish_pending_events") is None
    assert pending_of(captured, shop.slug) == [0], "nothing is pending any more"


def test_a_500_marks_the_server_span_failed_and_a_499_does_not() -> None:
    """A 500 marks the server span failed; a 499 does not."""
    provider = TracerProvider()
    tracer = provider.get_tracer("review")
    for status, expected in ((500, StatusCode.ERROR), (499, StatusCode.UNSET)):
        with tracer.start_as_current_span("GET something") as span:
            end_http_span(span, status=status, tenant="shop")
        assert span.status.status_code == expected, status
        assert span.attributes["http.response.status_code"] == status
        assert span.attributes[TENANT] == "shop"


def test_trace_id_is_none_for_anything_that_is_not_a_traceparent() -> None:
    """trace_id reads only a well-formed traceparent; anything else gives None."""
    trace = "0af7651916cd43dd8448eb211c80319c"
    assert trace_id(f"00-{trace}-b7ad6b7169203331-01") == trace
    for broken in ("00-abc-def-01", "garbage-value", f"00-{trace}", "", None):
        assert trace_id(broken) is None, broken
