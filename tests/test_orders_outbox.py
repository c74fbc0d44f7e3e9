"""Outbox sequencing: seqs follow visibility, so catch-up by `after=<seq>` never skips an event."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
from azure.functions.timer import TimerRequest
from psycopg import sql
from psycopg.rows import dict_row

from shared import db, migrate
from shared.db import tenant_transaction, transaction
from shared.events import dispatch
from shared.events.dispatch import publish_pending
from shared.events.outbox import append_event, events_after
from tests.order_fixtures import ON_SALE_MENU, Shop, open_shop, settle, shop_fixture  # noqa: F401


class Recorder:
    """An EventPublisher that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict, tuple[str, ...]]] = []

    def publish(self, message, groups) -> None:
        self.sent.append((dict(message), tuple(groups)))


def _append(conn, name: str) -> None:
    append_event(
        conn, type=name, order_id=None, occurred_at=datetime.now(UTC), data={}, groups=["g"]
    )


def test_an_event_that_commits_late_gets_a_later_seq_not_a_skipped_one(
    client, tenants, auth_header
) -> None:
    # No opening 86 list: the outbox thread has not been told of this restaurant, so only the
    # recorder publishes.
    shop = open_shop(client, tenants, auth_header, menu=ON_SALE_MENU)
    publisher = Recorder()
    base = shop.last_seq()
    # A writer on its own connection inserts first but commits last.
    with psycopg.connect(os.environ["DATABASE_URL"], row_factory=dict_row) as slow:
        slow.execute(sql.SQL("set search_path to {}").format(sql.Identifier(shop.schema)))
        _append(slow, "first-inserted")
        with tenant_transaction(shop.schema) as conn:
            _append(conn, "first-committed")
        publish_pending(shop.schema, shop.slug, publisher, respect_backoff=False)
        with tenant_transaction(shop.schema) as conn:
            seen = [(e.seq, e.type) for e in events_after(conn, base, limit=10)]
        assert seen == [(base + 1, "first-committed")]
        slow.commit()
    publish_pending(shop.schema, shop.slug, publisher, respect_backoff=False)
    with tenant_transaction(shop.schema) as conn:
        later = [(e.seq, e.type) for e in events_after(conn, seen[-1][0], limit=10)]
    assert later == [(base + 2, "first-inserted")]
    assert [m["seq"] for m, _ in publisher.sent] == [base + 1, base + 2]


def test_concurrent_orders_get_gapless_increasing_seqs(shop: Shop) -> None:
    base = shop.last_seq()
    with ThreadPoolExecutor(20) as pool:
        placed = list(pool.map(lambda _: shop.place(), range(30)))
    settle()
    with tenant_transaction(shop.schema) as conn:
        events = events_after(conn, base, limit=100)
    assert [e.seq for e in events] == list(range(base + 1, base + 31))
    assert {e.order_id for e in events} == {order["id"] for order in placed}


def _timer(app_functions: list, name: str):
    [found] = [f for f in app_functions if f.get_function_name() == name]
    return found.get_user_function()


def _run_timer(app_functions: list, name: str) -> BaseException | None:
    """Fire the timer once; the exception it raised (the host logs a failed run), if any."""
    try:
        _timer(app_functions, name)(timer=TimerRequest(past_due=False))
    except Exception as error:  # the outcome is what the test looks at
        return error
    return None


def _add_unsent_event(schema: str) -> None:
    """An order's event the post-commit publisher never sent (its process stopped first)."""
    with tenant_transaction(schema) as conn:
        append_event(
            conn,
            type="order.placed",
            order_id=str(uuid.uuid4()),
            occurred_at=datetime.now(UTC),
            data={"ticket_number": "#0001"},
            groups=["t.review.kitchen"],
        )


def _unsent(schema: str) -> int:
    with tenant_transaction(schema) as conn:
        row = conn.execute("select count(*) as n from outbox where published_at is null")
        return row.fetchone()["n"]


@pytest.mark.usefixtures("webpubsub_hub")
def test_one_restaurants_locked_outbox_does_not_stop_the_others_sweep(
    tenants, app_functions
) -> None:
    # A (long) migration holds one restaurant's outbox: that one waits, the others do not.
    migrating = tenants.create(slug=f"a{uuid.uuid4().hex[:10]}")
    waiting = tenants.create(slug=f"z{uuid.uuid4().hex[:10]}")
    _add_unsent_event(waiting.schema_name)
    # The fleet migration of `migrating` altered its outbox and is still working through the
    # rest of that schema's migration transaction (the runner lifts statement_timeout).
    with psycopg.connect(os.environ["DATABASE_URL"]) as migration:
        migration.execute(
            sql.SQL("alter table {} add column review_probe text").format(
                sql.Identifier(migrating.schema_name, "outbox")
            )
        )
        try:
            raised = _run_timer(app_functions, "publish_pending_events")
        finally:
            migration.rollback()
    assert _unsent(waiting.schema_name) == 0, (
        f"the other restaurant's ticket is still unsent; the sweep raised {raised!r}"
    )


FLEET = 2400


