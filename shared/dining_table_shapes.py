"""The shapes of a manager's dining tables with their QR codes, for the API description.

The answers are plain dicts (shared/dining_tables.py `present`); these closed models only
describe them, and tests/test_openapi_admin_answers.py checks real answers against the served
description.
"""

from __future__ import annotations

from shared.answer_shape import AnswerShape


class TableOut(AnswerShape):
    """A table with its current QR code: print `qr_url` (on the restaurant's primary domain);
    `qr_token` is what a dine-in order sends. A new QR code (`qr_version` one up) stops the
    older ones working. ETag: `version`."""

    id: str
    label: str
    seats: int | None
    version: int
    qr_version: int
    qr_token: str
    qr_url: str


class TablesOut(AnswerShape):
    """`GET /api/v1/admin/tables`: every table, by label."""

    tables: list[TableOut]
