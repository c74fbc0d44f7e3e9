"""The transactional outbox: events commit with the change they describe, then get published.

Writers only insert. The publisher of a tenant (one at a time, see dispatch.py) first gives the
committed rows their `seq` in insertion order, then publishes them in seq order. Handing out
seqs after commit, in one serialised place, is what keeps them strictly increasing without gaps
that fill in later: a reader that has seen seq N has seen every smaller seq. Assigning them in
the writer's transaction instead would need a lock held across every order's commit.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from shared.db import transaction
from shared.instants import utc_text
from shared.telemetry import current_traceparent


@dataclass(frozen=True)
class OutboxEvent:
    """One stored event and where it goes."""

    seq: int
    id: str
    type: str
    order_id: str | None
    occurred_at: datetime
    data: dict[str, Any]
    groups: tuple[str, ...]
    attempts: int = 0
    next_attempt_at: datetime | None = None
    traceparent: str | None = None

    def message(self, tenant: str) -> dict[str, Any]:
        """The event as clients get it: `{id, seq, type, tenant, order_id, occurred_at, data}`."""
        return {
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "tenant": tenant,
            "order_id": self.order_id,
            "occurred_at": utc_text(self.occurred_at),
            "data": self.data,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxEvent:
        return cls(
            seq=int(row["seq"]),
            id=str(row["id"]),
            type=row["type"],
            order_id=str(row["order_id"]) if row["order_id"] else None,
            occurred_at=row["occurred_at"],
            data=row["data"],
            groups=tuple(row["groups"]),
            attempts=row.get("attempts", 0),
            next_attempt_at=row.get("next_attempt_at"),
            traceparent=row.get("traceparent"),
        )


def append_event(
    conn: psycopg.Connection,
    *,
    type: str,
    order_id: str | None,
    occurred_at: datetime,
    data: dict[str, Any],
    groups: Sequence[str],
) -> None:
    """Add an event in the caller's transaction (pipeline-friendly: no result is read)."""
    conn.execute(
        """insert into outbox (id, type, order_id, occurred_at, data, groups, traceparent)
           values (%s, %s, %s, %s, %s, %s, %s)""",
        [uuid.uuid4(), type, order_id, occurred_at, Jsonb(data), list(groups),
         current_traceparent()],
    )  # fmt: skip


# The tenant's publisher lock (transaction-scoped): one transaction at a time hands out seqs
# and sends, and a change to events already written waits for the batch being sent.
_PUBLISHER_KEY = "hashtextextended('stelly.outbox.' || %s, 0)"


def hold_publisher_lock(conn: psycopg.Connection, schema: str) -> None:
    """Wait for, then hold to the end of conn's transaction, schema's publisher lock."""
    conn.execute(f"select pg_advisory_xact_lock({_PUBLISHER_KEY})", [schema])


def try_publisher_lock(conn: psycopg.Connection, schema: str) -> bool:
    """Take schema's publisher lock to the end of conn's transaction if it is free; whether."""
    row = conn.execute(f"select pg_try_advisory_xact_lock({_PUBLISHER_KEY}) as ok", [schema])
    return bool(row.fetchone()["ok"])


def sequence_events(conn: psycopg.Connection, *, chunk: int = 1000) -> int:
    """Give every committed event without a seq the next seqs, in insertion order; how many.

    Callers hold the tenant's publisher lock, so only one transaction hands out seqs at a time.
    """
    total = 0
    while True:
        done = conn.execute(
            """with pending as (
                   select position, row_number() over (order by position) as n
                   from outbox where seq is null order by position limit %s),
               counter as (
                   update outbox_counter set last_seq = last_seq + (select count(*) from pending)
                   where exists (select 1 from pending) returning last_seq)
               update outbox o set seq = counter.last_seq - (select count(*) from pending) + p.n
               from pending p, counter where o.position = p.position""",
            [chunk],
        ).rowcount
        total += done
        if done < chunk:
            return total


_COLUMNS = (
    "seq, id, type, order_id, occurred_at, data, groups, attempts, next_attempt_at, traceparent"
)


def pending_events(conn: psycopg.Connection, *, limit: int) -> list[OutboxEvent]:
    """Sequenced events not yet published, lowest seq first."""
    rows = conn.execute(
        f"""select {_COLUMNS} from outbox where published_at is null and seq is not null
            order by seq limit %s""",
        [limit],
    ).fetchall()
    return [OutboxEvent.from_row(row) for row in rows]


