"""Placing an order exactly once, in two transactions.

1. Admission (asynchronous commit): claim the Idempotency-Key (or find its stored answer),
   validate and price the order, then count the request against the rate limit and take a
   ticket number in one round trip just before the commit.
2. The order (synchronous commit): its rows, its first `order_events` row, its `order.placed`
   outbox event and the stored idempotent answer, together. The outbox is published after it.

Admission commits without waiting for its WAL flush: the order's own commit flushes the WAL up to
and including it, and if the server crashes first nothing durable depends on it. Its short row
locks (key, rate window, ticket counter) are therefore never held across a WAL flush, so orders
of one restaurant do not queue behind each other's commits; the two rows many requests share
(rate window, ticket counter) are locked only for that last round trip and the commit.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg

from shared import errors
from shared.config import get_settings
from shared.db import tenant_transaction
from shared.errors import FieldError
from shared.events.dispatch import dispatcher
from shared.log_redaction import error_text
from shared.menus.availability import available_now
from shared.ordering_pause import pause_in_force
from shared.orders import idempotency
from shared.orders.current_menu import current_menu
from shared.orders.models import FulfilmentIn, OrderIn
from shared.orders.pricing import PricedOrder, TaxRule, price_order
from shared.orders.records import insert_order, receipt, with_access
from shared.orders.tickets import business_date, format_ticket, take_ticket
from shared.rate_limit import add_hit, client_bucket, retry_after, window_start
from shared.restaurant_settings import RestaurantSettings, effective_settings, is_open
from shared.special_days import note_on
from shared.tables_qr import Table, table_for_token, table_still_open
from shared.tenants import TenantRecord

logger = logging.getLogger("stelly.orders")


@dataclass(frozen=True)
class PlacementResult:
    """The answer to send: a new order (201) or the stored first answer to the same key."""

    status: int
    body: dict[str, Any]
    replayed: bool


@dataclass(frozen=True)
class _Admitted:
    """A claimed, counted, validated and priced order with its ticket number."""

    claim: idempotency.Claim | None
    priced: PricedOrder
    table: Table | None
    day: date
    number: int


def _fulfilment_problems(
    conn: psycopg.Connection, tenant: TenantRecord, fulfilment: FulfilmentIn
) -> tuple[Table | None, list[FieldError]]:
    problems = []
    if fulfilment.type == "pickup":
        if fulfilment.name is None:
            problems.append(FieldError("fulfilment.name", "is required for pickup"))
        if fulfilment.phone is None:
            problems.append(FieldError("fulfilment.phone", "is required for pickup"))
        if fulfilment.table_token is not None:
            problems.append(FieldError("fulfilment.table_token", "is only for dine_in"))
        return None, problems
    if fulfilment.phone is not None:
        # Nobody calls a table: a number kept for 30 days with no use is only a liability.
        problems.append(
            FieldError("fulfilment.phone", "is only for pickup; leave it out for dine_in")
        )
    if fulfilment.table_token is None:
        problems.append(FieldError("fulfilment.table_token", "is required for dine_in"))
        return None, problems
    table = table_for_token(conn, tenant.id, fulfilment.table_token)
    if table is None:
        problems.append(_stale_table_code())
    return table, problems


def _closed_message(settings: RestaurantSettings, now: datetime) -> str:
    """Closed now, with what the restaurant says about today when it is a special day."""
    note = note_on(settings.special_days, business_date(now, settings.timezone))
    today = f" ({note})" if note else ""
    return f"The restaurant is closed now{today}; order during its hours"


def _stale_table_code() -> FieldError:
    message = "is not a current table code of this restaurant; scan the table's QR code again"
    return FieldError("fulfilment.table_token", message)


def _validate(
    conn: psycopg.Connection,
    tenant: TenantRecord,
    settings: RestaurantSettings,
    order: OrderIn,
    now: datetime,
) -> tuple[PricedOrder, Table | None]:
    """The priced order and its table, or a 422 listing every problem found."""
    # Closed first: a pause "until 19:45" would mislead a customer when the doors open tomorrow.
    if not is_open(settings, now):
        raise errors.invalid_field("body", _closed_message(settings, now))
    pause = pause_in_force(tenant.ordering_pause, now)
    if pause is not None:
        shut = not is_open(settings, pause.until)
        refusal = pause.refusal(settings.timezone, now, open_at_until=not shut)
        raise errors.invalid_field("body", refusal)
    menu = current_menu(conn, tenant.id)
    if menu is None:
        raise errors.invalid_field("body", "This restaurant has not published a menu yet")
    table, problems = _fulfilment_problems(conn, tenant, order.fulfilment)
    priced, line_problems = price_order(
        menu,
        order.lines,
        tip=order.tip,
        rule=TaxRule(settings.tax.rate_bp, settings.tax.inclusive),
        is_available=lambda item: available_now(item, settings.timezone, now),
        now_utc=now,
    )
    problems = line_problems + problems
    if problems or priced is None:
        raise errors.validation_failed(problems)
    return priced, table


def _count_and_take_ticket(
    conn: psycopg.Connection, client_ip: str, day: date | None, now: datetime
) -> tuple[int | None, int | None]:
    """Count the request and take day's ticket number (None: no ticket) in one round trip.

    Returns (seconds to wait when over the rate limit, else None; the ticket number). Both rows
    are shared by many requests (every order of the day, every order from one address) and stay
    locked until commit, so they are taken last, together, right before the commit.
    """
    start = window_start(now)
    with conn.pipeline():
        hit = add_hit(conn, f"orders:{client_bucket(client_ip)}", start)
        ticket = take_ticket(conn, day) if day is not None else None
    hit_row = hit.fetchone()
    assert hit_row is not None
    limit = get_settings().order_rate_limit_per_minute
    wait = retry_after(hit_row["hits"], limit=limit, start=start, now=now)
    if ticket is None:
        return wait, None
    ticket_row = ticket.fetchone()
    assert ticket_row is not None
    return wait, int(ticket_row["last_number"])


def _admit(
    tenant: TenantRecord,
    order: OrderIn,
    *,
    key: str | None,
    client_ip: str,
    refuse_new: errors.ProblemError | None,
    now: datetime,
) -> _Admitted | idempotency.StoredResponse:
    """Transaction 1: the key, validation and pricing, then the rate limit and ticket number."""
    settings = effective_settings(tenant)
    rejected: errors.ProblemError | None = None
    with tenant_transaction(tenant.schema_name, synchronous_commit=False) as conn:
        claim = None
        if key is not None:
            fingerprint = idempotency.request_fingerprint(order.model_dump(mode="json"))
            outcome = idempotency.claim_key(conn, key, fingerprint)
            if isinstance(outcome, idempotency.StoredResponse):
                return outcome  # a replay is not counted against the rate limit
            claim = outcome
        if refuse_new is not None:
            raise refuse_new  # rolls the claim back: the key stays unused
        # Validation only reads, so it runs before the shared rows are locked; a request over
        # the limit is still answered 429 rather than 422.
        try:
            priced, table = _validate(conn, tenant, settings, order, now)
        except errors.ProblemError as problem:
            rejected = problem
        day = business_date(now, settings.timezone)
        wait, number = _count_and_take_ticket(conn, client_ip, None if rejected else day, now)
        if wait is not None:
            # Raising rolls back the claim, the count and the ticket: the key stays unused.
            raise errors.too_many_requests(wait)
        if rejected is not None and claim is not None:
            # Commit the count (rejected requests count too) but free the key for a fixed retry.
            idempotency.drop_claim(conn, claim)
    if rejected is not None:
        raise rejected
    assert number is not None
    return _Admitted(claim, priced, table, day, number)


def _write(
    tenant: TenantRecord, order: OrderIn, admitted: _Admitted, now: datetime
) -> dict[str, Any]:
    """Transaction 2: the order with its event and stored answer; returns the stored receipt."""
    order_id = str(uuid.uuid4())
    body = receipt(tenant, order_id, format_ticket(admitted.number), admitted.priced, now)
    with tenant_transaction(tenant.schema_name) as conn:
        table = admitted.table
        if table is not None:
            # Rotated (or deleted) since transaction 1 checked the code: the rotation said
            # older codes stop working. The label on the ticket is the table's current one.
            # The row stays share-locked to the commit: no rotation or deletion slips in.
            table = table_still_open(conn, table)
            if table is None:
                raise errors.validation_failed([_stale_table_code()])
        with conn.pipeline():
            # Read in the same round trip as the writes (pipelined), checked before the commit.
            standing = conn.execute("select status from public.tenants where id = %s", [tenant.id])
            insert_order(
                conn, tenant=tenant, order_id=order_id, day=admitted.day,
                number=admitted.number, order=order, priced=admitted.priced,
                table=table, now=now,
            )  # fmt: skip
            claim = admitted.claim
            stored = idempotency.store_response(conn, claim, 201, body) if claim else None
        _require_not_closing(standing.fetchone())
        # Someone took the key over while we worked: roll back rather than a second order.
        if stored is not None and stored.rowcount != 1:
            raise idempotency.lost_claim()
    return body


def _require_not_closing(row: dict[str, Any] | None) -> None:
    """410, rolling the order back, once the restaurant's deletion has begun.

    The tenant record the request was served from may be up to 5 s old on another instance,
    and older still when Table Storage was down as the deletion began (the directory keeps
    saying `active` until the deletion is resumed, up to an hour later): an order taken then
    would be dropped with the schema after its customer was told 201.
    """
    if row is None or row["status"] in ("deleting", "deleted"):
        raise errors.gone("This restaurant has closed its storefront; the order was not placed")


def _release_quietly(tenant: TenantRecord, claim: idempotency.Claim) -> None:
    # The original error is what the client must see. A release that fails too (the database
    # is down) is tried again in the background, so the client's retry is not told for a
    # minute that a request which already failed is still being processed.
    try:
        idempotency.release_key(tenant.schema_name, claim)
    except Exception as error:
        logger.warning(
            "could not release idempotency key of %s (%s); retrying in the background",
            tenant.slug, error_text(error),
        )  # fmt: skip
        idempotency.late_releases.add(tenant.schema_name, claim)


def place_order(
    tenant: TenantRecord,
    order: OrderIn,
    *,
    idempotency_key: str | None,
    client_ip: str,
    refuse_new: errors.ProblemError | None = None,
    now: datetime | None = None,
) -> PlacementResult:
    """Place order for tenant (or replay the stored answer to the same Idempotency-Key).

    refuse_new: why no new order is taken now (a suspended restaurant), while a retry of one
    placed before still gets its receipt, which opens the order to read, follow or cancel.

    A ticket number is never handed out twice; it is skipped only if writing the order fails
    after admission (a database error, a key taken over by a retry, or the dine-in table
    deleted meanwhile, which answers 422 like a stale table code).
    """
    now = now or datetime.now(UTC)
    admitted = _admit(
        tenant, order, key=idempotency_key, client_ip=client_ip, refuse_new=refuse_new, now=now
    )
    if isinstance(admitted, idempotency.StoredResponse):
        # Only a 201 is ever stored (see _write), without its access token.
        return PlacementResult(admitted.status, with_access(tenant, admitted.body), replayed=True)
    try:
        body = _write(tenant, order, admitted, now)
    except BaseException:
        if admitted.claim is not None:
            _release_quietly(tenant, admitted.claim)
        raise
    dispatcher.notify(tenant.schema_name, tenant.slug)
    return PlacementResult(201, with_access(tenant, body), replayed=False)
