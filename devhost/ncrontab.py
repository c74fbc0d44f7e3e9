"""NCRONTAB schedules and TimeSpans, read the way the Functions host reads a timer's `schedule`.

The host parses it with NCrontab including seconds: six fields
`{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a value, a range `a-b`, a list
`a,b`, or a step `*/n`, `a-b/n`, `a/n` (a to the field's maximum). Months and days of the week
also take names, matched as NCrontab does: case-insensitive prefixes of the English names (`Jan`,
`MON`, `Friday`). Day-of-week is 0-6 with 0 = Sunday. A date must match both the day and the
day-of-week fields (NCrontab ANDs them, unlike Vixie cron). Schedules that are not NCRONTAB are
tried as a .NET TimeSpan (`00:05:00`, `1.00:00:00`; `24:00:00` is 24 days, see timespan.py), a
fixed interval the host allows outside the Consumption plan. Times are UTC (the host's default
when WEBSITE_TIME_ZONE is not set).
"""

from __future__ import annotations

import calendar
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .timespan import parse_timespan

_MONTHS = tuple(calendar.month_name[1:])
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# (name, lowest, highest, value names) for the six NCRONTAB fields, in order.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)


def _utc(moment: datetime) -> datetime:
    """Aware UTC; naive datetimes are taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Schedule(ABC):
    """When a timer fires."""

    expression: str

    @abstractmethod
    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment`, as an aware UTC datetime."""


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A six-field NCRONTAB schedule, each field expanded to the set of values it allows."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    def next_after(self, moment: datetime) -> datetime:
        """Step by the coarsest unit that does not match; parse_schedule ensured a match exists."""
        t = _utc(moment).replace(microsecond=0) + timedelta(seconds=1)
        while True:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif t.day not in self.days or t.isoweekday() % 7 not in self.days_of_week:
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
            elif t.second not in self.seconds:
                t += timedelta(seconds=1)
            else:
                return t

    def matches_every_minute(self) -> bool:
        """The minute, hour, day, month and day-of-week fields allow every value: what NCrontab
        prints as `*` (so `0-59` counts as `*`, as it does for the host)."""
        coarser = (self.minutes, self.hours, self.days, self.months, self.days_of_week)
        return all(
            values == frozenset(range(low, high + 1))
            for values, (_, low, high, _) in zip(coarser, _FIELDS[1:], strict=True)
        )


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """A TimeSpan schedule: a fixed interval from the previous occurrence."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        """`moment` plus the interval."""
        return _utc(moment) + self.interval


def _parse_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.isdigit():
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}-{high}")
        return value
    for index, name in enumerate(names):
        if text and name.lower().startswith(text.lower()):
            return low + index
    known = f" or a name ({', '.join(n[:3] for n in names)})" if names else ""
    raise ValueError(f"{text!r} is not a number {low}-{high}{known}")


def _parse_field(text: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """Expand one field: comma-separated `*`, values, ranges, each with an optional `/step`."""
    values: set[int] = set()
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if slash and step < 1:
            raise ValueError(f"step {step_text!r} must be a positive number")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = (
                _parse_value(first, low, high, names),
                _parse_value(last, low, high, names),
            )
            if start > end:
                raise ValueError(f"range {body!r} runs backwards")
        else:
            start = _parse_value(body, low, high, names)
            end = high if slash else start
        values.update(range(start, end + 1, step or 1))
    return frozenset(values)


def _parse_timespan(expression: str) -> IntervalSchedule | None:
    """A .NET TimeSpan (see devhost/timespan.py), or None when the text is not one."""
    try:
        interval = parse_timespan(expression)
    except ValueError as problem:
        raise ValueError(f"invalid TimeSpan schedule: {problem}") from None
    if interval is None:
        return None
    if not interval:
        raise ValueError(f"invalid TimeSpan schedule {expression!r}: the interval is zero")
    return IntervalSchedule(expression, interval)


def parse_schedule(expression: str) -> Schedule:
    """Parse an NCRONTAB expression or a TimeSpan; ValueError names the bad field.

    Six fields start with the second; five, as the host reads them (CronSchedule.HasSeconds),
    are a classic cron line that fires at second 0.
    """
    interval = _parse_timespan(expression.strip())
    if interval is not None:
        return interval
    parts = expression.split()
    if len(parts) == len(_FIELDS) - 1:
        parts = ["0", *parts]
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"invalid schedule {expression!r}: NCRONTAB needs six fields "
            f"{{second}} {{minute}} {{hour}} {{day}} {{month}} {{day-of-week}} (or five, without"
            f" the second), got {len(parts)}"
        )
    sets = []
    for text, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        try:
            sets.append(_parse_field(text, low, high, names))
        except ValueError as exc:
            raise ValueError(
                f"invalid schedule {expression!r}: {name} field {text!r}: {exc}"
            ) from None
    schedule = CronSchedule(expression, *sets)
    # Without this, next_after would search forever for e.g. 30 February.
    if not any(day <= calendar.monthrange(2024, m)[1] for m in schedule.months for day in sets[3]):
        raise ValueError(
            f"invalid schedule {expression!r}: day field {parts[3]!r} never occurs in the "
            f"months of month field {parts[4]!r}"
        )
    return schedule
