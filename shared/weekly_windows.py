"""Weekly time windows in a tenant's time zone: opening hours and menu item availability.

A window is `["HH:MM", "HH:MM"]` in local wall-clock time on the weekday it is listed under.
An end before the start crosses midnight (`["18:00", "02:00"]` on Monday is open until 02:00 on
Tuesday); `"24:00"` may end a window. Local time comes from zoneinfo, so a window means the same
wall-clock hours on both sides of a DST change.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS_PER_DAY = 6

WindowsData = Mapping[str, Sequence[Sequence[str]]]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _check_window(window: tuple[str, str]) -> tuple[str, str]:
    start, end = window
    if start == "24:00":
        raise PydanticCustomError("window", "a window cannot start at 24:00; use 00:00")
    if start == end:
        raise PydanticCustomError(
            "window", 'start and end are the same time; use ["00:00", "24:00"] for all day'
        )
    return window


Clock = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
Window = Annotated[tuple[Clock, Clock], AfterValidator(_check_window)]
DayWindows = Annotated[list[Window], Field(max_length=MAX_WINDOWS_PER_DAY)]


class WeeklyWindows(BaseModel):
    """Windows per weekday; a day left out (or `[]`) has none."""

    model_config = ConfigDict(extra="forbid")

    mon: DayWindows = []
    tue: DayWindows = []
    wed: DayWindows = []
    thu: DayWindows = []
    fri: DayWindows = []
    sat: DayWindows = []
    sun: DayWindows = []

    @model_validator(mode="after")
    def _has_a_window(self) -> WeeklyWindows:
        # An object with no windows at all would mean "never"; null already means "always".
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise PydanticCustomError(
                "no_windows", "lists no window on any day; send null for no restriction"
            )
        return self

    def as_data(self) -> dict[str, list[list[str]]]:
        """`{"mon": [["11:00", "15:00"]]}` with only the days that have windows."""
        return {
            day: [list(window) for window in getattr(self, day)]
            for day in WEEKDAYS
            if getattr(self, day)
        }


# Files in a zoneinfo directory that are not zones (the host's own zone, tzcode leftovers).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def check_time_zone(name: str) -> str:
    """name if it is an IANA time zone this machine knows (tzdata ships with the app)."""
    if name not in _known_zones():
        raise PydanticCustomError(
            "time_zone", "{name} is not an IANA time zone such as Europe/Berlin", {"name": name}
        )
    return name


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


def in_windows(windows: WindowsData | None, zone: ZoneInfo | str, now_utc: datetime) -> bool:
    """True when now_utc falls in one of windows in zone; None means no restriction."""
    if windows is None:
        return True
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    local = now_utc.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    today = local.weekday()
    for start, end in windows.get(WEEKDAYS[today], ()):
        opens, closes = _minutes(start), _minutes(end)
        if opens <= minute < closes or (closes < opens and minute >= opens):
            return True
    # Yesterday's windows that cross midnight are still open early today.
    for start, end in windows.get(WEEKDAYS[(today - 1) % 7], ()):
        opens, closes = _minutes(start), _minutes(end)
        if closes < opens and minute < closes:
            return True
    return False
