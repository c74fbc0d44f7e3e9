"""The order request a storefront sends (design §5) and the receipt it gets back."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.phone_numbers import Phone

MAX_LINES = 50
MAX_QUANTITY = 99
MAX_OPTIONS_PER_LINE = 30
MAX_TIP = 10_000_000

# Control characters (NUL above all, which Postgres text cannot hold) have no place in a note or
# a name; tabs and line breaks are fine.
PRINTABLE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=PRINTABLE_TEXT)
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80, pattern=PRINTABLE_TEXT),
]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class OrderLineIn(BaseModel):
    """One line: a menu item, how many, the chosen option ids (in the order chosen), a note."""

    model_config = ConfigDict(extra="forbid")

    item_id: Ref
    # strict: JSON integers only ("2", 2.0 and true are refused, not coerced).
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)
    option_ids: list[Ref] = Field(default_factory=list, max_length=MAX_OPTIONS_PER_LINE)
    note: Note | None = None


class FulfilmentIn(BaseModel):
    """`pickup` needs name and phone; `dine_in` needs the table token from the QR code."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["pickup", "dine_in"]
    name: Name | None = None
    phone: Phone | None = None
    table_token: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class OrderIn(BaseModel):
    """POST /api/v1/store/orders. Prices are never read from here: the server prices the menu."""

    model_config = ConfigDict(extra="forbid")

    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    fulfilment: FulfilmentIn
    # Minor units, strict like menu prices: "5.00" must be refused, not become a 5-cent tip.
    tip: int = Field(0, ge=0, le=MAX_TIP, strict=True)


class TotalsOut(BaseModel):
    """Money in minor units of `currency`."""

    subtotal: int
    tax: int
    tip: int
    total: int
    currency: str


class OrderLinksOut(BaseModel):
    """Where the customer follows the order (both need the access token)."""

    self: str
    negotiate: str


class OrderReceiptOut(BaseModel):
    """The 201 answer to an order (also what an idempotent replay returns)."""

    id: str
    ticket_number: str
    status: str
    version: int
    placed_at: str
    totals: TotalsOut
    access_token: str
    links: OrderLinksOut
