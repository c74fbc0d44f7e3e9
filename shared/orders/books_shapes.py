"""The shapes of the orders as a manager reads them (a business day's orders and sales, one
order with its prices and who moved it), for the API description.

The answers are plain dicts (shared/orders/day_book.py); these closed models only describe them,
and tests/test_openapi_admin_answers.py checks real answers against the served description.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import ConfigDict, Field, create_model

from shared.answer_shape import AnswerShape
from shared.orders.answer_shapes import (
    ChargedModifierOut,
    OrderHeadOut,
    OrderStatus,
    StaffFulfilmentOut,
)
from shared.orders.models import TotalsOut
from shared.orders.state_machine import STATUSES


class DayOrderOut(OrderHeadOut):
    """One order of the day: its head, who it is for, how many dishes, and its total in minor
    units of `currency`."""

    fulfilment: StaffFulfilmentOut
    item_count: int
    total: int
    currency: str


# Every status, 0 when the day has none.
DayStatusCountsOut = create_model(
    "DayStatusCountsOut",
    __base__=AnswerShape,
    __doc__="The day's orders in each status, 0 for a status none is in.",
    **{status: (int, ...) for status in STATUSES},
)


class DaySalesOut(AnswerShape):
    """The day's orders in one currency, cancelled ones left out. `tax_included` is the part of
    `tax` already in `subtotal`: `subtotal + tax - tax_included + tip == total`."""

    currency: str
    orders: int
    subtotal: int
    tax: int
    tax_included: int
    tip: int
    total: int


class ItemSoldOut(AnswerShape):
    """A dish by the name it was sold under, per currency: how many, in how many orders, and
    what its lines came to."""

    name: str
    currency: str
    quantity: int
    orders: int
    sales: int


class DaySummaryOut(AnswerShape):
    """The whole day, whatever the page: orders by status, sales per currency, dishes sold
    (most first)."""

    orders: int
    by_status: DayStatusCountsOut
    sales: list[DaySalesOut]
    items: list[ItemSoldOut]


class DayBookOut(AnswerShape):
    """`GET /api/v1/admin/orders`: the business day (`date`, the restaurant's local date), its
    summary, and a page of its orders in ticket order; `next_cursor` (`?cursor=`) reads on."""

    date: date
    summary: DaySummaryOut
    orders: list[DayOrderOut]
    next_cursor: int | None


class FoundOrderOut(DayOrderOut):
    """An order found by its customer, with the business day it belongs to."""

    business_date: date


class CustomerOrdersOut(AnswerShape):
    """`GET /api/v1/admin/customer-orders`: newest first; `truncated` when more matched than
    were listed (say more of the name, or the phone)."""

    orders: list[FoundOrderOut]
    truncated: bool


class ManagerLineOut(AnswerShape):
    name: str
    quantity: int
    station: str | None
    note: str | None
    allergens: list[str]
    unit_price: int
    line_total: int
    modifiers: list[ChargedModifierOut]


class ManagerTotalsOut(TotalsOut):
    """With the tax rate in basis points and whether prices included it."""

    model_config = ConfigDict(extra="forbid")

    # Basis points to a hundredth: 2000, or 887.5 for 8.875 %.
    tax_rate_bp: int | float
    tax_inclusive: bool


class ManagerStepOut(AnswerShape):
    """One move: `from` null for the placement; `by` who made it (`customer`, or
    `staff:<subject>` for the kitchen's moves)."""

    from_: OrderStatus | None = Field(alias="from")
    to: OrderStatus
    by: str
    reason: str | None
    at: datetime


class ManagerOrderOut(OrderHeadOut):
    """`GET /api/v1/admin/orders/{id}`: money in minor units of `totals.currency`."""

    business_date: date
    menu_version: int
    fulfilment: StaffFulfilmentOut
    lines: list[ManagerLineOut]
    totals: ManagerTotalsOut
    history: list[ManagerStepOut]
