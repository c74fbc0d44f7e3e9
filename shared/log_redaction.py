"""Database errors without the rows they quote, in every log record and span.

Postgres explains a refused row with `DETAIL: Failing row contains (...)`, the row itself: an
order's customer name and phone, an event's line note. psycopg puts that in the exception's
text, so `logger.exception(...)`, or an error passed as a `%s` argument, would write a
customer's data into Log Analytics for 30 days. What is logged of a database error instead is
its type, SQLSTATE and primary message (which names the constraint or column, never values).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from typing import Any

import psycopg

_installed = False


def error_text(error: BaseException) -> str:
    """What a log line or span may say of error."""
    if isinstance(error, psycopg.Error):
        primary = error.diag.message_primary or "(no message)"
        return f"{type(error).__name__} [{error.sqlstate or '?'}]: {primary}"
    return f"{type(error).__name__}: {error}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    """error and the errors it was raised from or during, oldest first, as tracebacks print."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return reversed(seen)


def traceback_text(error: BaseException) -> str:
    """error's traceback, each error of its chain told by error_text."""
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(link.__traceback__))
        + error_text(link)
        for link in _chain(error)
    ]
    return "\n\nDuring handling of the above exception, another exception occurred:\n\n".join(parts)


def _quotes_rows(error: BaseException) -> bool:
    return any(isinstance(link, psycopg.Error) for link in _chain(error))


def _redact(record: logging.LogRecord) -> None:
    if isinstance(record.args, tuple) and any(
        isinstance(arg, BaseException) and _quotes_rows(arg) for arg in record.args
    ):
        record.args = tuple(
            error_text(arg) if isinstance(arg, BaseException) and _quotes_rows(arg) else arg
            for arg in record.args
        )
    exc_info = record.exc_info
    if exc_info and exc_info[1] is not None and _quotes_rows(exc_info[1]):
        # Formatters print exc_text when there is no exc_info.
        record.exc_text = traceback_text(exc_info[1])
        record.exc_info = None


def install() -> None:
    """Redact every log record made from now on in this process, whichever logger or handler
    (the host's, App Insights', pytest's) it reaches; idempotent."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _redact(record)
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True


def span_attributes(error: BaseException) -> dict[str, str] | None:
    """Attributes for span.record_exception that replace its text of a database error."""
    if not _quotes_rows(error):
        return None
    return {"exception.message": error_text(error), "exception.stacktrace": traceback_text(error)}
