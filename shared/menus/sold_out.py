"""Sold out until: an 86 that ends on its own, "until tomorrow" or at a time the kitchen names,
and the kitchen's list of what is sold out.

The 86 call stores when the dish comes back (`sold_out_until`), the snapshot carries it, and the
storefront and orders treat the dish as on sale again from that instant. Nobody has to remember
to bring the soup back in the morning, and no timer has to write anything for it to happen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from shared import errors
from shared.instants import whole_minute_up
from shared.restaurant_settings import RestaurantSettings
from shared.special_days import dated_windows
from shared.weekly_windows import next_day_opening, service_day

TOMORROW = "tomorrow"
# Further ahead than this is not "sold out" but off the menu: unpublish or delete it instead.
MAX_DAYS_AHEAD = 30

_INSTANT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
UNTIL_WORDS = 'must be "tomorrow" or a time with its UTC offset such as 2026-11-26T11:00:00+01:00'


def _until(value: object) -> object:
    """The word tomorrow, or an RFC 3339 time with its offset (hours to 23, minutes to 59):
    pydantic alone would also take Unix seconds and local times without an offset, and Python
    reads +00:99 as +01:39, none of which a kitchen means."""
    if value == TOMORROW:
        return value
    # -00:00 is RFC 3339's "offset unknown", a local time by another name.
    if not (isinstance(value, str) and re.fullmatch(_INSTANT, value)) or value.endswith("-00:00"):
        raise PydanticCustomError("sold_out_until", UNTIL_WORDS)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "sold_out_until",
            "{value} is not a time of the calendar; send one such as 2026-11-26T11:00:00+01:00",
            {"value": value},
        ) from None


SoldOutUntil = Annotated[Literal["tomorrow"] | AwareDatetime, BeforeValidator(_until)]


def back_on_sale_at(
    until: str | datetime, settings: RestaurantSettings, now_utc: datetime, path: str
) -> datetime:
    """The UTC instant an 86 with until ends, on a whole minute.

    "tomorrow" is when the restaurant next opens on a later date than the service now belongs
    to: an 86 at 01:00 in Thursday's 18:00-02:00 lasts until Friday's opening, not until the
    Friday lunch that may be hours before the doors open; days closed (special days too) are
    skipped. A time must lie ahead, and at most MAX_DAYS_AHEAD days.
    """
    if until == TOMORROW:
        hours = settings.hours.as_data() if settings.hours is not None else None
        dated = dated_windows(settings.special_days)
        day = service_day(hours, settings.timezone, now_utc, dated=dated)
        return next_day_opening(hours, settings.timezone, day, dated=dated)
    assert isinstance(until, datetime)
    if until <= now_utc:
        raise errors.invalid_field(path, 'is not ahead; send a later time, or "tomorrow"')
    if until > now_utc + timedelta(days=MAX_DAYS_AHEAD):
        raise errors.invalid_field(
            path,
            f"is more than {MAX_DAYS_AHEAD} days ahead; 86 it without until, and bring it back "
            "when it is",
        )
    # The storefront renders a menu per minute.
    return whole_minute_up(until.astimezone(UTC))


def on_sale(entry: Mapping[str, Any], now_utc: datetime) -> bool:
    """An item or option (snapshot shape) is not 86'd, or its 86 has run out by now_utc."""
    if entry.get("available", True):
        return True
    until = entry.get("sold_out_until")
    return until is not None and datetime.fromisoformat(until) <= now_utc


def sold_out_now(snapshot: Mapping[str, Any] | None, now_utc: datetime) -> dict[str, Any]:
    """The kitchen's 86 list from a published snapshot: what is sold out at now_utc.

    `{"items": [{"id", "name", "sold_out_until"}], "options": [{"id", "name", "group",
    "sold_out_until"}]}` in menu order, each once (an option shared by several dishes too);
    `sold_out_until` null means until someone brings it back.
    """
    items: list[dict[str, Any]] = []
    options: dict[str, dict[str, Any]] = {}
    for category in (snapshot or {}).get("categories", []):
        for item in category["items"]:
            if not on_sale(item, now_utc):
                items.append(_listed(item))
            for group in item["modifier_groups"]:
                for option in group["options"]:
                    if not on_sale(option, now_utc) and option["id"] not in options:
                        options[option["id"]] = {**_listed(option), "group": group["name"]}
    return {"items": items, "options": list(options.values())}


def _listed(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "name": entry["name"],
        "sold_out_until": entry.get("sold_out_until"),
    }
