"""Structured logs: every record carries the correlation id, tenant and function of its request."""

from __future__ import annotations

import atexit
import collections
import contextvars
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)
function: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)

_CONTEXT = {"correlation_id": correlation_id, "tenant": tenant, "function": function}
# Attributes every LogRecord has; anything else was passed with `extra=` and is worth keeping.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# json.dumps(..., default=str) builds a new encoder for every call; one shared encoder does not.
_ENCODER = json.JSONEncoder(default=str)


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

    # (second, its rendering) as one tuple, so threads never see a mismatched pair.
    _rendered_second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        # Busy servers log many lines a second; render the seconds part once per second.
        second = int(created)
        cached, stamp = self._rendered_second
        if second != cached:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._rendered_second = (second, stamp)
        return f"{stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if value is not None and key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return _ENCODER.encode(entry)


class BatchedStreamHandler(logging.Handler):
    """Formats in the calling thread and lets one writer thread flush lines every FLUSH_S.

    Writing (a syscall, so the GIL is dropped) from every worker thread made them queue behind
    each other on busy servers, and waking a listener thread per record cost a thread switch
    per request. Here a record costs a format and a deque append; the writer wakes on a timer,
    so a line reaches the stream up to FLUSH_S late. `close()` (at exit) flushes the rest.
    """

    FLUSH_S = 0.05

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._lines: collections.deque[str] = collections.deque()
        # Not `_closed`: logging.Handler keeps its own `_closed` flag and sets it in close().
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="log-writer", daemon=True)
        self._writer.start()

    def handle(self, record: logging.LogRecord) -> bool:
        # Without the handler lock: formatting is per record, and deque appends are thread-safe.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if self._stop.is_set():
            # Closed, by logging.shutdown at exit or by another logging set-up (dictConfig
            # closes every handler there is): nobody else will write the line, so write it now.
            self.flush()

    def _write_loop(self) -> None:
        while not self._stop.wait(self.FLUSH_S):
            self.flush()

    def flush(self) -> None:
        lines = []
        while self._lines:
            lines.append(self._lines.popleft())
        if lines:
            with self.lock:  # flush() runs in the writer thread and at close
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send JSON lines to stderr (devhost, scripts); the Azure host brings its own handlers."""
    handler = BatchedStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    atexit.register(handler.close)  # write what is buffered when the process exits
    # The JSON lines carry neither the caller's file/line nor thread and process names; skip
    # collecting them for every record (logging's documented switches, see logging/__init__.py).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
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
