"""Prices an order from the published menu snapshot, in integer minor units.

Rules (also in the README):
- A line costs (item price + its options' charged deltas) * quantity.
- Free quantity: within each modifier group, the first `free_quantity` options *in the order the
  customer listed them* in `option_ids` cost nothing; later ones cost their `price_delta`. This
  is what a storefront shows while the customer taps ("3 toppings included, then +1.00 each").
- Tax is computed once on the order subtotal (never per line, so rounding cannot add up), with
  round-half-up to the minor unit. Exclusive: tax = subtotal * rate_bp / 10 000, added to the
  total. Inclusive: prices already contain it; tax = subtotal * rate_bp / (10 000 + rate_bp),
  the part of the subtotal that is tax, and the total does not grow. Computed in hundredths of
  a basis point (8.875 % is 887.5 bp), in integers.
- The tip is never taxed: total = subtotal (+ tax when exclusive) + tip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import FieldError
from shared.menus.sold_out import on_sale
from shared.orders.models import OrderLineIn
from shared.tax_rates import CENTI_BP, centi_bp


@dataclass(frozen=True)
class TaxRule:
    """A tax rate in basis points (2000 = 20 %, 887.5 = 8.875 %), included in prices or added
    on top."""

    rate_bp: int | float
    inclusive: bool


@dataclass(frozen=True)
class PricedModifier:
    group_id: str
    group_name: str
    option_id: str
    name: str
    price_delta: int
    charged: int


@dataclass(frozen=True)
class PricedLine:
    item_id: str
    name: str
    station: str | None
    quantity: int
    unit_price: int
    line_total: int
    note: str | None
    allergens: tuple[str, ...]
    modifiers: tuple[PricedModifier, ...]


@dataclass(frozen=True)
class Totals:
    subtotal: int
    tax: int
    tip: int
    total: int
    currency: str
    tax_rate_bp: int | float
    tax_inclusive: bool

    def as_dict(self) -> dict[str, Any]:
        """The customer-facing totals object."""
        return {
            "subtotal": self.subtotal,
            "tax": self.tax,
            "tip": self.tip,
            "total": self.total,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class PricedOrder:
    lines: tuple[PricedLine, ...]
    totals: Totals
    menu_version: int


@dataclass(frozen=True)
class MenuIndex:
    """A published snapshot indexed for pricing; built once per snapshot version and cached."""

    version: int
    currency: str
    items: Mapping[str, dict[str, Any]]
    # Per item: option id → (group, option) over the item's own groups.
    item_options: Mapping[str, Mapping[str, tuple[dict[str, Any], dict[str, Any]]]]
    all_option_ids: frozenset[str]
    stations: frozenset[str]  # snapshot_stations

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> MenuIndex:
        items: dict[str, dict[str, Any]] = {}
        item_options: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {}
        all_option_ids: set[str] = set()
        for category in snapshot.get("categories", []):
            for item in category.get("items", []):
                options = {}
                for group in item.get("modifier_groups", []):
                    for option in group.get("options", []):
                        options[str(option["id"])] = (group, option)
                all_option_ids.update(options)
                # A hidden category's items are not on the storefront, so they cannot be ordered.
                if category.get("visible", True):
                    items[str(item["id"])] = item
                    item_options[str(item["id"])] = options
        return cls(
            version=int(snapshot["version"]),
            currency=str(snapshot["currency"]),
            items=items,
            item_options=item_options,
            all_option_ids=frozenset(all_option_ids),
            stations=snapshot_stations(snapshot),
        )


def snapshot_stations(snapshot: Mapping[str, Any]) -> frozenset[str]:
    """Every item's station, hidden categories' too: their displays stay set up while a
    category rests."""
    return frozenset(
        item["station"]
        for category in snapshot.get("categories", [])
        for item in category.get("items", [])
        if item.get("station")
    )


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def tax_for(subtotal: int, rule: TaxRule) -> int:
    """The tax in a subtotal (inclusive) or on top of it (exclusive), rounded half up."""
    rate = centi_bp(rule.rate_bp)
    if rule.inclusive:
        return round_half_up(subtotal * rate, CENTI_BP + rate)
    return round_half_up(subtotal * rate, CENTI_BP)


def compute_totals(subtotal: int, *, tip: int, rule: TaxRule, currency: str) -> Totals:
    """Totals for a subtotal: tax once on the subtotal, then the untaxed tip."""
    tax = tax_for(subtotal, rule)
    total = subtotal + tip + (0 if rule.inclusive else tax)
    return Totals(subtotal, tax, tip, total, currency, rule.rate_bp, rule.inclusive)


def _price_line(
    menu: MenuIndex,
    index: int,
    line: OrderLineIn,
    is_available: Callable[[dict[str, Any]], bool],
    now_utc: datetime,
    problems: list[FieldError],
) -> PricedLine | None:
    path = f"lines[{index}]"
    item = menu.items.get(line.item_id)
    if item is None:
        problems.append(FieldError(f"{path}.item_id", "is not on the menu"))
        return None
    found = len(problems)
    if not on_sale(item, now_utc) or not is_available(item):
        problems.append(FieldError(f"{path}.item_id", f"{item['name']} is not available now"))
    options = menu.item_options[line.item_id]
    chosen: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    seen: set[str] = set()
    for position, option_id in enumerate(line.option_ids):
        option_path = f"{path}.option_ids[{position}]"
        if option_id in seen:
            problems.append(FieldError(option_path, "is chosen twice; choose each option once"))
            continue
        seen.add(option_id)
        pair = options.get(option_id)
        if pair is None:
            message = (
                f"belongs to a modifier group that {item['name']} does not have"
                if option_id in menu.all_option_ids
                else "is not an option on the menu"
            )
            problems.append(FieldError(option_path, message))
            continue
        group, option = pair
        if not on_sale(option, now_utc):
            problems.append(FieldError(option_path, f"{option['name']} is not available now"))
            continue
        chosen.setdefault(str(group["id"]), []).append(pair)
    for group in item.get("modifier_groups", []):
        count = len(chosen.get(str(group["id"]), []))
        if count < group["min"]:
            message = f"{group['name']}: choose at least {group['min']} (got {count})"
            problems.append(FieldError(f"{path}.option_ids", message + _choices(group, now_utc)))
        elif count > group["max"]:
            message = f"{group['name']}: choose at most {group['max']} (got {count})"
            problems.append(FieldError(f"{path}.option_ids", message))
    if len(problems) > found:
        return None
    modifiers = []
    for group in item.get("modifier_groups", []):
        free = int(group.get("free_quantity") or 0)
        for rank, (_, option) in enumerate(chosen.get(str(group["id"]), [])):
            delta = int(option["price_delta"])
            modifiers.append(
                PricedModifier(
                    group_id=str(group["id"]),
                    group_name=group["name"],
                    option_id=str(option["id"]),
                    name=option["name"],
                    price_delta=delta,
                    charged=0 if rank < free else delta,
                )
            )
    unit_price = int(item["price"]) + sum(m.charged for m in modifiers)
    return PricedLine(
        item_id=str(item["id"]),
        name=item["name"],
        station=item.get("station"),
        quantity=line.quantity,
        unit_price=unit_price,
        line_total=unit_price * line.quantity,
        note=line.note or None,
        allergens=tuple(item.get("allergens") or ()),
        modifiers=tuple(modifiers),
    )


def price_lines(
    menu: MenuIndex,
    lines: Sequence[OrderLineIn],
    *,
    is_available: Callable[[dict[str, Any]], bool],
    now_utc: datetime,
) -> tuple[tuple[PricedLine, ...], list[FieldError]]:
    """Price every line; the second value lists every problem found, with its field path.

    is_available says whether an item can be ordered now (windows, required options); an item
    or option 86'd until a time is on sale again from now_utc on.
    """
    problems: list[FieldError] = []
    priced = [
        _price_line(menu, i, line, is_available, now_utc, problems) for i, line in enumerate(lines)
    ]
    return tuple(p for p in priced if p is not None), problems


def price_order(
    menu: MenuIndex,
    lines: Sequence[OrderLineIn],
    *,
    tip: int,
    rule: TaxRule,
    is_available: Callable[[dict[str, Any]], bool],
    now_utc: datetime,
) -> tuple[PricedOrder | None, list[FieldError]]:
    """The priced order, or None and the field errors that stop it."""
    priced, problems = price_lines(menu, lines, is_available=is_available, now_utc=now_utc)
    if problems:
        return None, problems
    subtotal = sum(line.line_total for line in priced)
    totals = compute_totals(subtotal, tip=tip, rule=rule, currency=menu.currency)
    return PricedOrder(priced, totals, menu.version), []


# A refusal names the choices it wants, but not a whole long list.
_CHOICES_NAMED = 8


def _choices(group: dict[str, Any], now_utc: datetime) -> str:
    """` from: Regular (the default), Large`: the group's options a customer can choose now
    (a default is the storefront's preselection; the order must still name it)."""
    names = [
        option["name"] + (" (the default)" if option.get("default") else "")
        for option in group.get("options", [])
        if on_sale(option, now_utc)
    ]
    if not names:
        return ""
    more = len(names) - _CHOICES_NAMED
    return " from: " + ", ".join(names[:_CHOICES_NAMED]) + (f" and {more} more" if more > 0 else "")
