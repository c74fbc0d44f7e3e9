"""Timers behind the orders: publish what the post-commit path missed, and purge old rows."""

from __future__ import annotations

import asyncio
import logging

import azure.durable_functions as df
import azure.functions as func
import psycopg

from functions.operation_history import purge_ended_operations
from functions.stopped_deletions import resume_stopped_deletions
from shared.db import tenant_transaction
from shared.events.dispatch import publish_due_events, publishing_tenants
from shared.events.outbox import purge_published
from shared.images.photo_sweep import sweep_item_photos
from shared.logs import log_context
from shared.menus.snapshot_retention import purge_unused_snapshots
from shared.orders.contact_retention import forget_old_phone_numbers
from shared.orders.idempotency import purge_expired_keys
from shared.rate_limit import purge_windows

bp = df.Blueprint()
logger = logging.getLogger("stelly.timers")

# How long kitchen displays can catch up with `events?after=` before they must reload orders.
EVENT_RETENTION_DAYS = 7


@bp.timer_trigger(schedule="*/10 * * * * *", arg_name="timer", run_on_startup=False)
def publish_pending_events(timer: func.TimerRequest) -> None:
    """Every 10 s: publish each tenant's unsent events whose backoff has passed."""
    result = publish_due_events()
    if result.published or result.failed:
        logger.info(
            "outbox sweep published %s events (failed: %s)", result.published, result.failed
        )


# One timer for the restaurants' rows and the platform's operations: on Flex Consumption every
# timer is a scale group of its own, and each group's instances count against Postgres's
# connection budget (infra/README.md), which one more group would cut to a pool of 1.
@bp.timer_trigger(schedule="0 7 * * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def purge_order_housekeeping(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """Hourly: expired idempotency keys, finished rate-limit windows, old published events,
    old snapshots no order used, old pickup phone numbers, photo files no menu shows; then
    platform operations that ended and began over 30 days ago, and deletions that stopped."""
    try:
        await asyncio.to_thread(_housekeep_restaurants)
    finally:
        # The task hub is another store: its work runs whatever happened to the database.
        await _housekeep_operations(client)


async def _housekeep_operations(client: df.DurableOrchestrationClient) -> None:
    try:
        await purge_ended_operations(client)
    finally:
        await resume_stopped_deletions(client)


def _housekeep_restaurants() -> None:
    for schema, slug in publishing_tenants():
        # No request set the log context on a timer: each line names its restaurant.
        with log_context(tenant=slug, function="purge_order_housekeeping"):
            _housekeep(schema, slug)


def _housekeep(schema: str, slug: str) -> None:
    try:
        with tenant_transaction(schema) as conn:
            keys = purge_expired_keys(conn)
            purge_windows(conn)
            events = purge_published(conn, older_than_days=EVENT_RETENTION_DAYS)
            phones = forget_old_phone_numbers(conn)
            snapshots = _purge_snapshots(conn, slug)
    except Exception:
        # One tenant's broken schema must not stop the others' clean-up.
        logger.exception("housekeeping for %s failed", slug)
        return
    # Storage after the transaction: no connection is held while blobs are listed.
    photos = _sweep_photos(schema, slug)
    if keys or events or snapshots or phones or photos:
        logger.info(
            "purged %s idempotency keys, %s events, %s menu snapshots, %s phone numbers"
            " and %s photo files of %s", keys, events, snapshots, phones, photos, slug,
        )  # fmt: skip


def _sweep_photos(schema: str, slug: str) -> int:
    try:
        return len(sweep_item_photos(schema, slug))
    except Exception:
        # Storage down this hour: the photos wait for the next sweep.
        logger.exception("photo sweep for %s failed", slug)
        return 0


def _purge_snapshots(conn: psycopg.Connection, slug: str) -> int:
    """purge_unused_snapshots in a savepoint: a schema not yet at tenant migration 0006 (the
    fleet run comes after a deployment) refuses the delete, and must not lose the rest."""
    try:
        with conn.transaction():
            return purge_unused_snapshots(conn)
    except psycopg.errors.RestrictViolation:
        logger.info("menu snapshots of %s kept: its schema is not at migration 0006 yet", slug)
        return 0
