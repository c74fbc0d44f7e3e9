"""A pause in taking orders ("busy mode"): the kitchen stops new orders for a while.

Stored beside the profile in `public.tenants.ordering_pause` and cached with the tenant record,
so checking it costs an order no I/O. It ends by itself at `until`; resuming ends it sooner.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

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

    def in_force(self, now_utc: datetime) -> bool:
        return self.since <= now_utc < self.until

    def refusal(self, zone: str) -> str:
        """What a customer ordering now is told: until when (local time), and why."""
        until = self.until.astimezone(ZoneInfo(zone)).strftime("%H:%M")
        why = f" ({self.note})" if self.note else ""
        return f"The restaurant is not taking orders until {until}{why}; order again then"

    def for_customers(self) -> dict[str, str]:
        shown = {"until": self.until.isoformat().replace("+00:00", "Z")}
        return shown | ({"note": self.note} if self.note else {})


def pause_in_force(pause: OrderingPause | None, now_utc: datetime) -> OrderingPause | None:
    """pause when it stops orders at now_utc, else None."""
    return pause if pause is not None and pause.in_force(now_utc) else None
