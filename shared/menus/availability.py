"""Whether a published item can be ordered now: its 86 flag, required options and windows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.menus.sold_out import on_sale
from shared.weekly_windows import in_windows


def available_now(item: Mapping[str, Any], tz: str | ZoneInfo, now_utc: datetime) -> bool:
    """True when item (a snapshot item) is not 86'd (or its 86 has run out by now_utc), now_utc
    (aware) is in its windows, and every modifier group still has as many options on sale as it
    requires.

    Windows are wall-clock times in tz (the tenant's IANA zone), resolved with zoneinfo, so
    "11:00-15:00" stays 11:00-15:00 local on both sides of a DST change; null windows mean
    whenever the restaurant serves. A required size whose every option is 86'd makes the item
    unorderable, so the storefront must not offer it.
    """
    return (
        on_sale(item, now_utc)
        and all(_can_be_chosen(group, now_utc) for group in item.get("modifier_groups", ()))
        and in_windows(item.get("windows"), tz, now_utc)
    )


def _can_be_chosen(group: Mapping[str, Any], now_utc: datetime) -> bool:
    """The group's minimum can be met with options that are not 86'd."""
    offered = sum(1 for option in group["options"] if on_sale(option, now_utc))
    return offered >= group.get("min", 0)
