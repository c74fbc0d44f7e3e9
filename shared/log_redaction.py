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


# SQLSTATE class 22 (data exception): the primary message quotes the value it could not take
# (`invalid input syntax for type integer: "..."`).
_QUOTES_VALUES = "22"


def error_text(error: BaseException) -> str:
    """What a log line or span may say of error."""
    if isinstance(error, psycopg.Error):
        state = error.sqlstate or "?"
        if state.startswith(_QUOTES_VALUES):
            return f"{type(error).__name__} [{state}]"
        return f"{type(error).__name__} [{state}]: {error.diag.message_primary or '(no message)'}"
    text = str(error)
    if _quotes_rows(error):
        # A wrapping error may have copied the database error's text into its own
        # (`f"... failed: {error}"`): that copy is told as the database error is.
        for link in _chain(error):
            if isinstance(link, psycopg.Error) and str(link):
                text = text.replace(str(link), error_text(link))
        text = text.split("\nDETAIL")[0]
    return f"{type(error).__name__}: {text}"


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


def _told(arg: Any) -> Any:
    return error_text(arg) if isinstance(arg, BaseException) and _quotes_rows(arg) else arg


def _redact(record: logging.LogRecord) -> None:
    args = record.args
    if isinstance(args, tuple) and any(_told(arg) is not arg for arg in args):
        record.args = tuple(_told(arg) for arg in args)
    elif isinstance(args, dict) and any(_told(arg) is not arg for arg in args.values()):
        record.args = {key: _told(arg) for key, arg in args.items()}
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
