"""The pool and tenant transactions: search path never survives, names are validated."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from shared import db
from shared.events.dispatch import dispatcher
from tests.conftest import execute
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.pool_sizes import pool_of
from tests.stalling_proxy import run_in_thread
from tests.storefront_helpers import ok, owner_api
from tests.test_http_edge import assert_problem


@pytest.fixture
def single_connection_pool(monkeypatch: pytest.MonkeyPatch, migrated_public: None):
    """A pool of exactly one connection, so the next query provably reuses the same one."""
    with pool_of(1, monkeypatch) as pool:
        yield pool


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


def test_an_idle_connection_the_server_dropped_is_replaced_not_handed_out(
    shop: Shop, single_connection_pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restart, failover or idle kill drops pooled connections: the next request gets a
    # working one instead of a 503. (Here at once: as if the connection had sat idle.)
    monkeypatch.setattr(db, "CHECK_AFTER_IDLE_S", 0.0)
    order = shop.place()
    assert dispatcher.wait_idle(10)  # the outbox thread is done with the connection
    with db.transaction() as conn:
        pid = conn.execute("select pg_backend_pid() as pid").fetchone()["pid"]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s, 5000)", [pid])  # waits until it is gone
    assert shop.transition(order, "accepted", 1).status_code == 200


def test_a_request_behind_a_stuck_lock_gives_up_with_a_503(shop: Shop) -> None:
    # Without a lock timeout it waited as long as the lock was held, past Front Door's 60 s,
    # keeping its pooled connection from everyone else.
    order = shop.place()
    answers = []
    with psycopg.connect(os.environ["DATABASE_URL"]) as stuck:
        stuck.execute(f"select 1 from {shop.schema}.orders where id = %s for update", [order["id"]])
        tap = run_in_thread(lambda: answers.append(shop.transition(order, "accepted", 1)))
        tap.join(30)  # a hang guard: the lock times out after a few seconds
        still_waiting = tap.is_alive()
        stuck.rollback()
    tap.join()
    assert not still_waiting
    assert answers[0].status_code == 503 and answers[0].headers["retry-after"]


@pytest.mark.parametrize("idle", ["a while", "just now"])
def test_after_a_restart_drops_every_pooled_connection_the_next_requests_are_served(
    shop: Shop, idle: str
) -> None:
    # Found one by one, the dead connections cost the pool's growing back-off (0, 1, 2, 4 ...
    # s) past the pool's wait: the first dead one found drops them all. Ones used just now
    # are not checked before use; each failed a request in turn (a busy instance's whole pool).
    order = shop.place()
    assert dispatcher.wait_idle(10)
    pool = db.get_pool()
    held = [pool.getconn() for _ in range(pool.max_size)]
    pids = [conn.info.backend_pid for conn in held]
    for conn in held:
        pool.putconn(conn)
    deadline = time.monotonic() + 10
    while pool.get_stats()["pool_available"] < pool.max_size and time.monotonic() < deadline:
        time.sleep(0.05)
    if idle == "a while":
        time.sleep(db.CHECK_AFTER_IDLE_S)  # they sat idle, as before a restart
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        for pid in pids:
            admin.execute("select pg_terminate_backend(%s, 5000)", [pid])
    answer = shop.transition(order, "accepted", 1)
    assert answer.status_code == 200, answer.text
    kitchen = [
        shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff())
        for _ in range(pool.max_size)
    ]
    assert [answer.status_code for answer in kitchen] == [200] * pool.max_size


def test_a_statement_prepared_for_one_tenant_does_not_break_another_tenants_request(
    client, tenants, auth_header, single_connection_pool
) -> None:
    # Schemas differ during every fleet migration (canaries first): a statement planned on a
    # pooled connection for A's tables must never answer B's query. psycopg prepares a query on
    # its sixth run on a connection, and a prepared statement outlives the transaction.
    a, b = tenants.create(), tenants.create()
    api_a, api_b = owner_api(client, a, auth_header), owner_api(client, b, auth_header)
    cat_a = ok(api_a.post("/v1/admin/menu/categories", json={"name": "Pizza"}), 201)
    cat_b = ok(api_b.post("/v1/admin/menu/categories", json={"name": "Pasta"}), 201)
    # The next tenant migration (a new column), applied to the canary A but not yet to B.
    execute(f"alter table {a.schema_name}.menu_categories add column subtitle text")
    # A's admin reads its category a few times (psycopg prepares a statement on the 6th).
    for _ in range(8):
        ok(api_a.get(f"/v1/admin/menu/categories/{cat_a['id']}"))
    response = api_b.get(f"/v1/admin/menu/categories/{cat_b['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Pasta"


def test_a_restaurants_next_request_after_a_migration_is_not_a_500(
    client, tenants, auth_header, single_connection_pool
) -> None:
    # A statement prepared before the migration would fail it: "cached plan must not change
    # result type".
    a = tenants.create()
    api = owner_api(client, a, auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizza"}), 201)
    for _ in range(8):
        ok(api.get(f"/v1/admin/menu/categories/{category['id']}"))
    # What the next tenant migration file would do, applied by the fleet run on its own connection.
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as other:
        other.execute(f"alter table {a.schema_name}.menu_categories add column subtitle text")
    response = api.get(f"/v1/admin/menu/categories/{category['id']}")
    assert response.status_code == 200, response.text


def test_start_up_work_that_cannot_reach_the_database_is_tried_again_not_fatal(
    monkeypatch: pytest.MonkeyPatch, migrated_public: None
) -> None:
    # The registry migration runs as a pool opens. A database out of reach just then must not
    # fail (or hold) every caller: they carry on, and one of them tries the work again later.
    calls: list[str] = []

    def hook(pool) -> None:
        calls.append("hook")
        if len(calls) == 1:
            raise psycopg.OperationalError("the database is restarting")

    monkeypatch.setattr(db, "_open_hooks", [hook])
    monkeypatch.setattr(db, "HOOK_RETRY_S", 0.0)
    db.close_pool()
    try:
        for _ in range(3):
            with db.transaction() as conn:
                assert conn.execute("select 1 as one").fetchone() == {"one": 1}
        assert calls == ["hook", "hook"]  # failed once, done on the next caller, then never again
    finally:
        db.close_pool()


def test_a_missing_table_of_a_live_restaurant_is_not_called_a_closed_storefront(
    client, tenants, auth_header
) -> None:
    """Only a dropped schema is a closed storefront (410): a table missing from a live
    restaurant's schema is our fault, a 500, and not reported to customers as a closure."""
    tenant = tenants.create()
    execute(f"drop table {tenant.schema_name}.menu_categories cascade")
    response = owner_api(client, tenant, auth_header).get("/v1/admin/menu")
    assert_problem(response, 500)
