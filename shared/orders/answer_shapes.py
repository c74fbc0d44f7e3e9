"""The shapes of the answers customers and kitchen displays read about orders, for the API
description.

The views are built as plain dicts (shared/orders/queries.py: one query, no model on the hot
path); these models only describe them. tests/test_openapi_answers.py validates real answers
against the served description, and every model here is closed (`additionalProperties: false`),
so a field added to a view without its shape here fails there, as one left out would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.answer_shape import AnswerShape
from shared.orders.models import TotalsOut
from shared.orders.state_machine import STATUSES

OrderStatus = Literal[STATUSES]
FulfilmentType = Literal["pickup", "dine_in"]


class CustomerFulfilmentOut(AnswerShape):
    """`name` when the customer gave one, `table` for a dine-in."""

    type: FulfilmentType
    name: str | None = None
    table: str | None = None


class StaffFulfilmentOut(CustomerFulfilmentOut):
    """With a pickup's phone, kept 30 days for the restaurant to call the customer."""

    phone: str | None = None


class OrderHeadOut(AnswerShape):
    """What every view of an order starts with (customer, kitchen, manager)."""

    id: str
    ticket_number: str
    status: OrderStatus
    version: int
    placed_at: datetime
    updated_at: datetime
    ready_by: datetime | None


class ChargedModifierOut(AnswerShape):
    group: str
    name: str
    charged: int  # 0 within the group's free quantity


class CustomerLineOut(AnswerShape):
    name: str
    quantity: int
    note: str | None
    unit_price: int
    line_total: int
    modifiers: list[ChargedModifierOut]


class HistoryStepOut(AnswerShape):
    status: OrderStatus
    at: datetime
    reason: str | None


class CustomerOrderOut(OrderHeadOut):
    """`GET /api/v1/store/orders/{id}`: money in minor units of `totals.currency`."""

    fulfilment: CustomerFulfilmentOut
    lines: list[CustomerLineOut]
    totals: TotalsOut
    history: list[HistoryStepOut]


class TicketModifierOut(AnswerShape):
    group: str
    name: str


class TicketLineOut(AnswerShape):
    name: str
    quantity: int
    station: str | None
    note: str | None
    allergens: list[str]
    modifiers: list[TicketModifierOut]


class KitchenTicketOut(OrderHeadOut):
    """A ticket as displays show it: no money, the phone for the staff."""

    age_seconds: int
    menu_version: int
    fulfilment: StaffFulfilmentOut
    lines: list[TicketLineOut]


class KitchenTicketsOut(AnswerShape):
    """Every event up to `as_of_seq` is in the tickets; `next_cursor` reads the next page."""

    orders: list[KitchenTicketOut]
    as_of_seq: int
    truncated: bool
    next_cursor: str | None


class OrderMoveOut(AnswerShape):
    """A transition's or a ready-time change's answer: the order's new head."""

    id: str
    ticket_number: str
    status: OrderStatus
    version: int
    updated_at: datetime
    ready_by: datetime | None


class LiveUrlOut(AnswerShape):
    """A Web PubSub client URL, its access token in the query (valid one hour)."""

    url: str
