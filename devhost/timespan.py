""".NET TimeSpan text read as the Functions host reads it: a timer's `schedule`, host.json values.

The host calls `TimeSpan.TryParse`. Its forms, tried in .NET's order:
`d` (whole days), `hh:mm`, `hh:mm:ss[.f]`, `d.hh:mm[:ss[.f]]` and `d:hh:mm:ss[.f]`, with hours
0-23, minutes and seconds 0-59 and up to seven fraction digits. Three colon-separated numbers
are `hh:mm:ss` when that fits and `d:hh:mm` otherwise, which is why the timer documentation warns
that `"24:00:00"` means every 24 days, not every day. Anything else (a sign, a component out of
range) is refused, as the host refuses to start with it.
"""

from __future__ import annotations

import re
from datetime import timedelta

_SECONDS = r"(\d+)(?:\.(\d{1,7}))?"
_D_H_M_S = ("days", "hours", "minutes", "seconds", "fraction")
# (pattern, the components its groups hold), in the order .NET tries them.
_FORMS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"(\d+)"), ("days",)),
    (re.compile(r"(\d+):(\d+)"), ("hours", "minutes")),
    (re.compile(rf"(\d+):(\d+):{_SECONDS}"), ("hours", "minutes", "seconds", "fraction")),
    (re.compile(r"(\d+):(\d+):(\d+)"), ("days", "hours", "minutes")),
    (re.compile(rf"(\d+)\.(\d+):(\d+)(?::{_SECONDS})?"), _D_H_M_S),
    (re.compile(rf"(\d+):(\d+):(\d+):{_SECONDS}"), _D_H_M_S),
)  # fmt: skip
_LIMITS = {"hours": 23, "minutes": 59, "seconds": 59}


def _fits(parts: dict[str, str]) -> bool:
    return all(int(parts.get(name) or 0) <= limit for name, limit in _LIMITS.items())


def _delta(parts: dict[str, str]) -> timedelta:
    fraction = parts.get("fraction") or ""
    return timedelta(
        days=int(parts.get("days") or 0),
        hours=int(parts.get("hours") or 0),
        minutes=int(parts.get("minutes") or 0),
        seconds=int(parts.get("seconds") or 0),
        microseconds=int(fraction.ljust(7, "0")) / 10 if fraction else 0,
    )


def parse_timespan(text: str) -> timedelta | None:
    """The interval text names; None when it is no TimeSpan at all (e.g. an NCRONTAB line).

    ValueError when it has a TimeSpan's shape but a component out of range (`25:30:00`).
    """
    stripped = text.strip()
    shaped = False
    for pattern, names in _FORMS:
        found = pattern.fullmatch(stripped)
        if found is None:
            continue
        shaped = True
        parts = dict(zip(names, found.groups(), strict=True))
        if _fits(parts):
            return _delta(parts)
    if shaped:
        raise ValueError(
            f"{text!r} is not a TimeSpan: hours run 0-23, minutes and seconds 0-59 "
            "(three numbers are hh:mm:ss, or d:hh:mm when the first is 24 or more)"
        )
    return None
