"""Special days: dates whose opening hours differ from the week's (holidays, closures, events).

A special day replaces the weekday's windows for that local date: `"hours": []` closes the
restaurant all day, a list of windows opens it only then (a late window may cross midnight into
the next day, as in the weekly hours). A weekly window of the day before that crosses midnight
still runs into a special day: it belongs to the day it starts on. Dates are the restaurant's
local dates, so "2026-12-25" is Christmas Day in its own time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)
from pydantic_core import PydanticCustomError

from shared.calendar_dates import CalendarDate
from shared.text_rules import one_line
from shared.weekly_windows import DayWindows

MAX_SPECIAL_DAYS = 100


DayNote = one_line(100)


class SpecialDay(BaseModel):
    """One date's hours in place of its weekday's, and what customers are told about it."""

    model_config = ConfigDict(extra="forbid")

    date: CalendarDate
    hours: DayWindows
    note: DayNote | None = None


def _one_entry_per_date(days: list[SpecialDay]) -> list[SpecialDay]:
    seen: set[str] = set()
    for day in days:
        if day.date in seen:
            raise PydanticCustomError(
                "duplicate_date",
                "lists {date} twice; give each date one entry with all its windows",
                {"date": day.date},
            )
        seen.add(day.date)
    return sorted(days, key=lambda day: day.date)


SpecialDays = Annotated[
    list[SpecialDay], Field(max_length=MAX_SPECIAL_DAYS), AfterValidator(_one_entry_per_date)
]

# {"2026-12-25": [["12:00", "15:00"]]}: what `in_windows` reads in place of a weekday's windows.
DatedWindows = Mapping[str, Sequence[Sequence[str]]]


def dated_windows(days: Sequence[SpecialDay | Mapping[str, Any]]) -> dict[str, list[list[str]]]:
    """Each special date's windows, keyed by its ISO date."""
    return {_field(day, "date"): [list(w) for w in _field(day, "hours")] for day in days}


def upcoming(days: Sequence[SpecialDay], today: date) -> list[dict[str, Any]]:
    """The special days from today on (local), as customers are shown them."""
    first = today.isoformat()
    return [day.model_dump(mode="json", exclude_none=True) for day in days if day.date >= first]


def note_on(days: Sequence[SpecialDay], day: date) -> str | None:
    """What the restaurant tells customers about day, if it is a special day with a note."""
    return next((entry.note for entry in days if entry.date == day.isoformat()), None)


def _field(day: SpecialDay | Mapping[str, Any], name: str) -> Any:
    return getattr(day, name) if isinstance(day, SpecialDay) else day[name]
