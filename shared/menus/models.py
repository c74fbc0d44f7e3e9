"""What admin writes may contain: bounds, vocabularies and cross-field rules, with field paths.

Everything here is checked before a transaction opens; rules that need the database (ids that
must exist in this tenant, a group's option count on a partial update) live in the repositories.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.field_rules import rule_failures
from shared.menus.sold_out import SoldOutUntil
from shared.patches import Patch
from shared.text_rules import check_multi_line, composed, look_alike_key, one_line
from shared.text_shapes import STATION
from shared.weekly_windows import WeeklyWindows

Allergen = Literal[
    "celery", "gluten", "crustaceans", "eggs", "fish", "lupin", "milk",
    "molluscs", "mustard", "tree_nuts", "peanuts", "sesame", "soy", "sulphites",
]  # fmt: skip
DietaryTag = Literal[
    "vegetarian", "vegan", "gluten_free", "dairy_free", "nut_free", "halal", "kosher", "spicy"
]

# Minor units, for every currency: 10,000,000.00 in a two-decimal one, which is about US$600 in
# rupiah (a cap of 100,000.00 was about US$6 there); an integer column (tenant migration 0007).
MAX_PRICE = 1_000_000_000
MAX_OPTIONS_PER_GROUP = 50
MAX_GROUPS_PER_ITEM = 20
MAX_ITEMS_PER_MENU = 2000


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("unique", "lists {value} more than once", {"value": value})
        seen.add(value)
    return values


Name = one_line(120)
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=1000),
    AfterValidator(check_multi_line),
    BeforeValidator(composed),
]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE, strict=True)]
Rank = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]
Count = Annotated[int, Field(ge=0, le=MAX_OPTIONS_PER_GROUP, strict=True)]
# A group's max: 0 passes the field and fails group_rule_errors ("max must be at least 1"),
# whose messages say more; the description says minimum 1 so clients never send it.
MaxCount = Annotated[Count, Field(json_schema_extra={"minimum": 1})]
# Stations name Web PubSub groups (`t.<slug>.station.<station>`), hence the narrow alphabet.
Station = Annotated[str, Field(pattern=STATION)]
Allergens = Annotated[list[Allergen], AfterValidator(_unique)]
DietaryTags = Annotated[list[DietaryTag], AfterValidator(_unique)]
GroupIds = Annotated[list[UUID], Field(max_length=MAX_GROUPS_PER_ITEM), AfterValidator(_unique)]


def group_rule_errors(
    *, min_choices: int, max_choices: int, free_quantity: int, options: int, defaults: int
) -> list[tuple[str, str]]:
    """(field, message) for each rule a modifier group's numbers break; empty when none."""
    found = []
    if min_choices > max_choices:
        found.append(("min", f"min ({min_choices}) must not exceed max ({max_choices})"))
    if max_choices < 1:
        found.append(("max", "max must be at least 1"))
    if max_choices > options:
        found.append(
            ("max", f"max ({max_choices}) must not exceed the number of options ({options})")
        )
    if free_quantity > max_choices:
        found.append(
            (
                "free_quantity",
                f"free_quantity ({free_quantity}) must not exceed max ({max_choices})",
            )
        )
    if defaults > max_choices:
        found.append(("options", f"{defaults} options are default but max is {max_choices}"))
    return found


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryCreate(_Input):
    name: Name
    visible: StrictBool = True
    rank: Rank | None = None


class ItemFields(_Input):
    """An item as both the item API and the import take it (import has no category_id)."""

    name: Name
    description: Description = ""
    price: Price
    allergens: Allergens = []
    dietary: DietaryTags = []
    available: StrictBool = True
    windows: WeeklyWindows | None = None
    station: Station | None = None


class ItemCreate(ItemFields):
    category_id: UUID
    rank: Rank | None = None
    modifier_group_ids: GroupIds = []


class OptionCreate(_Input):
    name: Name
    price_delta: Price = 0
    default: StrictBool = False
    available: StrictBool = True


# Two options a customer cannot tell apart ("Regular" twice, or "Regular" and "regular").
_REPEATED_OPTION = "repeats another option's name in this group (case and look-alikes aside)"
_REPEATED_GROUP = "repeats another modifier group's name on this item (case and look-alikes aside)"


def _look_alike_repeats(
    field: str, names: list[str], message: str
) -> list[tuple[tuple[str | int, ...], str]]:
    """A failure at `field[i].name` for each name a reader could not tell from an earlier one
    (shared/text_rules.py `look_alike_key`)."""
    seen: set[str] = set()
    failures: list[tuple[tuple[str | int, ...], str]] = []
    for index, name in enumerate(names):
        key = look_alike_key(name)
        if key in seen:
            failures.append(((field, index, "name"), message))
        seen.add(key)
    return failures


