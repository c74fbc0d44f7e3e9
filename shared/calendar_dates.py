"""Dates as the API spells them: `YYYY-MM-DD`, a day of the calendar, nothing looser.

pydantic's `date` also takes Unix seconds (`1717200000`) and midnight datetimes
(`2026-06-01T00:00:00Z`); a manager who sends either meant something else, so both are refused.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.text_shapes import shaped

_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_WORDS = "must be a date such as 2026-11-24 (YYYY-MM-DD)"


def _check_calendar_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "calendar_date",
            "{value} is not a day of the calendar; send one such as 2026-11-24 (YYYY-MM-DD)",
            {"value": value},
        ) from None
    return value


def _iso_text(value: object) -> object:
    if not (isinstance(value, str) and re.fullmatch(_ISO_DATE, value)):
        raise PydanticCustomError("date_format", DATE_WORDS)
    return _check_calendar_date(value)


# A date kept as its text (stored in JSON documents as sent).
CalendarDate = Annotated[
    str, Field(pattern=shaped(_ISO_DATE, DATE_WORDS)), AfterValidator(_check_calendar_date)
]
# A date parsed to `datetime.date` (query parameters).
IsoDate = Annotated[date, BeforeValidator(_iso_text)]
