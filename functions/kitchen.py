"""Kitchen endpoints (staff of the host's restaurant): live tickets, catch-up, state changes."""

from __future__ import annotations

from typing import Annotated, Literal

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from functions.http import Call, endpoint, json_response
from functions.row_http import path_id
from shared import errors
from shared.db import tenant_transaction
from shared.events.groups import kitchen_group, station_group
from shared.events.outbox import events_after, kept_between
from shared.events.publisher import PublishError, client_url
from shared.events.shapes import KitchenEventsOut
from shared.field_rules import rule_failures
from shared.orders.answer_shapes import (
    KitchenTicketOut,
    KitchenTicketsOut,
    LiveUrlOut,
    OrderMoveOut,
)
from shared.orders.models import Reason
from shared.orders.queries import (
    MAX_KITCHEN_TICKETS,
    TICKET_CURSOR_PATTERN,
    TicketCursor,
    kitchen_stations,
    kitchen_ticket,
    kitchen_tickets,
)
from shared.orders.state_machine import (
    MAX_READY_MINUTES,
    OPEN_STATUSES,
    PROMISING,
    parse_statuses,
    revise_ready_by,
    transition_order,
)
from shared.text_shapes import STATION
from shared.versioning import Expected, ExpectedVersion, required_version, version_etag

bp = func.Blueprint()

KITCHEN_ROLES = ("staff", "manager", "owner")
MAX_EVENTS_PAGE = 500


class NegotiateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station: str | None = Field(None, pattern=STATION)


class OrdersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = ",".join(OPEN_STATUSES)
    limit: int = Field(MAX_KITCHEN_TICKETS, ge=1, le=MAX_KITCHEN_TICKETS)
    # The previous page's next_cursor.
    cursor: str | None = Field(None, pattern=TICKET_CURSOR_PATTERN)


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: int = Field(0, ge=0, le=2**63 - 1)  # outbox.seq is a bigint
    limit: int = Field(100, ge=1, le=MAX_EVENTS_PAGE)
    # A station's display (negotiated with ?station=) catches up on what its group received.
    station: str | None = Field(None, pattern=STATION)


class TransitionIn(BaseModel):
    """Move an order: where to, the version you saw (or If-Match), and why (cancel needs it)."""

    model_config = ConfigDict(extra="forbid")

    to: Literal["placed", "accepted", "preparing", "ready", "completed", "cancelled"]
    expected_version: ExpectedVersion | None = None
    reason: Reason | None = None
    # The kitchen's promise to the customer: ready this many minutes from now.
    ready_in_minutes: Annotated[StrictInt, Field(ge=1, le=MAX_READY_MINUTES)] | None = None

    @model_validator(mode="after")
    def _promise_when_cooking(self) -> TransitionIn:
        if self.ready_in_minutes is not None and self.to not in PROMISING:
            message = "is only for accepting or preparing an order (to: accepted or preparing)"
            raise rule_failures("TransitionIn", [(("ready_in_minutes",), message)], self)
        return self


class ReadyByIn(BaseModel):
    """A new promise for an order being made: ready this many minutes from now."""

    model_config = ConfigDict(extra="forbid")

    ready_in_minutes: Annotated[StrictInt, Field(ge=1, le=MAX_READY_MINUTES)]
    expected_version: ExpectedVersion | None = None


@bp.route(route="v1/kitchen/negotiate", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    query=NegotiateQuery,
    responses={200: LiveUrlOut},
    summary="Web PubSub client URL for kitchen displays",
)
def kitchen_negotiate(call: Call) -> func.HttpResponse:
    """`{"url"}` joining the kitchen group (or `?station=`); it may join this tenant's only."""
    tenant = call.require_tenant()
    query: NegotiateQuery = call.parsed_query
    with tenant_transaction(tenant.schema_name) as conn:
        stations = kitchen_stations(conn, tenant.id)
    _require_station(query.station, stations)
    allowed = [kitchen_group(tenant.slug), *(station_group(tenant.slug, s) for s in stations)]
    join = [station_group(tenant.slug, query.station)] if query.station else allowed[:1]
    try:
        url = client_url(
            user_id=f"staff:{call.require_principal().subject}", join=join, allowed=allowed
        )
    except PublishError:
        raise errors.service_unavailable("Live updates are unavailable right now", 5) from None
    return json_response({"url": url}, headers={"Cache-Control": "no-store"})


@bp.route(route="v1/kitchen/orders", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    query=OrdersQuery,
    responses={200: KitchenTicketsOut},
    summary="Tickets by status (open ones by default)",
)
def kitchen_orders(call: Call) -> func.HttpResponse:
    """`{"orders", "as_of_seq", "truncated", "next_cursor"}`: follow events after as_of_seq.

    Every event up to as_of_seq is reflected in the tickets; events after it may be too (an
    order that committed between the two reads), so a display applies an event only when its
    `data.version` is newer than the ticket's `version`. `truncated`: more tickets than `limit`,
    the next page at `?cursor=<next_cursor>` (a display paging follows events from the first
    page's as_of_seq).
    """
    tenant = call.require_tenant()
    query: OrdersQuery = call.parsed_query
    wanted = parse_statuses(query.status)
    with tenant_transaction(tenant.schema_name) as conn:
        # Read the seq first: every event up to it is already reflected in the tickets below.
        seq = conn.execute("select last_seq from outbox_counter").fetchone()["last_seq"]
        after = TicketCursor.parse(query.cursor) if query.cursor else None
        page = kitchen_tickets(conn, wanted, limit=query.limit, after=after)
    cursor = page.next_cursor
    return json_response(
        {
            "orders": page.tickets,
            "as_of_seq": seq,
            "truncated": cursor is not None,
            "next_cursor": str(cursor) if cursor else None,
        },
        headers={"Cache-Control": "no-store"},
    )


