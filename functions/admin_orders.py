"""Orders as a manager reads them (owner, manager): a business day's orders and sales, and one
order with what it was charged and who moved it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.http import Call, endpoint, json_response
from functions.row_http import EDITORS, path_id
from shared import errors
from shared.calendar_dates import IsoDate
from shared.db import tenant_transaction
from shared.field_rules import rule_failures
from shared.orders.books_shapes import CustomerOrdersOut, DayBookOut, ManagerOrderOut
from shared.orders.customer_orders import MIN_PHONE_DIGITS, customer_orders, phone_digits
from shared.orders.day_book import MAX_DAY_PAGE, day_orders, day_summary, manager_order
from shared.orders.erasure import forget_customer
from shared.orders.state_machine import parse_statuses
from shared.orders.tickets import business_date
from shared.phone_numbers import Phone
from shared.restaurant_settings import effective_settings
from shared.tenants import TenantRecord
from shared.text_rules import one_line

bp = func.Blueprint()

# Names, phone numbers and takings: never kept by a browser or a proxy.
PRIVATE = {"Cache-Control": "no-store"}


class DayQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # ?date=: the restaurant's business day (its local date, as ticket numbers count); today
    # by default. Not a field named `date`, which would shadow the type in this class.
    day: IsoDate | None = Field(None, alias="date")
    status: str | None = None
    limit: int = Field(50, ge=1, le=MAX_DAY_PAGE)
    # The previous page's next_cursor: the last ticket number it showed.
    cursor: int | None = Field(None, ge=1, le=2**31 - 1)


@bp.route(route="v1/admin/orders", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    query=DayQuery,
    responses={200: DayBookOut},
    summary="A business day's orders and sales",
    # A suspended restaurant still settles with its customers and its books (refunds,
    # disputes, the day's takings): reading the orders it took starts no new business.
    while_suspended=True,
)
def admin_orders(call: Call) -> func.HttpResponse:
    """`{"date", "summary", "orders", "next_cursor"}`: orders in ticket order, a page at a time;
    the summary (counts by status, sales per currency without cancelled orders) is the day's."""
    tenant = call.require_tenant()
    query: DayQuery = call.parsed_query
    statuses = parse_statuses(query.status) if query.status is not None else None
    day = query.day or _today(tenant)
    # One snapshot: an order committing meanwhile is in the page and the summary, or in neither.
    with tenant_transaction(tenant.schema_name, snapshot=True) as conn:
        summary = day_summary(conn, day)
        page = day_orders(conn, day, statuses, limit=query.limit, after=query.cursor or 0)
    body = {
        "date": day.isoformat(),
        "summary": summary,
        "orders": page.orders,
        "next_cursor": page.next_cursor,
    }
    return json_response(body, headers=PRIVATE)


@bp.route(route="v1/admin/orders/{id}", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={200: ManagerOrderOut, 404: None},
    summary="One order with its prices and history",
    while_suspended=True,
)
def admin_order(call: Call) -> func.HttpResponse:
    with tenant_transaction(call.require_tenant().schema_name) as conn:
        order = manager_order(conn, str(path_id(call, "order")))
    if order is None:
        raise errors.not_found("No such order")
    return json_response(order, headers=PRIVATE)


class CustomerQuery(BaseModel):
    """?name= (part of the name the orders were given, case aside) and/or ?phone= (in any
    spelling: +44 20 7946 0000, 020 7946 0000)."""

    model_config = ConfigDict(extra="forbid")

    name: one_line(120) | None = None
    # Checked as an order's phone is: an extension or a stray letter is told, never ignored.
    phone: Phone | None = None

    @model_validator(mode="after")
    def _enough(self) -> CustomerQuery:
        if self.name is None and self.phone is None:
            raise rule_failures("CustomerQuery", [(("name",), "give a name or a phone")], None)
        if self.phone is not None and len(phone_digits(self.phone)) < MIN_PHONE_DIGITS:
            message = f"must have at least {MIN_PHONE_DIGITS} digits after any leading 0"
            raise rule_failures("CustomerQuery", [(("phone",), message)], self.phone)
        return self


@bp.route(route="v1/admin/customer-orders", methods=["GET"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    query=CustomerQuery,
    responses={200: CustomerOrdersOut},
    summary="A customer's orders, by name or phone (newest first)",
    while_suspended=True,
)
def admin_customer_orders(call: Call) -> func.HttpResponse:
    """`{"orders", "truncated"}`: the orders to forget when a customer asks (phones are kept 30
    days, so older orders are found by name)."""
    query: CustomerQuery = call.parsed_query
    with tenant_transaction(call.require_tenant().schema_name) as conn:
        found, truncated = customer_orders(conn, name=query.name, phone=query.phone)
    return json_response({"orders": found, "truncated": truncated}, headers=PRIVATE)


@bp.route(route="v1/admin/orders/{id}/customer", methods=["DELETE"])
@endpoint(
    tenant=True,
    roles=EDITORS,
    responses={200: ManagerOrderOut, 404: None, 409: None},
    summary="Forget the customer of an ended order (right to erasure)",
    # A customer's request to be forgotten is answered whatever the restaurant's standing.
    while_suspended=True,
)
def forget_order_customer(call: Call) -> func.HttpResponse:
    """200 with the order as the manager now sees it: no name, phone, notes or reason of the
    customer's; 409 while the order is open."""
    order = forget_customer(
        call.require_tenant(),
        str(path_id(call, "order")),
        by=f"staff:{call.require_principal().subject}",
    )
    return json_response(order, headers=PRIVATE)


def _today(tenant: TenantRecord) -> date:
    return business_date(datetime.now(UTC), effective_settings(tenant).timezone)
