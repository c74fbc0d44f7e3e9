"""The shapes of the admin menu's answers (the draft menu and its rows, reorders, 86'ing, an
import's counts), for the API description.

Like shared/orders/answer_shapes.py: the views are plain dicts (shared/menus/categories.py,
items.py, modifiers.py, draft.py, eighty_six.py, importer.py); these closed models only describe
them, and tests/test_openapi_admin_answers.py checks real answers against the served
description, so a field added to a view without its shape here fails there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.answer_shape import AnswerShape
from shared.store_answer_shapes import DishOut, ImageOut, MenuGroupOut, MenuOptionOut
from shared.weekly_windows import WeeklyWindows

# none: no photo asked for; pending: an upload URL was handed out and no file processed since;
# ready: `image` holds the renditions; rejected: `image_reason` says why the file was refused
# (a photo that was ready before stays in `image`).
ImageStatus = Literal["none", "pending", "ready", "rejected"]


class CategoryOut(AnswerShape):
    """A draft category (`GET`/`PATCH .../categories/{id}`, a create's 201); ETag: `version`."""

    id: str
    name: str
    rank: int
    visible: bool
    version: int


class ItemOut(DishOut):
    """A draft dish. `available` false is an 86 (set through `/admin/menu/availability`),
    until `sold_out_until` when that is set; `windows` null: on sale whenever the store is open;
    `station` null: every station's display shows it."""

    category_id: str
    windows: WeeklyWindows | None
    station: str | None
    rank: int
    image: ImageOut | None
    image_status: ImageStatus
    image_reason: str | None
    version: int
    sold_out_until: datetime | None
    modifier_group_ids: list[str]  # in the order customers see the groups


class OptionOut(MenuOptionOut):
    """An option of a modifier group; `available` and `sold_out_until` as an item's."""

    group_id: str
    sold_out_until: datetime | None
    rank: int
    version: int


class GroupOut(MenuGroupOut):
    """A modifier group with its options in rank order; its version moves with theirs."""

    version: int
    options: list[OptionOut]


class DraftCategoryOut(CategoryOut):
    items: list[ItemOut]


class DraftMenuOut(AnswerShape):
    """`GET /api/v1/admin/menu`: the draft as editors see it, and the version customers see
    now (0 before the first publish)."""

    categories: list[DraftCategoryOut]
    modifier_groups: list[GroupOut]
    published_version: int


class CategoriesReorderedOut(AnswerShape):
    """Every category in its new order."""

    categories: list[CategoryOut]


class ItemsReorderedOut(AnswerShape):
    """The category's dishes in their new order."""

    items: list[ItemOut]


class OptionsReorderedOut(AnswerShape):
    """The group's options in their new order."""

    options: list[OptionOut]


class AvailabilityEntryOut(AnswerShape):
    """One toggle as it was applied. `version` is the draft row's new version, null for an id
    only the live menu has that no draft row stands for (a dish deleted since the publish)."""

    id: str
    available: bool
    sold_out_until: datetime | None
    version: int | None


class AvailabilityOut(AnswerShape):
    """An 86 or a bring-back: one entry per toggle sent, in the order sent, and the menu version
    it went live in (null when the live menu did not change)."""

    items: list[AvailabilityEntryOut]
    options: list[AvailabilityEntryOut]
    published_version: int | None


class ImportCountsOut(AnswerShape):
    """What an import created; the draft dishes it replaced; the photos and 86es it carried over
    from dishes of the same names."""

    categories: int
    items: int
    modifier_groups: int
    options: int
    replaced_items: int
    photos_kept: int
    sold_out_kept: int
