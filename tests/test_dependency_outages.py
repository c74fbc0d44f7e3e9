"""The on-call engineer's bad night: Postgres restarting, read-only or slow, the Web PubSub hub
down, while a restaurant is busy; what customers, the kitchen and the displays get meanwhile,
and once the dependency is back.

A read-only database is what Azure Database for PostgreSQL does when its storage fills up (the
server parameter `default_transaction_read_only` is set until storage is added) and what a
connection to a server that has just become a standby meets; here `ALTER SYSTEM` sets it on the
run's own Postgres, for every session, as the server parameter does.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from shared import db
from shared.db import tenant_transaction
from shared.orders.idempotency import Claim, claim_key, late_releases, release_key
from tests.conftest import execute
from tests.hub_server import HubServer
from tests.order_fixtures import (  # noqa: F401 (fixtures)
    Clients,
    LiveClient,
    Shop,
    live_clients_fixture,
    settle,
    shop_fixture,
)
from tests.sold_out_helpers import kitchen_86, names
from tests.stalling_proxy import run_in_thread
from tests.storefront_helpers import ok
from tests.test_database_restart import (  # noqa: F401 (fixture)
    _admin,
    _pg_ctl,
    _wait_for_the_write,
    production_pool,
    retry_as_told,
)
from tests.test_orders_realtime import kitchen_url

PAUSE = "/api/v1/kitchen/pause"


def _set_read_only(on: bool) -> None:
    """The server parameter default_transaction_read_only, for every session (a reload)."""
    with psycopg.connect(
        os.environ["DATABASE_URL"],
        autocommit=True,
        options="-c default_transaction_read_only=off",
    ) as admin:
        if on:
            admin.execute("alter system set default_transaction_read_only = on")
        else:
            admin.execute("alter system reset default_transaction_read_only")
        admin.execute("select pg_reload_conf()")
    # The reload reaches other sessions when they next read their configuration: wait until a
    # new one sees the value.
    want = "on" if on else "off"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as probe:
            if probe.execute("show default_transaction_read_only").fetchone()[0] == want:
                return
        time.sleep(0.05)
    raise AssertionError(f"default_transaction_read_only never became {want}")


@pytest.fixture
def read_only_database(migrated_public: None) -> Iterator[Callable[[], None]]:
    """Call it to make the database read-only; writable again (and a fresh pool) afterwards."""
    yield lambda: _set_read_only(True)
    _set_read_only(False)
    db.close_pool()


def _orders(shop: Shop) -> int:
    return execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"]


def test_an_instance_starting_while_the_database_is_read_only_still_serves_reads(
    shop: Shop, read_only_database: Callable[[], None]
) -> None:
    """A worker that starts (or recycles its pool) while the database is read-only (storage
    full, a failover) serves what only reads: the storefront's menu and the kitchen's open
    tickets. The registry is current, so there is nothing to migrate; the README says a registry
    migration that fails is logged and the app serves with the registry as it is."""
    order = shop.place()
    read_only_database()
    db.close_pool()  # a new worker, or the pool of one the host restarted
    menu = shop.client.get("/api/v1/store/menu", host=shop.host)
    tickets = shop.client.get("/api/v1/kitchen/orders", host=shop.host, headers=shop.staff())
    assert (menu.status_code, tickets.status_code) == (200, 200), (menu.text, tickets.text)
    assert [t["id"] for t in tickets.json()["orders"]] == [order["id"]]


def test_an_order_while_the_database_is_read_only_is_a_503_to_retry_and_then_placed_once(
    shop: Shop, read_only_database: Callable[[], None]
) -> None:
    """An order sent while the database takes no writes gets a 503 problem with Retry-After
    (nothing was written; it is worth retrying), not a 500 "quote the correlation id to
    support"; once the database takes writes again, the retry with the same Idempotency-Key
    places exactly one order."""
    shop.place()  # the instance's pool is open and warm
    before = _orders(shop)
    body, key = shop.order_body(), str(uuid.uuid4())
    read_only_database()
    refused = shop.post_order(body, key=key)
    _set_read_only(False)
    assert refused.content_type == "application/problem+json"
    assert refused.status_code == 503 and "retry-after" in refused.headers, refused.text
    placed = shop.post_order(body, key=key)
    again = shop.post_order(body, key=key)
    assert (placed.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == "true"
    assert _orders(shop) == before + 1


@pytest.mark.skipif(
    "host=" not in os.environ.get("DATABASE_URL", ""), reason="stops the embedded Postgres only"
)
@pytest.mark.usefixtures("production_pool")
def test_an_order_cut_off_by_an_outage_is_placed_by_the_customers_retry_once_postgres_is_back(
    shop: Shop,
) -> None:
    """Postgres goes down (a restart that takes a few seconds, not the instant one
    test_database_restart covers) while an order with an Idempotency-Key is between its
    admission and its write. The customer gets a 503 and retries as told; once Postgres is back
    the retry places the order, rather than hearing for a minute that a request which already
    failed "is still being processed"."""
    body = shop.dine_in_body("Terrace")
    key = str(uuid.uuid4())
    answers: list = []
    locker = _admin()
    try:
        # Hold the order between its admission (key claimed) and its write, as a slow moment.
        locker.execute("begin")
        locker.execute(f"lock table {shop.schema}.dining_tables in exclusive mode")
        ordering = run_in_thread(lambda: answers.append(shop.post_order(body, key=key)))
        with _admin() as watcher:
            _wait_for_the_write(watcher)
        _pg_ctl("-w", "-m", "fast", "stop")
        with contextlib.suppress(psycopg.Error):
            locker.close()
        ordering.join(60)  # the order's answer comes while Postgres is still down
    finally:
        _pg_ctl("-w", "start")
    assert answers and answers[0].status_code == 503, answers and answers[0].text
    dine_in = f"select count(*) as n from {shop.schema}.orders where table_id is not null"
    assert execute(dine_in)[0]["n"] == 0  # nothing half-written
    retry_as_told(shop, body, key, tries=8)  # for a few seconds
    assert execute(dine_in)[0]["n"] == 1


@pytest.fixture
def slow_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh pool whose statements are cancelled after a second (statement_timeout), with a
    lock wait longer than that, so a request stuck behind a lock meets the statement timeout:
    a slow database, at a scale a test can wait for."""
    monkeypatch.setattr(
        db,
        "SESSION_TIMEOUTS",
        {**db.SESSION_TIMEOUTS, "statement_timeout": "1s", "lock_timeout": "20s"},
    )
    db.close_pool()
    yield
    monkeypatch.undo()
    db.close_pool()


