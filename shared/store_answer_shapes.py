"""The shapes of the storefront's reads (config, menu, a table) and of the kitchen's pause and
86 list, for the API description.

Like shared/orders/answer_shapes.py: the answers are rendered as plain dicts (and cached as
bytes); these closed models only describe them, and tests/test_openapi_answers.py checks real
answers against the served description.
"""

from __future__ import annotations

from datetime import datetime

from shared.answer_shape import AnswerShape
from shared.menus.models import Allergen, DietaryTag
from shared.restaurant_settings import Contact, Tax
from shared.special_days import SpecialDay
from shared.theming import ThemeTokens
from shared.weekly_windows import WeeklyWindows


class PauseShownOut(AnswerShape):
    """Orders paused until `until`; `note` as the kitchen wrote it for customers."""

    until: datetime
    note: str | None = None


class StoreConfigOut(AnswerShape):
    """`GET /api/v1/store/config`: prices are minor units of `currency`, which has
    `currency_exponent` digits after the point (0 for JPY, 3 for KWD)."""

    name: str
    theme: ThemeTokens
    currency: str
    currency_exponent: int
    locale: str
    timezone: str
    tax: Tax
    hours: WeeklyWindows | None  # null: always open (special days aside)
    special_days: list[SpecialDay]
    open_now: bool
    paused: PauseShownOut | None
    contact: Contact


class RenditionOut(AnswerShape):
    width: int
    height: int
    url: str


class ImageOut(AnswerShape):
    """WebP renditions narrowest first, and a blurred data-URI placeholder to show meanwhile."""

    width: int
    height: int
    placeholder: str
    renditions: list[RenditionOut]


class MenuOptionOut(AnswerShape):
    id: str
    name: str
    price_delta: int
    default: bool
    available: bool


class MenuGroupOut(AnswerShape):
    """Choose `min` to `max` options; the first `free_quantity` chosen cost nothing."""

    id: str
    name: str
    min: int
    max: int
    free_quantity: int
    options: list[MenuOptionOut]


class DishOut(AnswerShape):
    """What every view of a dish shows: the storefront's, a published version's, the draft's."""

    id: str
    name: str
    description: str
    price: int
    allergens: list[Allergen]
    dietary: list[DietaryTag]
    available: bool


class MenuItemOut(DishOut):
    """`available` is for now, in the restaurant's time zone: windows and 86es applied."""

    image: ImageOut | None
    modifier_groups: list[MenuGroupOut]


class MenuCategoryOut(AnswerShape):
    id: str
    name: str
    items: list[MenuItemOut]


class StoreMenuOut(AnswerShape):
    """`GET /api/v1/store/menu`: the newest published menu; version 0 and no categories (and no
    `published_at` or `currency`) before the first publish."""

    version: int
    published_at: datetime | None = None
    currency: str | None = None
    categories: list[MenuCategoryOut]


class StoreTableOut(AnswerShape):
    """The table a QR code names, for the storefront to show; send `table_token` back in the
    order's `fulfilment`."""

    label: str
    table_token: str


class PauseStateOut(AnswerShape):
    """`paused` false alone, or true with until, since, who (`by`) and the note."""

    paused: bool
    until: datetime | None = None
    since: datetime | None = None
    by: str | None = None
    note: str | None = None


class SoldOutEntryOut(AnswerShape):
    id: str
    name: str
    sold_out_until: datetime | None  # null: until someone brings it back
    group: str | None = None  # options only


class SoldOutListOut(AnswerShape):
    """What is 86'd now on the live menu, in menu order (an option shared by dishes once)."""

    items: list[SoldOutEntryOut]
    options: list[SoldOutEntryOut]
