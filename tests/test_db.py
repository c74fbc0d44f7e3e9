"""The pool and tenant transactions: search path never survives, names are validated."""

from __future__ import annotations

import pytest

from shared import db
from shared.config import get_settings


@pytest.fixture
def single_connection_pool(monkeypatch: pytest.MonkeyPatch, migrated_public: None):
    """A pool of exactly one connection, so the next query provably reuses the same one."""
    monkeypatch.setenv("DATABASE_POOL_MAX", "1")
    get_settings.cache_clear()
    db.close_pool()
    yield db.get_pool()
    db.close_pool()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_tenant_search_path_does_not_survive_on_the_pooled_connection(
    tenants, single_connection_pool
) -> None:
    tenant = tenants.create()
    with db.tenant_transaction(tenant.schema_name) as conn:
        inside = conn.execute(
            "select current_schemas(false) as s, pg_backend_pid() as pid"
        ).fetchone()
    with db.transaction() as conn:
        after = conn.execute(
            "select current_schemas(false) as s, pg_backend_pid() as pid"
        ).fetchone()
    assert inside["s"] == [tenant.schema_name]
    assert after["pid"] == inside["pid"]  # same pooled connection
    assert after["s"] == ["public"]


def test_search_path_is_cleared_after_an_error_too(tenants, single_connection_pool) -> None:
    tenant = tenants.create()
    with pytest.raises(RuntimeError), db.tenant_transaction(tenant.schema_name):
        raise RuntimeError("handler failed")
    with db.transaction() as conn:
        assert conn.execute("select current_schemas(false) as s").fetchone()["s"] == ["public"]


def test_tenant_writes_land_in_the_tenant_schema_only(tenants) -> None:
    a, b = tenants.create(), tenants.create()
    with db.tenant_transaction(a.schema_name) as conn:
        conn.execute("create table notes (body text)")
        conn.execute("insert into notes values ('only in a')")
    with db.tenant_transaction(b.schema_name) as conn:
        exists = conn.execute("select to_regclass('notes') as t").fetchone()["t"]
    assert exists is None


@pytest.mark.parametrize(
    "name",
    ["public", "tenant_", "tenant_A", 'tenant_x"; drop schema public; --', "pg_catalog", "x" * 60],
)
def test_bad_schema_names_never_reach_sql(name: str) -> None:
    with pytest.raises(ValueError, match="not a tenant schema name"), db.tenant_transaction(name):
        pass
