"""Tax rates in basis points, to a hundredth of one: 2000 is 20 %, 887.5 is New York City's
8.875 %.

Sales taxes that add a county's and a city's share to a state's come to three decimals of a
percent (8.875 %, 6.625 %, 9.125 %), which whole basis points cannot hold. A hundredth of a
basis point covers every rate in use; prices multiply by whole hundredths (centi_bp), so tax
stays integer arithmetic with one rounding.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, StrictFloat
from pydantic_core import PydanticCustomError

from shared import errors
from shared.db import tenant_transaction
from shared.migrate import has_migration

# Basis points, and hundredths of one, in a whole.
BASIS_POINTS = 10_000
CENTI_BP = 100 * BASIS_POINTS
# A fraction is for a rate of 1 % and over: 20.5 is far likelier "20.5 %" typed as is (2050)
# than a tax of 0.205 %, which no jurisdiction levies on a meal.
_FRACTION_FROM_BP = 100


def _in_hundredths(rate: float) -> int | float:
    """rate as kept: whole basis points as an int, a fraction as a float of whole hundredths."""
    if rate.is_integer():
        return int(rate)
    if abs(rate * 100 - round(rate * 100)) > 1e-6:
        raise PydanticCustomError(
            "rate_hundredths",
            "must be basis points to a hundredth of one at most: 8.875 % is 887.5",
        )
    if rate < _FRACTION_FROM_BP:
        raise PydanticCustomError(
            "rate_fraction",
            "{rate} basis points is {percent} %: a fraction of a basis point is for rates of 1 % "
            "and over (20.5 % is 2050)",
            # In decimals: 33.3 is 0.333 %, not the float's 0.33299999999999996 %.
            {"rate": rate, "percent": str(Decimal(repr(rate)) / 100)},
        )
    # 887.5500000001, within a float's error of 887.55, is kept as 887.55.
    return round(rate * 100) / 100


# Strict: "887.5" in quotes is refused like any number sent as text (and true as a bool); a
# JSON integer is a float here, kept as an int again.
TaxRateBp = Annotated[
    StrictFloat,
    Field(ge=0, le=BASIS_POINTS, allow_inf_nan=False),
    AfterValidator(_in_hundredths),
    # As kept: 2000 stays 2000 in answers and in the stored settings, not 2000.0.
    PlainSerializer(lambda rate: rate, return_type=int | float),
]


def centi_bp(rate_bp: int | float) -> int:
    """The rate in hundredths of a basis point (887.5 → 88750): what prices multiply by."""
    return round(rate_bp * 100)


def rate_from_column(value: Decimal | int) -> int | float:
    """An order's stored rate (numeric(7,2) from tenant migration 0012, integer before) as
    answers give it: 2000, not "2000.00"; 887.5."""
    return int(value) if value == int(value) else float(value)


# The tenant migration whose column holds a fraction (orders.tax_rate_bp as numeric).
FRACTIONS_MIGRATION = 12


def require_storable(schema: str, rate_bp: int | float) -> None:
    """409 for a fractional rate while the restaurant's orders cannot keep one (tenant
    migration 0012 pending): an order priced at 887.5 would fail to save after pricing."""
    if isinstance(rate_bp, int):
        return
    with tenant_transaction(schema) as conn:
        ready = has_migration(conn, FRACTIONS_MIGRATION)
    if not ready:
        raise errors.conflict(
            "This restaurant takes whole basis points only until its database update is done "
            f"(a platform migration); {rate_bp} must wait, or be rounded for now"
        )
