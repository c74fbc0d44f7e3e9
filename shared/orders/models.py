"""The order request a storefront sends (design §5) and the receipt it gets back."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from shared.menus.models import MAX_GROUPS_PER_ITEM, MAX_OPTIONS_PER_GROUP, MAX_PRICE
from shared.phone_numbers import Phone
from shared.text_rules import check_multi_line, check_visible, composed, one_line

MAX_LINES = 50
MAX_QUANTITY = 99
# As many as the largest item the menu allows can take; each group's max is the real rule.
MAX_OPTIONS_PER_LINE = MAX_GROUPS_PER_ITEM * MAX_OPTIONS_PER_GROUP
MAX_TIP = MAX_PRICE

# The kitchen reads these: no control characters (NUL above all, which Postgres text cannot
# hold); a name is one visible line, a note may break lines.
Note = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(check_multi_line),
    BeforeValidator(composed),
]
Name = one_line(80)
# A cancel reason reads like a line's note (up to 200 characters, no control characters), and
# one that shows as nothing (zero-width characters) is no reason.
Reason = Annotated[Note, AfterValidator(check_visible)]


def _menu_id(value: str) -> str:
    """A menu id in the snapshot's spelling: clients may send a UUID in upper case (Swift)."""
    try:
        return str(UUID(value))
    except ValueError:
        raise PydanticCustomError("menu_id", "must be a menu id (a UUID)") from None


Ref = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_menu_id),
    Field(json_schema_extra={"format": "uuid"}),
]


class OrderLineIn(BaseModel):
    """One line: a menu item, how many, the chosen option ids (in the order chosen), a note."""

    model_config = ConfigDict(extra="forbid")

    item_id: Ref
    # strict: JSON integers only ("2", 2.0 and true are refused, not coerced).
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)
    option_ids: list[Ref] = Field(default_factory=list, max_length=MAX_OPTIONS_PER_LINE)
    note: Note | None = None


def _required_by_type(schema: dict[str, Any]) -> None:
    """The description says which fields each type needs, as the placement check does: a
    pickup a name and a phone and no table token, a dine-in a table token and no phone; none of
    them null."""
    present = {"not": {"type": "null"}}
    pickup = {
        "required": ["name", "phone"],
        "properties": {"name": present, "phone": present, "table_token": {"type": "null"}},
    }
    dine_in = {
        "required": ["table_token"],
        "properties": {"table_token": present, "phone": {"type": "null"}},
    }
    schema["allOf"] = [
        {"if": {"properties": {"type": {"const": kind}}}, "then": then}
        for kind, then in (("pickup", pickup), ("dine_in", dine_in))
    ]


class FulfilmentIn(BaseModel):
    """`pickup` needs name and phone; `dine_in` needs the table token from the QR code and takes
    no phone: the staff bring the food to the table, so a number would be kept for nothing."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_required_by_type)

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
    """Where the customer follows the order, and takes it back (all need the access token)."""

    self: str
    negotiate: str
    cancel: str  # POST; 409 once the kitchen has taken the order


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
