"""Traces and metrics through the OpenTelemetry API, exported to Azure Monitor when configured.

Everything here is a no-op until an SDK is in place: `configure_telemetry()` installs the Azure
Monitor distro when APPLICATIONINSIGHTS_CONNECTION_STRING is set (in Azure), and tests install
in-memory exporters. Feature code calls `record_*` and the span helpers unconditionally.

Trace context crosses process boundaries as a W3C `traceparent` string: take it with
`current_traceparent()` where work is handed off (an orchestration input, an outbox row) and
continue with `span_from_traceparent()` where it is picked up, so the HTTP request, the activity
and the publish share one trace.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shared.log_redaction import span_attributes
from shared.logs import ContextFilter

logger = logging.getLogger("stelly.telemetry")

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
# Our loggers all live under "stelly"; exporting only those keeps Azure SDK chatter out.
EXPORTED_LOGGER = "stelly"

TENANT = "stelly.tenant"
CORRELATION_ID = "stelly.correlation_id"

_tracer = trace.get_tracer("stelly")
_meter = metrics.get_meter("stelly")
# Instruments from the API's proxy meter bind to the real SDK whenever one is installed, so
# creating them at import (before configure_telemetry) is safe.
_orders_created = _meter.create_counter(
    "stelly.orders.created", unit="{order}", description="Orders placed (replays not counted)"
)
_order_latency = _meter.create_histogram(
    "stelly.order.latency_ms", unit="ms", description="Server time to price and commit an order"
)
_events_published = _meter.create_counter(
    "stelly.events.published", unit="{event}", description="Outbox events the hub accepted"
)
_events_pending = _meter.create_gauge(
    "stelly.events.pending", unit="{event}", description="Outbox events not yet published"
)
_provisioning_duration = _meter.create_histogram(
    "stelly.provisioning.duration_ms", unit="ms", description="Provisioning one restaurant"
)
_migrations_failed = _meter.create_counter(
    "stelly.migrations.failed", unit="{schema}", description="Schemas whose migration failed"
)

_configured = False
_configure_lock = threading.Lock()


def configure_telemetry() -> bool:
    """Install the Azure Monitor distro once when the connection string is set; True if now on."""
    global _configured
    connection_string = os.environ.get(CONNECTION_SETTING, "").strip()
    if not connection_string:
        return False
    with _configure_lock:
        if _configured:
            return True
        # Imported here: the distro loads every instrumentation it bundles, which a laptop
        # without Application Insights should not pay for at start.
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(connection_string=connection_string, logger_name=EXPORTED_LOGGER)
        # The distro's handler sits on the "stelly" logger; give it the request context fields
        # (correlation id, tenant, function) that the JSON log lines carry.
        for handler in logging.getLogger(EXPORTED_LOGGER).handlers:
            handler.addFilter(ContextFilter())
        _configured = True
    logger.info("OpenTelemetry export to Azure Monitor is on")
    return True


@contextmanager
def http_server_span(
    name: str, *, headers: Mapping[str, str], correlation_id: str, method: str, path: str
) -> Iterator[Span]:
    """A SERVER span for one HTTP call, child of the caller's traceparent when there is no span.

    On the Functions host with OpenTelemetry on, the worker has already made the invocation's
    span current, so that one is the parent; otherwise (devhost, a host without it) the client's
    `traceparent` header is.
    """
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # No SDK installed (devhost without App Insights): skip span bookkeeping on the hot path.
        yield trace.INVALID_SPAN
        return
    parent = None
    if not trace.get_current_span().get_span_context().is_valid:
        parent = propagate.extract({key.lower(): value for key, value in headers.items()})
    attributes = {
        "http.request.method": method,
        "url.path": path,
        CORRELATION_ID: correlation_id,
    }
    with _tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


def end_http_span(span: Span, *, status: int, tenant: str | None) -> None:
    """Record the response status and the resolved tenant; 5xx marks the span as failed."""
    span.set_attribute("http.response.status_code", status)
    if tenant:
        span.set_attribute(TENANT, tenant)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to store with work handed to another process."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent (a request's correlation id), None if there is none."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


@contextmanager
def span_from_traceparent(
    name: str, traceparent: str | None, *, tenant: str | None = None
) -> Iterator[Span]:
    """A span continuing the trace of traceparent (a new trace when it is None or malformed)."""
    parent = propagate.extract({"traceparent": traceparent}) if traceparent else context.Context()
    attributes = {TENANT: tenant} if tenant else {}
    # The exception is recorded here rather than by the SDK, which would write a database
    # error's text (the refused row) into the span: shared/log_redaction.py.
    with _tracer.start_as_current_span(
        name, context=parent, attributes=attributes, record_exception=False
    ) as span:
        try:
            yield span
        except BaseException as error:
            span.record_exception(error, attributes=span_attributes(error))
            raise


def record_order_created(tenant: str, ms: float) -> None:
    """One order placed for tenant, which took ms on the server."""
    _orders_created.add(1, {TENANT: tenant})
    _order_latency.record(ms, {TENANT: tenant})


def record_events_published(tenant: str, count: int) -> None:
    """count outbox events of tenant reached the hub."""
    if count:
        _events_published.add(count, {TENANT: tenant})


def record_events_pending(tenant: str, count: int) -> None:
    """tenant has count unpublished outbox events right now."""
    _events_pending.set(count, {TENANT: tenant})


def record_provisioning_duration(tenant: str, ms: float, *, outcome: str) -> None:
    """Provisioning tenant took ms and ended in outcome (`completed` or `failed`)."""
    _provisioning_duration.record(ms, {TENANT: tenant, "stelly.outcome": outcome})


def record_migration_failed(schema: str) -> None:
    """A schema's migration failed (the run goes on with the others)."""
    _migrations_failed.add(1, {"stelly.schema": schema})
