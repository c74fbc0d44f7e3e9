"""Structured logs: every record carries the correlation id, tenant and function of its request."""

from __future__ import annotations

import atexit
import contextvars
import copy
import json
import logging
import queue
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import QueueHandler, QueueListener

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)
function: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)

_CONTEXT = {"correlation_id": correlation_id, "tenant": tenant, "function": function}
# Attributes every LogRecord has; anything else was passed with `extra=` and is worth keeping.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Set context fields (correlation_id, tenant, function) for the records logged inside."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_log_tenant(slug: str | None) -> None:
    tenant.set(slug)


class ContextFilter(logging.Filter):
    """Copies the context fields onto each record, so any handler (App Insights too) sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for key in fields.keys() - _STANDARD:
            value = fields[key]
            if value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


class _SnapshotQueueHandler(QueueHandler):
    """Queues records with everything read in the logging thread already resolved.

    The context fields (ContextFilter, added to this handler) and the message are taken in the
    calling thread; the traceback is rendered here because exc_info cannot cross threads safely.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send JSON lines to stderr (devhost, scripts); the Azure host brings its own handlers.

    Callers only enqueue; one listener thread formats and writes. Writing under the stream
    handler's lock from every worker thread made them queue behind each other on busy servers.
    """
    output = logging.StreamHandler(sys.stderr)
    output.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _SnapshotQueueHandler(records)
    handler.addFilter(ContextFilter())
    listener = QueueListener(records, output)
    listener.start()
    atexit.register(listener.stop)  # flush what is queued when the process exits
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    noisy_loggers = (
        "azure.core.pipeline.policies.http_logging_policy",
        "azure.identity",
        "httpx",
        "pgserver",  # logs every pg_ctl call at INFO
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
