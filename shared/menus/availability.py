"""Whether a published item can be ordered now: its 86 flag and its windows in the tenant's zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.weekly_windows import in_windows


def available_now(item: Mapping[str, Any], tz: str | ZoneInfo, now_utc: datetime) -> bool:
    """True when item (a snapshot item) is not 86'd and now_utc (aware) is in its windows.

    Windows are wall-clock times in tz (the tenant's IANA zone), resolved with zoneinfo, so
    "11:00-15:00" stays 11:00-15:00 local on both sides of a DST change; null windows mean
    whenever the restaurant serves.
    """
    return bool(item.get("available", True)) and in_windows(item.get("windows"), tz, now_utc)
