"""Postgres restarting or out for a while: nothing half-written, orders retried, and the next
requests served as soon as it is back."""

from __future__ import annotations

import os
import re
import time
import uuid

import psycopg
import pytest

from shared import db
from shared.events.dispatch import dispatcher
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.pool_sizes import pool_of
from tests.stalling_proxy import run_in_thread


def _admin() -> psycopg.Connection:
    """A connection of the test's own, outside the app's pool."""
    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def _kill_app_connections(*, spare: tuple[int, ...] = ()) -> int:
    """What a Postgres restart or failover does to every connection the app holds: all at once."""
    with _admin() as admin:
        killed = [
            pid
            for pid, _ in admin.execute(
                """select pid, pg_terminate_backend(pid) from pg_stat_activity
                    where backend_type = 'client backend' and datname = current_database()
                      and pid <> pg_backend_pid() and pid <> all(%s)""",
                [list(spare)],
            ).fetchall()
        ]
        deadline = time.monotonic() + 10
        gone = "select count(*) from pg_stat_activity where pid = any(%s)"
        while admin.execute(gone, [killed]).fetchone()[0]:
            assert time.monotonic() < deadline, "the connections did not end"
            time.sleep(0.01)
    return len(killed)


@pytest.fixture
def production_pool(monkeypatch: pytest.MonkeyPatch, migrated_public: None):
    """The pool size infra/README.md derives for the default deployment (B1ms, 3 instances)."""
    with pool_of(2, monkeypatch):
        yield


def _busy_pool(shop: Shop, orders: int = 5) -> None:
    """A busy instance: the pool holds several connections, each used within the last second."""
    threads = [run_in_thread(shop.place) for _ in range(orders)]
    for thread in threads:
        thread.join(30)
    assert dispatcher.wait_idle(10)
    pool = db.get_pool()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the pool has stopped growing: every connection idle
        stats = pool.get_stats()
        if stats["pool_available"] == stats["pool_size"]:
            break
        time.sleep(0.05)
    held = [pool.getconn() for _ in range(stats["pool_size"])]  # one more use of each
    for conn in held:
        pool.putconn(conn)
    while pool.get_stats()["pool_available"] < len(held) and time.monotonic() < deadline + 5:
        time.sleep(0.01)  # returned connections are put back by the pool's worker


def _wait_for_the_write(admin: psycopg.Connection) -> None:
    """Until the order's second transaction (its key claimed) waits for the table's row."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = admin.execute(
            """select count(*) from pg_stat_activity where wait_event_type = 'Lock'
                and query like '%dining_tables%for share%'"""
        ).fetchone()
        if waiting[0]:
            return
        time.sleep(0.01)
    raise AssertionError("the order never reached its write")


def test_an_order_cut_off_by_a_restart_can_be_retried_with_its_key(
    shop: Shop, production_pool
) -> None:
    """An order cut off by a Postgres restart is not half-written, and its Idempotency-Key is
    released (on a new connection, not the pool's next dead one): the customer's retry orders,
    where it was told for a minute that the order "is still being processed"."""
    body = shop.dine_in_body("Patio")
    key = str(uuid.uuid4())
    _busy_pool(shop, orders=2)
    answers = []
    with _admin() as locker:
        # Hold the order between its admission (key claimed) and its write, as a slow moment.
        locker.execute("begin")
        locker.execute(f"lock table {shop.schema}.dining_tables in exclusive mode")
        ordering = run_in_thread(lambda: answers.append(shop.post_order(body, key=key)))
        with _admin() as watcher:
            _wait_for_the_write(watcher)
        _kill_app_connections(spare=(locker.info.backend_pid,))  # the restart
        locker.execute("rollback")
    ordering.join(30)
    assert answers and answers[0].status_code == 503, answers and answers[0].text
    with _admin() as admin:  # nothing half-written
        dine_in = f"select count(*) from {shop.schema}.orders where table_id is not null"
        assert admin.execute(dine_in).fetchone() == (0,)
    retry_as_told(shop, body, key, tries=5)


def retry_as_told(shop: Shop, body: dict, key: str, *, tries: int) -> None:
    """The customer's app retries the order with its key as told (Retry-After), up to tries
    times; the last answer must be the 201."""
    retries = []
    for _ in range(tries):
        retry = shop.post_order(body, key=key)
        retries.append((retry.status_code, retry.json().get("detail")))
        if retry.status_code == 201:
            break
        time.sleep(int(retry.headers.get("retry-after", "1")))
    assert retries[-1][0] == 201, retries


def _kitchen_list(shop: Shop):
    return shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff())


def _pg_ctl(*args: str) -> None:
    """pg_ctl on the run's embedded Postgres (pgserver runs it as the user `pgserver`)."""
    from pgserver._commands import pg_ctl

    data = re.search(r"host=([^&]+)", os.environ["DATABASE_URL"]).group(1)
    user = "pgserver" if os.geteuid() == 0 else None
    if args[-1] == "start":  # as pgserver started it: no TCP, the socket in the data folder
        args = ("-o", '-h ""', "-o", f"-k {data}", "-l", f"{data}/log", *args)
    pg_ctl(list(args), pgdata=data, user=user, timeout=60)


@pytest.mark.skipif(
    "host=" not in os.environ.get("DATABASE_URL", ""), reason="stops the embedded Postgres only"
)
def test_once_postgres_is_back_after_an_outage_requests_are_served(
    shop: Shop, production_pool
) -> None:
    """After Postgres was down for a quarter of a minute, a busy instance's next request is
    served at once: the pool's reconnection back-off is capped (it doubled to 16 s and more)."""
    _busy_pool(shop, orders=4)
    _pg_ctl("-w", "-m", "fast", "stop")
    try:
        # Customers keep coming while it is down: each dead pooled connection fails one.
        down_since = time.monotonic()
        while db.get_pool().get_stats()["pool_available"] > 0:
            assert _kitchen_list(shop).status_code == 503
        time.sleep(max(0.0, 17 - (time.monotonic() - down_since)))  # a short outage
    finally:
        _pg_ctl("-w", "start")
    with _admin() as admin:
        assert admin.execute("select 1").fetchone() == (1,)  # the server is back
    answers: list = []
    asked = time.monotonic()
    request = run_in_thread(lambda: answers.append(_kitchen_list(shop)))
    request.join(5)  # a generous bound: the database answers in milliseconds again
    served_at_once = list(answers)
    request.join(40)  # let it end before clean-up
    waited = f"{time.monotonic() - asked:.1f} s"
    eventually = answers[0].status_code if answers else "no answer"
    assert served_at_once, f"Postgres is back, yet the request waited {waited}, then {eventually}"
    assert served_at_once[0].status_code == 200, served_at_once[0].text


def test_reconnection_attempts_stay_at_most_two_seconds_apart() -> None:
    # psycopg_pool doubles the delay each time (1, 2, 4 ... 128 s within its 5 minutes): after
    # a minute-long outage the next attempt came a minute after the server was back.
    attempt = db._CappedBackoff(timeout=300)
    delays = []
    for now in range(0, 60, 2):
        attempt.update_delay(float(now))
        delays.append(attempt.delay)
    assert 0.9 <= delays[0] <= 1.1 and max(delays) == db.MAX_RECONNECT_DELAY_S == 2.0
    assert isinstance(db.get_pool(), db._Pool)
