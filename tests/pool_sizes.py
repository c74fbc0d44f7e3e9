"""The app's connection pool at a deployment's size, for tests of how it behaves there."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg_pool import ConnectionPool

from shared import db
from shared.config import get_settings


@contextmanager
def pool_of(size: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectionPool]:
    """A fresh process pool of at most size connections; the usual one again afterwards."""
    monkeypatch.setenv("DATABASE_POOL_MAX", str(size))
    get_settings.cache_clear()
    db.close_pool()
    try:
        yield db.get_pool()
    finally:
        db.close_pool()
        monkeypatch.undo()
        get_settings.cache_clear()