def test_an_order_cancelled_by_the_statement_timeout_is_a_503_and_its_retry_places_it_once(
    shop: Shop, slow_database: None
) -> None:
    """Pins the README's bounded waits with the Idempotency-Key together: an order whose write
    the database cancels for running too long (statement_timeout, a QueryCanceled) answers a 503
    problem with Retry-After, writes nothing, releases its key, and the customer's retry with
    the same key places exactly one order."""
    body = shop.dine_in_body("Window")
    key = str(uuid.uuid4())
    dine_in = f"select count(*) as n from {shop.schema}.orders where table_id is not null"
    answers: list = []
    with _admin() as locker:
        locker.execute("begin")
        locker.execute(f"lock table {shop.schema}.dining_tables in exclusive mode")
        ordering = run_in_thread(lambda: answers.append(shop.post_order(body, key=key)))
        ordering.join(30)
        locker.execute("rollback")
    assert answers, "the order never answered"
    refused = answers[0]
    assert refused.status_code == 503, refused.text
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert execute(dine_in)[0]["n"] == 0
    placed = shop.post_order(body, key=key)
    assert placed.status_code == 201, placed.text
    assert shop.post_order(body, key=key).headers.get("idempotent-replayed") == "true"
    assert execute(dine_in)[0]["n"] == 1


