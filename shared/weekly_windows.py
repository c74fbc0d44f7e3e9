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
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shared.text_shapes import shaped

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


Clock = Annotated[
    str,
    Field(
        pattern=shaped(
            r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
            "must be a time such as 09:30 (00:00 to 23:59, or 24:00 to end a day)",
        )
    ),
]
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
    """name if it is an IANA time zone in the tzdata package the app pins (see shared/__init__)."""
    if name not in _known_zones():
        raise PydanticCustomError(
            "time_zone", "{name} is not an IANA time zone such as Europe/Berlin", {"name": name}
        )
    return name


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


_ALL_DAY = (("00:00", "24:00"),)


def in_windows(
    windows: WindowsData | None,
    zone: ZoneInfo | str,
    now_utc: datetime,
    *,
    dated: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> bool:
    """True when now_utc falls in one of windows in zone; None means no restriction.

    dated maps ISO dates to the windows that replace their weekday's (special days); with
    windows None, a date not in it is open all day.
    """
    if windows is None and not dated:
        return True
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    tz = _zone(zone)
    today = now_utc.astimezone(tz).date()
    # Today's windows, and yesterday's, which may cross midnight into today.
    return any(
        _open_in(day, windows, dated or {}, tz, now_utc)
        for day in (today - timedelta(days=1), today)
    )


def service_day(
    windows: WindowsData | None,
    zone: ZoneInfo | str,
    now_utc: datetime,
    *,
    dated: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> date:
    """The local date of the service now_utc belongs to: yesterday while a window that opened
    yesterday runs past midnight (01:00 in Thursday's 18:00-02:00 is still Thursday), else today.
    """
    tz = _zone(zone)
    yesterday = now_utc.astimezone(tz).date() - timedelta(days=1)
    if _open_in(yesterday, windows, dated or {}, tz, now_utc):
        return yesterday
    return yesterday + timedelta(days=1)


def _zone(zone: ZoneInfo | str) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _open_in(
    day: date,
    windows: WindowsData | None,
    dated: Mapping[str, Sequence[Sequence[str]]],
    tz: ZoneInfo,
    now_utc: datetime,
) -> bool:
    """now_utc falls in one of the windows that open on day (local)."""
    return any(
        _opens(day, start, tz) <= now_utc < _closes(day, start, end, tz)
        for start, end in _windows_on(day, windows, dated)
    )


def next_day_opening(
    windows: WindowsData | None,
    zone: ZoneInfo | str,
    day: date,
    *,
    dated: Mapping[str, Sequence[Sequence[str]]] | None = None,
    within_days: int = 14,
) -> datetime:
    """When the restaurant first opens on a date after day (UTC): the next service's start.

    Days closed in between are skipped; always-open hours open at midnight. With no opening in
    within_days (closed for a long holiday), the midnight after day.
    """
    tz = _zone(zone)
    for offset in range(1, within_days + 1):
        later = day + timedelta(days=offset)
        starts = [_opens(later, start, tz) for start, _ in _windows_on(later, windows, dated or {})]
        if starts:
            return min(starts)
    return _opens(day + timedelta(days=1), "00:00", tz)


def _windows_on(
    day: date, windows: WindowsData | None, dated: Mapping[str, Sequence[Sequence[str]]]
) -> Sequence[Sequence[str]]:
    special = dated.get(day.isoformat())
    if special is not None:
        return special
    return _ALL_DAY if windows is None else windows.get(WEEKDAYS[day.weekday()], ())


# A window is one stretch of time from the instant its start occurs to the instant its end occurs,
# so on a DST night it is an hour shorter or longer, never cut in two. A start or end in the hour
# that is skipped counts from when the clocks jump; one in the hour that is repeated opens at its
# first occurrence and closes at its second.


def _opens(day: date, start: str, tz: ZoneInfo) -> datetime:
    return _instant(
        datetime.combine(day, time()) + timedelta(minutes=_minutes(start)), tz, first=True
    )


def _closes(day: date, start: str, end: str, tz: ZoneInfo) -> datetime:
    closes = _minutes(end)
    if closes <= _minutes(start):  # crosses midnight (24:00 is 1,440 minutes: no crossing)
        closes += 24 * 60
    return _instant(datetime.combine(day, time()) + timedelta(minutes=closes), tz, first=False)


def _instant(wall: datetime, tz: ZoneInfo, *, first: bool) -> datetime:
    """The UTC instant of the naive local time wall: its first or last occurrence, or the end of
    the DST gap when the clocks skip it."""
    fold0 = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    fold1 = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if fold0.astimezone(tz).replace(tzinfo=None) == wall:  # it exists (once or twice)
        return min(fold0, fold1) if first else max(fold0, fold1)
    # Skipped: fold=1 reads it with the offset after the jump, so it lands before the jump; step
    # from there to the first minute with the new offset.
    jump, before = fold1, fold1.astimezone(tz).utcoffset()
    while jump.astimezone(tz).utcoffset() == before:
        jump += timedelta(minutes=1)
    return jump
