"""Availability windows and opening hours: wall-clock local time, across midnight, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.menus.availability import available_now
from shared.menus.storefront import render_store_menu
from shared.restaurant_settings import RestaurantSettings, is_open
from shared.weekly_windows import in_windows


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


LUNCH = {"mon": [["11:00", "15:00"]]}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Monday 25 March 2024, London on GMT (UTC+0).
        ("2024-03-25T10:30", False),
        ("2024-03-25T11:30", True),
        ("2024-03-25T14:59", True),
        ("2024-03-25T15:00", False),
        # Monday 1 April 2024, London on BST (UTC+1): the same local hours, other UTC hours.
        ("2024-04-01T09:59", False),
        ("2024-04-01T10:30", True),
        ("2024-04-01T14:30", False),
    ],
)
def test_lunch_window_keeps_its_local_hours_across_dst(now: str, expected: bool) -> None:
    assert in_windows(LUNCH, "Europe/London", utc(now)) is expected


LATE = {"fri": [["18:00", "02:00"]]}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2024-03-08T22:59", False),  # Friday 17:59 EST
        ("2024-03-08T23:00", True),  # Friday 18:00
        ("2024-03-09T04:00", True),  # Friday 23:00
        ("2024-03-09T06:59", True),  # Saturday 01:59, still Friday's window
        ("2024-03-09T07:00", False),  # Saturday 02:00
        ("2024-03-08T04:00", False),  # Thursday 23:00: Thursday has no window
        ("2024-03-09T23:30", False),  # Saturday 18:30: Saturday has no window
    ],
)
def test_window_across_midnight(now: str, expected: bool) -> None:
    assert in_windows(LATE, "America/New_York", utc(now)) is expected


BAR = {"sat": [["22:00", "03:00"]]}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Night of 9/10 March 2024: New York springs forward at 02:00 EST (07:00 UTC) to 03:00.
        ("2024-03-10T06:30", True),  # 01:30 EST
        ("2024-03-10T06:59", True),  # 01:59 EST
        ("2024-03-10T07:00", False),  # 03:00 EDT: the window ends at local 03:00
        # Night of 2/3 November 2024: falls back at 02:00 EDT (06:00 UTC) to 01:00 EST.
        ("2024-11-03T05:30", True),  # 01:30 EDT
        ("2024-11-03T06:30", True),  # 01:30 EST, the second time round
        ("2024-11-03T07:30", True),  # 02:30 EST
        ("2024-11-03T08:00", False),  # 03:00 EST
    ],
)
def test_window_across_midnight_on_a_dst_night(now: str, expected: bool) -> None:
    assert in_windows(BAR, "America/New_York", utc(now)) is expected


def open_stretches(windows: dict, zone: str, start: datetime, end: datetime) -> list[tuple]:
    """The separate open stretches (UTC HH:MM) between start and end, minute by minute."""
    stretches: list[tuple] = []
    opened, moment = None, start
    while moment <= end:
        if in_windows(windows, zone, moment) and opened is None:
            opened = moment
        elif not in_windows(windows, zone, moment) and opened is not None:
            stretches.append((opened.strftime("%H:%M"), moment.strftime("%H:%M")))
            opened = None
        moment += timedelta(minutes=1)
    return stretches


# Berlin, Sunday 27 October 2024: at 03:00 CEST (01:00 UTC) clocks go back to 02:00 CET, so local
# 02:00-02:59 happens twice. Sunday 31 March 2024: at 02:00 CET (01:00 UTC) they jump to 03:00.
FALL_BACK = (utc("2024-10-26T18:00"), utc("2024-10-27T08:00"))
SPRING_FORWARD = (utc("2024-03-30T18:00"), utc("2024-03-31T08:00"))


@pytest.mark.parametrize(
    ("windows", "night", "stretches"),
    [
        # Opening in the repeated hour: from its first 02:30 to 05:00, an hour longer.
        ({"sun": [["02:30", "05:00"]]}, FALL_BACK, [("00:30", "04:00")]),
        # Closing in it: until its second 02:30, an hour longer; never closed and open again.
        ({"sat": [["22:00", "02:30"]]}, FALL_BACK, [("20:00", "01:30")]),
        # Opening or closing in the skipped hour: when the clocks jump (03:00 CEST).
        ({"sun": [["02:30", "05:00"]]}, SPRING_FORWARD, [("01:00", "03:00")]),
        ({"sat": [["22:00", "02:30"]]}, SPRING_FORWARD, [("21:00", "01:00")]),
    ],
)
def test_a_window_is_one_stretch_on_a_dst_night(windows: dict, night: tuple, stretches) -> None:
    assert open_stretches(windows, "Europe/Berlin", *night) == stretches


def test_sunday_windows_run_into_monday_and_24_00_ends_a_day() -> None:
    windows = {"sun": [["20:00", "01:00"]], "mon": [["18:00", "24:00"]]}
    assert in_windows(windows, "UTC", utc("2024-03-25T00:30"))  # Monday 00:30
    assert not in_windows(windows, "UTC", utc("2024-03-25T01:00"))
    assert in_windows(windows, "UTC", utc("2024-03-25T23:59"))
    assert not in_windows(windows, "UTC", utc("2024-03-26T00:00"))


def test_several_windows_a_day() -> None:
    windows = {"tue": [["11:30", "14:00"], ["17:30", "22:00"]]}
    zone = ZoneInfo("Europe/Berlin")
    assert in_windows(windows, zone, utc("2024-01-09T11:00"))  # 12:00 CET
    assert not in_windows(windows, zone, utc("2024-01-09T14:00"))  # 15:00
    assert in_windows(windows, zone, utc("2024-01-09T20:59"))  # 21:59


def test_available_now_needs_the_flag_and_the_window() -> None:
    now = utc("2024-03-25T11:30")
    assert available_now({"available": True, "windows": None}, "Europe/London", now)
    assert available_now({"available": True, "windows": LUNCH}, "Europe/London", now)
    assert not available_now({"available": False, "windows": None}, "Europe/London", now)
    assert not available_now({"available": True, "windows": LATE}, "Europe/London", now)
    with pytest.raises(ValueError, match="timezone-aware"):
        available_now({"available": True, "windows": LUNCH}, "UTC", datetime(2024, 3, 25, 12))


def test_is_open_reads_hours_and_zone_from_settings() -> None:
    assert is_open({}, utc("2024-03-25T03:00"))  # nothing set: always open
    stored = {"timezone": "Europe/London", "hours": LUNCH}
    assert is_open(stored, utc("2024-04-01T10:30"))
    assert not is_open(stored, utc("2024-04-01T14:30"))
    model = RestaurantSettings.model_validate(
        {
            "business_name": "Luigi's",
            "currency": "GBP",
            "timezone": "Europe/London",
            "locale": "en-GB",
            "tax": {"rate_bp": 2000, "inclusive": True},
            "hours": LUNCH,
        }
    )
    assert is_open(model, utc("2024-04-01T10:30"))
    assert not is_open(model, utc("2024-03-25T10:30"))


SNAPSHOT = {
    "version": 4,
    "published_at": "2024-03-01T12:00:00+00:00",
    "currency": "EUR",
    "categories": [
        {"id": "c1", "name": "Lunch", "rank": 0, "visible": True, "items": [
            {"id": "i1", "name": "Soup", "description": "", "price": 500, "allergens": [],
             "dietary": [], "available": True, "station": "cold", "windows": LUNCH, "image": None,
             "modifier_groups": []},
            {"id": "i2", "name": "Bread", "description": "", "price": 200, "allergens": ["gluten"],
             "dietary": ["vegan"], "available": False, "station": None, "windows": None,
             "image": None, "modifier_groups": []},
        ]},
        {"id": "c2", "name": "Staff", "rank": 1, "visible": False, "items": []},
    ],
}  # fmt: skip


def test_render_applies_availability_for_now_and_drops_hidden_categories() -> None:
    zone = ZoneInfo("Europe/London")
    lunchtime = render_store_menu(SNAPSHOT, zone, utc("2024-03-25T12:00"))
    assert [c["name"] for c in lunchtime["categories"]] == ["Lunch"]
    assert [(i["name"], i["available"]) for i in lunchtime["categories"][0]["items"]] == [
        ("Soup", True), ("Bread", False),
    ]  # fmt: skip
    evening = render_store_menu(SNAPSHOT, zone, utc("2024-03-25T19:00"))
    assert evening["categories"][0]["items"][0]["available"] is False
    assert (evening["version"], evening["currency"]) == (4, "EUR")
    assert render_store_menu(None, zone, utc("2024-03-25T19:00")) == {
        "version": 0, "categories": []
    }  # fmt: skip


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Sunday 24 March 2024 23:30 UTC is Monday 08:30 in Tokyo (UTC+9): inside Monday's window.
        ("2024-03-24T23:30", True),
        ("2024-03-25T01:00", False),  # Monday 10:00 JST: closed
        ("2024-03-23T23:30", False),  # Sunday 08:30 JST: Sunday has no window
    ],
)
def test_the_day_of_a_window_is_the_local_day_east_of_utc(now: str, expected: bool) -> None:
    """East of UTC the local day is often the next one: Monday's breakfast in Tokyo starts on
    Sunday evening UTC."""
    at = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert in_windows({"mon": [["08:00", "10:00"]]}, "Asia/Tokyo", at) is expected