def test_a_pause_and_an_86_made_while_the_hub_is_down_reach_every_display_once_it_is_back(
    shop: Shop, webpubsub_hub: HubServer, live_clients: Clients, app_functions
) -> None:
    """Pins the outbox promise for the kitchen's own news, not only orders: while Web PubSub
    is down the kitchen pauses orders and 86es the Cola (both answer at once); once the hub is
    back, the timer sends `store.paused` and `menu.sold_out` to the kitchen's display and a
    station's, each once and in seq order, and `events?after=` serves the same two."""
    sweep = next(f for f in app_functions if f.get_function_name() == "publish_pending_events")
    base = shop.last_seq()
    webpubsub_hub.stop()
    try:
        ok(shop.client.put(PAUSE, host=shop.host, headers=shop.staff(), json={"minutes": 15}))
        ok(kitchen_86(shop, {"items": [{"id": shop.menu.items["Cola"], "available": False}]}))
        settle()
    finally:
        webpubsub_hub.start()
    kitchen = live_clients(kitchen_url(shop))
    bar = live_clients(kitchen_url(shop, station="bar"))
    deadline = time.monotonic() + 15
    while execute(f"select 1 from {shop.schema}.outbox where published_at is null"):
        assert time.monotonic() < deadline, "the timer did not publish the backlog"
        sweep.get_user_function()(None)
        time.sleep(0.2)
    for display in (kitchen, bar):
        paused, sold_out = display.events(2)
        assert [(paused["type"], paused["seq"]), (sold_out["type"], sold_out["seq"])] == [
            ("store.paused", base + 1),
            ("menu.sold_out", base + 2),
        ]
        assert "Cola" in names(sold_out["data"])
    sweep.get_user_function()(None)
    settle()
    assert kitchen.nothing_more() == [] and bar.nothing_more() == []
    caught_up = ok(
        shop.client.get(
            "/api/v1/kitchen/events",
            host=shop.host,
            headers=shop.staff(),
            params={"after": str(base)},
        )
    )
    assert [(e["seq"], e["type"]) for e in caught_up["events"]] == [
        (base + 1, "store.paused"),
        (base + 2, "menu.sold_out"),
    ]


def _claim(shop: Shop, key: str) -> Claim:
    with tenant_transaction(shop.schema) as conn:
        claimed = claim_key(conn, key, "fingerprint")
    assert isinstance(claimed, Claim)
    return claimed


def _key_claims(shop: Shop, key: str) -> list:
    rows = execute(f"select claim from {shop.schema}.idempotency_keys where key = %s", [key])
    return [row["claim"] for row in rows]


def test_a_release_after_a_takeover_leaves_the_retrys_claim_alone(shop: Shop) -> None:
    """A request whose claim was taken over (it ran past the takeover's minute) and which then
    releases its key, late, leaves the retry's claim in place: the retry still owns the key."""
    key = str(uuid.uuid4())
    first = _claim(shop, key)
    execute(
        f"update {shop.schema}.idempotency_keys set claimed_at = now() - interval '2 minutes'"
        " where key = %s",
        [key],
    )
    retry = _claim(shop, key)
    release_key(shop.schema, first)
    assert _key_claims(shop, key) == [retry.token]


def test_a_late_release_keeps_trying_while_the_database_stays_read_only(
    shop: Shop, read_only_database: Callable[[], None]
) -> None:
    """A release the database refuses is tried again and again in the background, however many
    times it fails, until the database takes writes again; then the key is free."""
    key = str(uuid.uuid4())
    claim = _claim(shop, key)
    read_only_database()
    late_releases.add(shop.schema, claim)
    time.sleep(late_releases.RETRY_S * 4)  # several refused tries
    assert _key_claims(shop, key) == [claim.token]
    _set_read_only(False)
    deadline = time.monotonic() + 10
    while _key_claims(shop, key) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _key_claims(shop, key) == []
