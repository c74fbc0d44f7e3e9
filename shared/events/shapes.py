"""The events kitchen displays and customers receive, live over Web PubSub and on the catch-up
page (`GET /api/v1/kitchen/events`), for the API description: one shape per `type`.

The events are built as dicts where each change happens (shared/orders/records.py,
shared/orders/state_machine.py, shared/pausing_orders.py, shared/menus/publish.py); these closed
models only describe them, and tests/test_openapi_answers.py checks real events against the
served description.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.answer_shape import AnswerShape
from shared.orders.answer_shapes import (
    CustomerFulfilmentOut,
    OrderStatus,
    TicketLineOut,
)
from shared.orders.models import TotalsOut
from shared.store_answer_shapes import SoldOutEntryOut


class PlacedData(AnswerShape):
    """What the kitchen cooks from and the customer recognises (no phone: events reach every
    display and the customer's page)."""

    ticket_number: str
    status: Literal["placed"]
    version: int
    fulfilment: CustomerFulfilmentOut
    lines: list[TicketLineOut]
    totals: TotalsOut


class MovedData(AnswerShape):
    """A move; a recall is `order.preparing` with `from: "ready"`."""

    ticket_number: str
    status: OrderStatus
    from_: OrderStatus = Field(alias="from")
    version: int
    reason: str | None
    ready_by: datetime | None


class ReadyByChangedData(AnswerShape):
    ticket_number: str
    status: OrderStatus
    version: int
    ready_by: datetime
    previous_ready_by: datetime | None


class PausedData(AnswerShape):
    until: datetime
    since: datetime
    by: str
    note: str | None


class ResumedData(AnswerShape):
    by: str


class SoldOutData(AnswerShape):
    """The whole 86 list after the change (replace the one held), and who changed it."""

    items: list[SoldOutEntryOut]
    options: list[SoldOutEntryOut]
    by: str | None


class _Event(AnswerShape):
    id: str
    seq: int
    tenant: str
    occurred_at: datetime


class OrderPlacedEvent(_Event):
    type: Literal["order.placed"]
    order_id: str
    data: PlacedData


class OrderMovedEvent(_Event):
    type: Literal[
        "order.accepted", "order.preparing", "order.ready", "order.completed", "order.cancelled"
    ]
    order_id: str
    data: MovedData


class ReadyByChangedEvent(_Event):
    type: Literal["order.ready_by_changed"]
    order_id: str
    data: ReadyByChangedData


class StorePausedEvent(_Event):
    type: Literal["store.paused"]
    order_id: None
    data: PausedData


class StoreResumedEvent(_Event):
    type: Literal["store.resumed"]
    order_id: None
    data: ResumedData


class MenuSoldOutEvent(_Event):
    type: Literal["menu.sold_out"]
    order_id: None
    data: SoldOutData


KitchenEvent = Annotated[
    OrderPlacedEvent
    | OrderMovedEvent
    | ReadyByChangedEvent
    | StorePausedEvent
    | StoreResumedEvent
    | MenuSoldOutEvent,
    Field(discriminator="type"),
]


class KitchenEventsOut(AnswerShape):
    """A page of events in seq order; ask again with `after=next_after`."""

    events: list[KitchenEvent]
    next_after: int
    has_more: bool