def unpublished_count(conn: psycopg.Connection) -> int:
    """Events committed but not yet accepted by the hub (the `events.pending` gauge)."""
    row = conn.execute("select count(*) as n from outbox where published_at is null").fetchone()
    return row["n"]


def mark_published(conn: psycopg.Connection, seqs: Iterable[int]) -> None:
    conn.execute(
        "update outbox set published_at = now(), last_error = null where seq = any(%s)",
        [list(seqs)],
    )


def mark_undeliverable(conn: psycopg.Connection, seq: int, *, error: str) -> None:
    """Stop sending an event the hub refuses for good; `events?after=` still serves it."""
    conn.execute(
        """update outbox set published_at = now(), attempts = attempts + 1,
               last_error = %s where seq = %s""",
        [f"undeliverable: {error}"[:500], seq],
    )


def mark_failed(conn: psycopg.Connection, seq: int, *, error: str, retry_in_s: float) -> None:
    """Count a failed attempt and when to try again."""
    conn.execute(
        """update outbox set attempts = attempts + 1, last_error = %s,
               next_attempt_at = now() + make_interval(secs => %s)
           where seq = %s""",
        [error[:500], retry_in_s, seq],
    )


def events_after(
    conn: psycopg.Connection, after: int, *, limit: int, group: str | None = None
) -> list[OutboxEvent]:
    """Sequenced events with seq > after, published or not, oldest first; with group, only
    those sent to it (what a display in that group received live)."""
    rows = conn.execute(
        f"""select {_COLUMNS} from outbox
             where seq > %(after)s and (%(group)s::text is null or %(group)s = any(groups))
             order by seq limit %(limit)s""",
        {"after": after, "group": group, "limit": limit},
    ).fetchall()
    return [OutboxEvent.from_row(row) for row in rows]


def kept_between(conn: psycopg.Connection, after: int, upto: int) -> int:
    """How many events with after < seq <= upto are still kept (seqs have no gaps, so fewer
    than upto - after means the retention purge took some)."""
    return conn.execute(
        "select count(*) as n from outbox where seq > %s and seq <= %s", [after, upto]
    ).fetchone()["n"]


# A probe does not queue behind a restaurant whose outbox is locked (a migration altering it):
# that one is skipped this round and the others still get their tickets out.
_PROBE_LOCK_TIMEOUT = "200ms"
_SKIPPABLE = (psycopg.errors.LockNotAvailable, psycopg.errors.UndefinedTable)


def schemas_with_due_events(schemas: Sequence[str], *, chunk: int = 200) -> list[str]:
    """Schemas with events to sequence or due to publish (one query per `chunk` schemas, each
    in its own transaction: one for the whole fleet held ~7 locks per restaurant to the end and
    ran out of lock slots past a thousand or two)."""
    with transaction() as conn:
        # A schema the fleet migration has not reached yet has no outbox; skip it, not the run.
        rows = conn.execute(
            """select n.nspname from pg_namespace n join pg_class c on c.relnamespace = n.oid
               where c.relname = 'outbox' and n.nspname = any(%s)""",
            [list(schemas)],
        ).fetchall()
    ready = sorted(row["nspname"] for row in rows)
    due: list[str] = []
    for start in range(0, len(ready), chunk):
        part = ready[start : start + chunk]
        try:
            due.extend(_due_among(part))
        except _SKIPPABLE:
            # One of them is locked or was just dropped: ask one by one, skipping that one.
            for schema in part:
                with contextlib.suppress(*_SKIPPABLE):
                    due.extend(_due_among([schema]))
    return due


def _due_among(schemas: Sequence[str]) -> list[str]:
    queries = [
        sql.SQL(
            "(select {name}::text as schema_name from {table} where published_at is null"
            " and (seq is null or next_attempt_at <= now()) limit 1)"
        ).format(name=sql.Literal(schema), table=sql.Identifier(schema, "outbox"))
        for schema in schemas
    ]
    with transaction() as conn:
        conn.execute("select set_config('lock_timeout', %s, true)", [_PROBE_LOCK_TIMEOUT])
        found = conn.execute(sql.SQL(" union all ").join(queries)).fetchall()
    return [row["schema_name"] for row in found]


def purge_published(conn: psycopg.Connection, *, older_than_days: int) -> int:
    """Forget published events older than the catch-up window; returns how many."""
    cursor = conn.execute(
        "delete from outbox where published_at < now() - make_interval(days => %s)",
        [older_than_days],
    )
    return cursor.rowcount