@pytest.fixture
def fleet(migrated_public: None) -> Iterator[list[str]]:
    """FLEET active restaurants, each schema holding the real outbox table (0003's DDL).

    Only the outbox matters to the sweep's due-events query, so the rest of each schema is left
    out to keep the fixture fast (a full schema takes ~60 ms to create, this one ~6 ms).
    """
    text = next(m.sql_text for m in migrate.load_migrations("tenant") if m.version == 3)
    outbox_ddl = text[text.index("create table outbox (") : text.index("-- The last seq")]
    tag = uuid.uuid4().hex[:6]
    slugs = [f"f{tag}{i:05d}" for i in range(FLEET)]
    schemas = [f"tenant_{slug}" for slug in slugs]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        for schema in schemas:
            with conn.transaction():
                conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("set local search_path to {}").format(sql.Identifier(schema)))
                conn.execute(outbox_ddl)
    with transaction() as conn:
        conn.execute(
            """insert into tenants (slug, schema_name, display_name, status, settings, theme)
               select s, 'tenant_' || s, 'Restaurant ' || s, 'active', '{}', '{}'
               from unnest(%s::text[]) as s""",
            [slugs],
        )
    yield schemas
    with transaction() as conn:
        conn.execute("delete from tenants where slug = any(%s)", [slugs])
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


# Creating 2,400 schemas takes ~15 s on a quiet machine and over 100 s on a busy one.
@pytest.mark.timeout(400)
@pytest.mark.usefixtures("webpubsub_hub")
def test_outbox_sweep_still_publishes_with_a_few_thousand_restaurants(
    fleet, tenants, app_functions
) -> None:
    # Probing every outbox in one transaction held ~7 locks per restaurant to its end: past
    # ~1,900 restaurants here (~1,150 on a B1ms) "out of shared memory" on every sweep.
    shop = tenants.create()
    _add_unsent_event(shop.schema_name)
    raised = _run_timer(app_functions, "publish_pending_events")
    assert _unsent(shop.schema_name) == 0, (
        f"the restaurant's ticket is still unsent; the sweep raised {raised!r}"
    )


class SlowHub:
    """An EventPublisher whose hub accepts every event after delay_s: degraded but working."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.sent: list[int] = []

    def publish(self, message: dict, groups: list[str]) -> None:
        time.sleep(self.delay_s)
        self.sent.append(message["seq"])


def test_a_batch_sent_to_a_slow_hub_is_marked_published(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sends happen inside the publishing transaction: one that sat idle past the pool's
    # idle_in_transaction timeout was killed, the sent batch never marked and re-sent forever.
    # (Scaled down: a 1 s timeout and a 0.4 s budget instead of 60 s and 20 s.)
    monkeypatch.setitem(db.SESSION_TIMEOUTS, "idle_in_transaction_session_timeout", "1s")
    monkeypatch.setattr(dispatch, "BATCH_BUDGET_S", 0.4)
    db.close_pool()
    try:
        tenant = tenants.create()
        with tenant_transaction(tenant.schema_name) as conn:
            for i in range(12):
                now = datetime.now(UTC)
                append_event(conn, type="order.placed", order_id=None, occurred_at=now,
                             data={"n": i}, groups=["g"])  # fmt: skip
        hub = SlowHub(0.2)  # 12 sends: 2.4 s in all, idle well past the timeout
        publish_pending(tenant.schema_name, tenant.slug, hub, respect_backoff=False)
        unsent = _unsent(tenant.schema_name)
    finally:
        monkeypatch.undo()
        db.close_pool()
    assert sorted(hub.sent) == list(range(min(hub.sent), min(hub.sent) + 12))
    assert unsent == 0


def test_a_seq_the_hub_delivered_stays_with_its_event_when_the_publisher_fails_to_commit(
    shop: Shop, client
) -> None:
    # The publisher sends B, then loses its connection before it commits (here: marking events
    # published fails once). A was inserted before B but committed after it. Had the seqs been
    # handed out in the failed transaction, A would now get B's delivered seq, and a display
    # catching up after B's seq would never see A.
    settle()
    hub = Recorder()
    with tenant_transaction(shop.schema) as conn:
        conn.execute(
            """create function fail_once() returns trigger language plpgsql as $$
               begin raise exception 'connection lost after the send'; end $$"""
        )
        conn.execute(
            """create trigger fail_once before update on outbox for each row
               when (old.published_at is null and new.published_at is not null)
               execute function fail_once()"""
        )
    with psycopg.connect(os.environ["DATABASE_URL"], row_factory=dict_row) as slow:
        slow.execute(sql.SQL("set search_path to {}").format(sql.Identifier(shop.schema)))
        _append(slow, "order-a")
        with tenant_transaction(shop.schema) as conn:
            _append(conn, "order-b")
        with pytest.raises(psycopg.Error):
            publish_pending(shop.schema, shop.slug, hub, respect_backoff=False)
        slow.commit()
    [(delivered_b, _)] = hub.sent
    with tenant_transaction(shop.schema) as conn:
        conn.execute("drop trigger fail_once on outbox")
    publish_pending(shop.schema, shop.slug, hub, respect_backoff=False)

    response = client.get(
        "/api/v1/kitchen/events",
        host=shop.host,
        headers=shop.staff(),
        params={"after": str(delivered_b["seq"])},
    )
    assert [event["type"] for event in response.json()["events"]] == ["order-a"]
    assert [(m["type"], m["seq"]) for m, _ in hub.sent] == [
        ("order-b", delivered_b["seq"]),
        ("order-b", delivered_b["seq"]),  # sent again: displays de-duplicate by id
        ("order-a", delivered_b["seq"] + 1),
    ]
