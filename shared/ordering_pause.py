"""A pause in taking orders ("busy mode"): the kitchen stops new orders for a while.

Stored beside the profile in `public.tenants.ordering_pause` and cached with the tenant record,
so checking it costs an order no I/O. It ends by itself at `until`; resuming ends it sooner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_serializer

from shared.instants import utc_text, whole_minute_up
from shared.text_rules import one_line

MAX_PAUSE_MINUTES = 24 * 60
PauseNote = one_line(100)  # "Kitchen full, back at 8"


class OrderingPause(BaseModel):
    """No new orders before `until`; `note` is shown to customers, `by` (a staff subject) not."""

    model_config = ConfigDict(frozen=True)

    until: AwareDatetime
    since: AwareDatetime
    by: str
    note: str | None = None

    @field_serializer("until", "since", when_used="json")
    def _one_spelling(self, instant: datetime) -> str | None:
        # As every instant the API hands out (shared/instants.py), not pydantic's `Z`.
        return utc_text(instant)

    def in_force(self, now_utc: datetime) -> bool:
        return self.since <= now_utc < self.until

    def refusal(self, zone: str, now_utc: datetime, *, open_at_until: bool) -> str:
        """What a customer ordering at now_utc is told: until when (local time, with the day
        when it is not today), and why; without a time when the doors are shut by then."""
        why = f" ({self.note})" if self.note else ""
        if not open_at_until:
            return f"The restaurant is not taking orders now{why}; order during its hours"
        tz = ZoneInfo(zone)
        until, today = self.until.astimezone(tz), now_utc.astimezone(tz).date()
        if until.date() == today:
            when = f"{until:%H:%M}"
        elif until.date() == today + timedelta(days=1):
            when = f"{until:%H:%M} tomorrow"
        else:  # a 24-hour pause across a night the clocks spring forward
            when = f"{until:%H:%M} on {until:%A}"
        return f"The restaurant is not taking orders until {when}{why}; order again then"

    def for_customers(self) -> dict[str, str]:
        shown = {"until": utc_text(self.until)}
        return shown | ({"note": self.note} if self.note else {})


def pause_until(now_utc: datetime, minutes: int) -> datetime:
    """minutes from now, up to the next whole minute: the minute a refusal names is the first
    one orders are taken again."""
    return whole_minute_up(now_utc + timedelta(minutes=minutes))


def pause_in_force(pause: OrderingPause | None, now_utc: datetime) -> OrderingPause | None:
    """pause when it stops orders at now_utc, else None."""
    return pause if pause is not None and pause.in_force(now_utc) else None
