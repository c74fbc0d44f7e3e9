"""Database errors whose text quotes a customer's value, beyond the refused row's DETAIL: a
data exception (SQLSTATE class 22) quotes it in its primary message, and an error wrapping one
may copy that text, whole or cut short. None of it reaches a log line or a span."""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest

from shared import log_redaction
from shared.db import transaction
from shared.migrate import MigrationError
from tests.test_customer_data_in_logs import (  # noqa: F401 (the fixture)
    _refused_row,
    _written,
    log_wrapped,
    redacted_logs_fixture,
)


def _data_exception(query: str, value: str) -> psycopg.Error:
    with pytest.raises(psycopg.DataError) as raised, transaction() as conn:
        conn.execute(query, [value])
    assert value in str(raised.value)  # what Postgres tells: the value it could not take
    return raised.value


@pytest.mark.parametrize(
    ("query", "sqlstate"),
    [
        ("select %s::text::timestamptz", "22007"),  # invalid_datetime_format
        ("select %s::text::date", "22007"),
    ],
)
def test_every_class_22_error_is_told_without_the_value_it_quotes(
    migrated_public: None,
    redacted_logs: pytest.LogCaptureFixture,
    query: str,
    sqlstate: str,
) -> None:
    """README: "a data exception, SQLSTATE class 22, by type and SQLSTATE alone, since its
    primary message quotes the value": not only 22P02; a pickup time or date a customer typed
    that Postgres could not read quotes it too (`invalid input syntax for type timestamp with
    time zone: "..."`, 22007)."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _data_exception(query, secret)
    assert refused.sqlstate == sqlstate
    told = log_redaction.error_text(refused)
    assert told == f"{type(refused).__name__} [{sqlstate}]", told
    logging.getLogger("stelly.test").warning("could not read: %s", refused)
    assert secret not in _written(redacted_logs)


def test_a_wrapping_error_that_quotes_a_data_exception_logs_none_of_its_value(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """shared/migrate.py wraps as MigrationError(f"... failed: {error}"); a data exception's text
    has no DETAIL line to cut, its primary message quotes the value (a fleet migration
    converting a column of customers' text), so only the replacement keeps it out. Logged
    with its traceback, as an argument, or recorded on a span alike."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _data_exception("select %s::text::integer", secret)
    wrapped = log_wrapped(refused, lambda e: MigrationError(f"t_x: tenant/0099_x.sql failed: {e}"))
    told = log_redaction.error_text(wrapped)
    span = log_redaction.span_attributes(wrapped) or {}
    assert told.endswith("failed: InvalidTextRepresentation [22P02]"), told
    assert secret not in _written(redacted_logs)
    assert secret not in repr(span) and "InvalidTextRepresentation [22P02]" in repr(span)


def test_a_wrapping_errors_copy_cut_short_logs_none_of_the_row(
    migrated_public: None, redacted_logs: pytest.LogCaptureFixture
) -> None:
    """A wrapping error may hold the database error's text cut short (a long row capped at so many
    characters, as the outbox keeps an error's first 500): that copy is not the database error's
    text, so only the cut at DETAIL keeps the row's values out of the log line."""
    secret = f"Ada {uuid.uuid4().hex[:8]}"
    refused = _refused_row(secret)
    text = str(refused)
    cut = text[: text.index(secret) + len(secret)]
    told = log_redaction.error_text(
        log_wrapped(refused, lambda _: RuntimeError(f"send failed: {cut}"))
    )
    assert told.startswith("RuntimeError: send failed: new row for relation"), told
    assert secret not in told
    assert secret not in _written(redacted_logs)
