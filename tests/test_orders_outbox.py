"""Outbox sequencing: seqs follow visibility, so catch-up by `after=<seq>` never skips an event."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from shared.db import tenant_transaction
from shared.events.dispatch import publish_pending
from shared.events.outbox import append_event, events_after
from tests.order_fixtures import Shop, settle, shop_fixture  # noqa: F401


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


def test_an_event_that_commits_late_gets_a_later_seq_not_a_skipped_one(shop: Shop) -> None:
    publisher = Recorder()
    # A writer on its own connection inserts first but commits last.
    with psycopg.connect(os.environ["DATABASE_URL"], row_factory=dict_row) as slow:
        slow.execute(sql.SQL("set search_path to {}").format(sql.Identifier(shop.schema)))
        _append(slow, "first-inserted")
        with tenant_transaction(shop.schema) as conn:
            _append(conn, "first-committed")
        publish_pending(shop.schema, shop.slug, publisher, respect_backoff=False)
        with tenant_transaction(shop.schema) as conn:
            seen = [(e.seq, e.type) for e in events_after(conn, 0, limit=10)]
        assert seen == [(1, "first-committed")]
        slow.commit()
    publish_pending(shop.schema, shop.slug, publisher, respect_backoff=False)
    with tenant_transaction(shop.schema) as conn:
        later = [(e.seq, e.type) for e in events_after(conn, seen[-1][0], limit=10)]
    assert later == [(2, "first-inserted")]
    assert [m["seq"] for m, _ in publisher.sent] == [1, 2]


def test_concurrent_orders_get_gapless_increasing_seqs(shop: Shop) -> None:
    with ThreadPoolExecutor(20) as pool:
        placed = list(pool.map(lambda _: shop.place(), range(30)))
    settle()
    with tenant_transaction(shop.schema) as conn:
        events = events_after(conn, 0, limit=100)
    assert [e.seq for e in events] == list(range(1, 31))
    assert {e.order_id for e in events} == {order["id"] for order in placed}
