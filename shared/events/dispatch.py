"""Moving outbox rows to the hub: right after commit (a background thread) and from a timer.

One publisher per tenant at a time (a transaction-scoped advisory lock): it hands out seqs to
newly committed rows (and commits them), publishes in seq order, and marks a row published in
the same transaction that sent it. So events leave in order and, short of a crash between send
and commit, exactly once; clients de-duplicate by `id` for that case. A failed send stops the
tenant's batch (later events must not overtake it) and schedules the row with exponential
backoff. The timer honours the backoff. The post-commit path does not, since new activity is the
cheapest moment to find out whether the hub is back, but it waits RETRY_AFTER_FAILURE_S after a
failed send: otherwise every order of a busy restaurant would try a hub that is down (and read
the backlog to do so).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.db import tenant_transaction, transaction
from shared.events.outbox import (
    OutboxEvent,
    hold_publisher_lock,
    mark_failed,
    mark_published,
    mark_undeliverable,
    pending_events,
    schemas_with_due_events,
    sequence_events,
    try_publisher_lock,
    unpublished_count,
)
from shared.events.publisher import EventPublisher, PublishError, default_publisher
from shared.logs import log_context
from shared.telemetry import (
    record_events_pending,
    record_events_published,
    span_from_traceparent,
    trace_id,
)

logger = logging.getLogger("stelly.events")

BATCH = 100
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
RETRY_AFTER_FAILURE_S = 1.0
# Sends happen inside the publishing transaction, which must not sit idle past the pool's
# idle_in_transaction_session_timeout (60 s): after this long, what was sent is marked and
# the rest goes out in a new transaction. (A slow hub, 0.65 s a send, made 100 sends 65 s.)
BATCH_BUDGET_S = 20.0
# The timer's sweep must end well inside functionTimeout (host.json: 5 min): the host restarts a
# worker whose function overran it, failing every request in flight there. A stalled hub costs
# each restaurant the SDK's timeouts (2 s to connect, 5 s to read) and a slow one 0.65 s a send.
SWEEP_BUDGET_S = 120.0
# One hub serves every restaurant: when this many restaurants in a row could not send, it is
# down, and trying the others would only wait out the same timeouts; the next sweep tries again.
HUB_DOWN_AFTER_FAILED_TENANTS = 3


def backoff_seconds(attempts: int) -> float:
    """1, 2, 4, … seconds after the 1st, 2nd, 3rd failure, at most 30 s."""
    return min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)


@dataclass
class PublishResult:
    published: int = 0
    failed: bool = False


def publish_pending(
    schema: str,
    slug: str,
    publisher: EventPublisher,
    *,
    respect_backoff: bool,
    deadline: float | None = None,
) -> PublishResult:
    """Sequence a tenant's new events, then publish unsent ones in seq order until one fails.

    With a `deadline` (time.monotonic()), no send starts after it; the rest waits for the next
    sweep, in order.
    """
    # On the outbox thread and the timer no request set the log context: name the restaurant.
    with log_context(tenant=slug, function="outbox publish"):
        return _publish_batches(
            schema, slug, publisher, respect_backoff=respect_backoff, deadline=deadline
        )


def _publish_batches(
    schema: str,
    slug: str,
    publisher: EventPublisher,
    *,
    respect_backoff: bool,
    deadline: float | None,
) -> PublishResult:
    result = PublishResult()
    while True:
        with tenant_transaction(schema) as conn:
            hold_publisher_lock(conn, schema)
            # Sequencing needs no hub, so catch-up (`events?after=`) works during an outage.
            # New seqs commit before anything is sent: sent and then rolled back (a lost
            # connection at the commit), they would be handed out again in another order, and a
            # seq the hub already delivered would name a different event.
            if sequence_events(conn):
                continue
            events = pending_events(conn, limit=BATCH)
            head = events[0] if events else None
            if head is None:
                # The backlog is gone, however it went (the sweep only sees tenants with due
                # events, so it would never report the zero).
                record_events_pending(slug, 0)
                return result
            if _not_yet(head, respect_backoff=respect_backoff):
                return result
            sent: list[int] = []
            budget_ends = time.monotonic() + BATCH_BUDGET_S
            if deadline is not None:
                budget_ends = min(budget_ends, deadline)
            for event in events:
                if time.monotonic() > budget_ends:
                    break
                try:
                    # The publish continues the trace of the request that wrote the event.
                    with span_from_traceparent("outbox publish", event.traceparent, tenant=slug):
                        publisher.publish(event.message(slug), event.groups)
                except PublishError as error:
                    if error.permanent:
                        # Held back, it would hold every later event of the restaurant back
                        # for good. Displays see the seq jump and fetch it with events?after=.
                        logger.error(
                            "the hub refused event %s of %s (trace %s) for good; displays "
                            "get it by catching up: %s",
                            event.seq, slug, trace_id(event.traceparent), error,
                        )  # fmt: skip
                        mark_undeliverable(conn, event.seq, error=str(error))
                        continue
                    logger.warning(
                        "publishing event %s of %s (trace %s) failed: %s",
                        event.seq, slug, trace_id(event.traceparent), error,
                    )  # fmt: skip
                    retry_in = backoff_seconds(event.attempts + 1)
                    mark_failed(conn, event.seq, error=str(error), retry_in_s=retry_in)
                    result.failed = True
                    break
                sent.append(event.seq)
            if sent:
                mark_published(conn, sent)
                record_events_published(slug, len(sent))
            result.published += len(sent)
        if result.failed:
            return result
        if len(events) < BATCH and len(sent) == len(events):
            record_events_pending(slug, 0)
            return result
        if deadline is not None and time.monotonic() > deadline:
            return result


def _not_yet(head: OutboxEvent, *, respect_backoff: bool) -> bool:
    """Whether the oldest unsent event must wait: its backoff, or just a second after a failure."""
    if head.next_attempt_at is None:
        return False
    due = head.next_attempt_at
    if not respect_backoff:
        if head.attempts == 0:
            return False
        # After a failure, next_attempt_at is its time plus the backoff for the attempts so far.
        failed_at = due - timedelta(seconds=backoff_seconds(head.attempts))
        due = failed_at + timedelta(seconds=RETRY_AFTER_FAILURE_S)
    return due > datetime.now(UTC)


class OutboxDispatcher:
    """A daemon thread that publishes a tenant's outbox soon after one of its commits.

    The request that committed returns at once; the timer is the guarantee if this process
    stops first. One thread per process keeps the hub from being hammered during an outage.
    """

    def __init__(self, publisher: Callable[[], EventPublisher] = default_publisher) -> None:
        self._publisher = publisher
        self._pending: dict[str, str] = {}
        self._busy = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def notify(self, schema: str, slug: str) -> None:
        """Ask for schema's outbox to be published (cheap; never blocks on the hub)."""
        with self._condition:
            self._pending[schema] = slug
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="stelly-outbox", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing is pending or being published; False on timeout."""
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._pending and not self._busy, timeout=timeout_s
            )

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: bool(self._pending))
                batch, self._pending = self._pending, {}
                self._busy = True
            try:
                # Every restaurant's new events get their seqs before any send: with a hub that
                # stalls, each send waits out its timeout, and the kitchens of the restaurants
                # after the first would read nothing from `events?after=` until their turn. (One
                # restaurant alone is sequenced first thing by its publish.)
                if len(batch) > 1:
                    for schema, slug in batch.items():
                        _sequence_quietly(schema, slug)
                for schema, slug in batch.items():
                    try:
                        publish_pending(schema, slug, self._publisher(), respect_backoff=False)
                    except Exception:
                        # The timer retries; the thread must survive a database hiccup.
                        logger.exception("outbox dispatch for %s failed", slug)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()


def sequence_now(schema: str) -> bool:
    """Hand out seqs to the tenant's newly committed events unless a publisher holds the tenant
    (it does so itself before it sends); False when one did."""
    with tenant_transaction(schema) as conn:
        if not try_publisher_lock(conn, schema):
            return False
        sequence_events(conn)
    return True


def _sequence_quietly(schema: str, slug: str) -> None:
    try:
        sequence_now(schema)
    except Exception:
        # The publish that follows sequences too, and the timer retries.
        logger.exception("sequencing the outbox of %s failed", slug)


dispatcher = OutboxDispatcher()


def publishing_tenants() -> list[tuple[str, str]]:
    """(schema, slug) of every tenant whose events may still be due."""
    with transaction() as conn:
        rows = conn.execute(
            "select schema_name, slug from tenants where status in ('active', 'suspended')"
            " order by slug"
        ).fetchall()
    return [(row["schema_name"], row["slug"]) for row in rows]


def publish_due_events(publisher: EventPublisher | None = None) -> PublishResult:
    """The timer's sweep: publish every tenant's due events, honouring backoff.

    It stops early, leaving the rest to the next sweep, once SWEEP_BUDGET_S is spent or
    HUB_DOWN_AFTER_FAILED_TENANTS restaurants in a row could not send.
    """
    tenants = publishing_tenants()
    due = set(schemas_with_due_events([schema for schema, _ in tenants]))
    waiting = [(schema, slug) for schema, slug in tenants if schema in due]
    # A sweep cut short must not leave the same restaurants waiting every time.
    random.shuffle(waiting)
    deadline = time.monotonic() + SWEEP_BUDGET_S
    total = PublishResult()
    failed_in_a_row = 0
    for done, (schema, slug) in enumerate(waiting):
        hub_down = failed_in_a_row >= HUB_DOWN_AFTER_FAILED_TENANTS
        if hub_down or time.monotonic() > deadline:
            reason = "the hub is not taking events" if hub_down else "its time is up"
            logger.warning(
                "outbox sweep stopped after %s of %s restaurants with due events: %s",
                done, len(waiting), reason,
            )  # fmt: skip
            break
        try:
            result = publish_pending(
                schema,
                slug,
                publisher or default_publisher(),
                respect_backoff=True,
                deadline=deadline,
            )
        except Exception:
            # One tenant's broken schema must not stop the others' tickets.
            logger.exception("outbox sweep for %s failed", slug)
            total.failed = True
            continue
        if result.failed:
            failed_in_a_row += 1
        elif result.published:
            failed_in_a_row = 0
        total.published += result.published
        total.failed = total.failed or result.failed
        with tenant_transaction(schema) as conn:
            record_events_pending(slug, unpublished_count(conn))
    return total