class GroupCreate(_Input):
    """A modifier group with its options; "first N free" is free_quantity."""

    name: Name
    min: Count = 0
    max: MaxCount
    free_quantity: Count = 0
    options: list[OptionCreate] = Field(default=[], max_length=MAX_OPTIONS_PER_GROUP)

    @model_validator(mode="after")
    def _check_numbers(self) -> GroupCreate:
        found = group_rule_errors(
            min_choices=self.min,
            max_choices=self.max,
            free_quantity=self.free_quantity,
            options=len(self.options),
            defaults=sum(option.default for option in self.options),
        )
        failures = [((path,), message) for path, message in found]
        failures += _look_alike_repeats("options", [o.name for o in self.options], _REPEATED_OPTION)
        if failures:
            raise rule_failures("GroupCreate", failures, self)
        return self


class CategoryPatch(Patch):
    name: Name | None = None
    visible: StrictBool | None = None
    rank: Rank | None = None


# What an editor sending `available` with a row's other fields is told: the row shows it, and
# sending it back is the obvious move, but 86'ing goes live through its own call.
_AVAILABLE_ELSEWHERE = {
    "available": "is set with POST /api/v1/admin/menu/availability (86'ing goes live at once), "
    "not by editing the row"
}


class ItemPatch(Patch):
    """`available` is not here: 86'ing goes live through POST /admin/menu/availability."""

    NULLABLE = frozenset({"windows", "station", "expected_version"})
    misplaced_fields: ClassVar[dict[str, str]] = _AVAILABLE_ELSEWHERE
    category_id: UUID | None = None
    name: Name | None = None
    description: Description | None = None
    price: Price | None = None
    allergens: Allergens | None = None
    dietary: DietaryTags | None = None
    windows: WeeklyWindows | None = None
    station: Station | None = None
    rank: Rank | None = None
    modifier_group_ids: GroupIds | None = None


class GroupPatch(Patch):
    name: Name | None = None
    min: Count | None = None
    max: MaxCount | None = None
    free_quantity: Count | None = None


class OptionPatch(Patch):
    misplaced_fields: ClassVar[dict[str, str]] = _AVAILABLE_ELSEWHERE
    name: Name | None = None
    price_delta: Price | None = None
    default: StrictBool | None = None
    rank: Rank | None = None


class OptionAdd(OptionCreate):
    rank: Rank | None = None


class Reorder(_Input):
    """Every member of the list, each once, in the new order."""

    ids: Annotated[
        list[UUID], Field(min_length=1, max_length=MAX_ITEMS_PER_MENU), AfterValidator(_unique)
    ]


class Toggle(_Input):
    id: UUID
    available: StrictBool
    # Sold out until then, and on sale again by itself (shared/menus/sold_out.py).
    until: SoldOutUntil | None = None

    @model_validator(mode="after")
    def _until_only_when_sold_out(self) -> Toggle:
        if self.until is not None and self.available:
            message = 'is only for "available": false; a dish back on sale needs no until'
            raise rule_failures("Toggle", [(("until",), message)], self)
        return self


class AvailabilityChange(_Input):
    """86 (or bring back) items and options in one call; it goes live at once."""

    items: list[Toggle] = Field(default=[], max_length=MAX_ITEMS_PER_MENU)
    options: list[Toggle] = Field(default=[], max_length=MAX_ITEMS_PER_MENU)

    @model_validator(mode="after")
    def _check(self) -> AvailabilityChange:
        if not self.items and not self.options:
            raise PydanticCustomError("empty", "send at least one item or option")
        for name, toggles in (("items", self.items), ("options", self.options)):
            seen: set[UUID] = set()
            for i, toggle in enumerate(toggles):
                if toggle.id in seen:
                    raise rule_failures(
                        "AvailabilityChange", [((name, i, "id"), "is listed twice")], self
                    )
                seen.add(toggle.id)
        return self


class ImportItem(ItemFields):
    modifier_groups: list[GroupCreate] = Field(default=[], max_length=MAX_GROUPS_PER_ITEM)

    @model_validator(mode="after")
    def _distinct_names(self) -> ImportItem:
        # Two groups of one name on one item would confuse customers and the kitchen alike,
        # "Dip" and "DIP" too: the importer knows an option across imports by its dish's,
        # group's and own names, case and look-alikes aside, so it could not tell their 86es
        # apart.
        names = [group.name for group in self.modifier_groups]
        failures = _look_alike_repeats("modifier_groups", names, _REPEATED_GROUP)
        if failures:
            raise rule_failures("ImportItem", failures, self)
        return self


class ImportCategory(_Input):
    name: Name
    visible: StrictBool = True
    items: list[ImportItem] = Field(default=[], max_length=MAX_ITEMS_PER_MENU)


class MenuImport(_Input):
    """A whole menu (design §5); it replaces the draft menu in one transaction."""

    categories: list[ImportCategory] = Field(max_length=200)

    @model_validator(mode="after")
    def _bounded(self) -> MenuImport:
        total = sum(len(category.items) for category in self.categories)
        if total > MAX_ITEMS_PER_MENU:
            raise PydanticCustomError(
                "too_many", "{total} items; a menu holds at most {most}",
                {"total": total, "most": MAX_ITEMS_PER_MENU},
            )  # fmt: skip
        return self