@bp.route(route="v1/kitchen/events", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    query=EventsQuery,
    responses={200: KitchenEventsOut},
    summary="Events after a seq, for catch-up",
)
def kitchen_events(call: Call) -> func.HttpResponse:
    """`{"events", "next_after", "has_more"}`: a bounded page in seq order."""
    tenant = call.require_tenant()
    query: EventsQuery = call.parsed_query
    with tenant_transaction(tenant.schema_name) as conn:
        # last_seq first: events sequenced between the two reads must not look like a gap.
        last_seq = conn.execute("select last_seq from outbox_counter").fetchone()["last_seq"]
        # A misspelt station would be served nothing and told the newest seq: its display
        # would skip its own tickets for good.
        if query.station:
            _require_station(query.station, kitchen_stations(conn, tenant.id))
        group = station_group(tenant.slug, query.station) if query.station else None
        events = events_after(conn, query.after, limit=query.limit + 1, group=group)
        page = events[: query.limit]
        has_more = len(events) > query.limit
        newest = page[-1].seq if page else query.after
        # Run on to the newest seq once nothing more is this display's: a station's live feed
        # skips the other stations' seqs, and one call settles each such jump.
        next_after = newest if has_more else max(newest, last_seq)
        kept = kept_between(conn, query.after, next_after)
    if query.after > last_seq:
        # Seqs commit before any is sent, so no display can have seen one beyond last_seq: this
        # one comes from elsewhere (a database restored from a backup, a corrupt value), and
        # "nothing new" would keep it waiting for good while new events reuse its seqs.
        raise errors.gone(
            f"No event has seq {query.after} yet (the newest is {last_seq}); reload "
            "GET /api/v1/kitchen/orders and follow events from its as_of_seq"
        )
    if query.after < last_seq and kept < next_after - query.after:
        # Seqs are handed out without gaps and only the retention purge deletes events.
        raise errors.gone(
            f"Events after seq {query.after} are no longer kept (7 days); reload "
            "GET /api/v1/kitchen/orders and follow events from its as_of_seq"
        )
    return json_response(
        {
            "events": [event.message(tenant.slug) for event in page],
            "next_after": next_after,
            "has_more": has_more,
        },
        headers={"Cache-Control": "no-store"},
    )


def _require_station(station: str | None, stations: list[str]) -> None:
    """422 for a station the menu does not have (negotiate and catch-up alike)."""
    if station is not None and station not in stations:
        known = ", ".join(stations) or "none"
        raise errors.invalid_field("query.station", f"is not a station here (known: {known})")


def _expected(call: Call, body: TransitionIn | ReadyByIn) -> Expected:
    if_match = call.req.headers.get("if-match")
    return required_version(if_match, body.expected_version, 'the order\'s ETag, e.g. "3"')


@bp.route(route="v1/kitchen/orders/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@endpoint(
    etag=True,
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    responses={200: KitchenTicketOut, 404: None},
    summary="One ticket, whatever its status",
)
def kitchen_order(call: Call) -> func.HttpResponse:
    """The ticket as the list shows it, with its version as ETag (If-Match for a transition):
    a display refreshes one ticket, or finds the order a customer calls about."""
    tenant = call.require_tenant()
    order_id = str(path_id(call, "order"))
    with tenant_transaction(tenant.schema_name) as conn:
        ticket = kitchen_ticket(conn, order_id)
    if ticket is None:
        raise errors.not_found("No such order")
    return json_response(
        ticket, headers={"ETag": version_etag(ticket["version"]), "Cache-Control": "no-store"}
    )


@bp.route(
    route="v1/kitchen/orders/{id}/transition", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS
)
@endpoint(
    etag=True,
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    body=TransitionIn,
    headers=("If-Match",),
    responses={200: OrderMoveOut},
    summary="Move an order to its next state",
)
def kitchen_transition(call: Call) -> func.HttpResponse:
    """200 with the new status and version; 409 when illegal or stale (412 for If-Match)."""
    tenant = call.require_tenant()
    body: TransitionIn = call.body
    result = transition_order(
        tenant,
        str(path_id(call, "order")),
        to=body.to,
        expected=_expected(call, body),
        reason=body.reason or None,
        actor=f"staff:{call.require_principal().subject}",
        ready_in_minutes=body.ready_in_minutes,
    )
    return json_response(result, headers={"ETag": version_etag(result["version"])})


@bp.route(
    route="v1/kitchen/orders/{id}/ready-by", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS
)
@endpoint(
    etag=True,
    tenant=True,
    while_suspended=True,
    roles=KITCHEN_ROLES,
    body=ReadyByIn,
    headers=("If-Match",),
    responses={200: OrderMoveOut},
    summary="Change the ready time of an order being made",
)
def kitchen_ready_by(call: Call) -> func.HttpResponse:
    """200 with the new ready_by and version; 409 once the order is ready or finished, or when
    stale (412 for If-Match)."""
    body: ReadyByIn = call.body
    result = revise_ready_by(
        call.require_tenant(),
        str(path_id(call, "order")),
        ready_in_minutes=body.ready_in_minutes,
        expected=_expected(call, body),
    )
    return json_response(result, headers={"ETag": version_etag(result["version"])})
