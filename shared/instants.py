"""Points in time as the API hands them out: on whole minutes where a person reads them, and
spelled one way (UTC, `+00:00`) whether they came from a row, JSON or a request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def whole_minute_up(instant: datetime) -> datetime:
    """instant, or the next whole minute after it: a time shown as 19:45 must hold from 19:45:00
    (a pause's end, an 86's end, a promised ready time)."""
    whole = instant.replace(second=0, microsecond=0)
    return whole if whole == instant else whole + timedelta(minutes=1)


def utc_text(value: str | datetime | None) -> str | None:
    """One spelling of an instant, so snapshots compare equal and answers look alike."""
    if value is None:
        return None
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(UTC).isoformat()
