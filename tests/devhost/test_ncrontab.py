"""devhost's NCRONTAB and TimeSpan schedules: fields, malformed ones, next occurrences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from devhost.ncrontab import CronSchedule, IntervalSchedule, parse_schedule

ALL_SECONDS = frozenset(range(60))


def cron(expression: str) -> CronSchedule:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, CronSchedule)
    return schedule


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "field", "expected"),
    [
        ("*/5 * * * * *", "seconds", set(range(0, 60, 5))),
        ("0 */5 * * * *", "minutes", set(range(0, 60, 5))),
        ("0 30 9 * * MON-FRI", "days_of_week", {1, 2, 3, 4, 5}),
        ("0 30 9 * * MON-FRI", "hours", {9}),
        ("0 0 0 * * sun,Saturday", "days_of_week", {0, 6}),
        ("0 0 0 * * 0", "days_of_week", {0}),
        ("0 0 0 1 Jan,JUL,dec *", "months", {1, 7, 12}),
        ("0 0 0 1 Jan-Jun/2 *", "months", {1, 3, 5}),
        ("0 0 0 1-10/3 * *", "days", {1, 4, 7, 10}),
        ("5/20 * * * * *", "seconds", {5, 25, 45}),
        ("0 1,2,10-12 * * * *", "minutes", {1, 2, 10, 11, 12}),
        ("0 0 * * * *", "days", set(range(1, 32))),
    ],
)
def test_parses_fields(expression: str, field: str, expected: set[int]) -> None:
    assert getattr(cron(expression), field) == expected


@pytest.mark.parametrize(
    ("expression", "bad_field"),
    [
        ("60 * * * * *", "second field '60'"),
        ("0 61 * * * *", "minute field '61'"),
        ("0 0 24 * * *", "hour field '24'"),
        ("0 0 0 0 * *", "day field '0'"),
        ("0 0 0 * 13 *", "month field '13'"),
        ("0 0 0 * Foo *", "month field 'Foo'"),
        ("0 0 0 * * 7", "day-of-week field '7'"),
        ("0 0 0 * * MON-XYZ", "day-of-week field 'MON-XYZ'"),
        ("*/0 * * * * *", "second field '*/0'"),
        ("0 5-1 * * * *", "minute field '5-1'"),
        ("0 1,,2 * * * *", "minute field '1,,2'"),
        ("0 0 0 30 Feb *", "day field '30'"),
        ("* * * *", "six fields"),
        ("0 0 * * * * *", "six fields"),
    ],
)
def test_rejects_malformed_schedules(expression: str, bad_field: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_schedule(expression)
    assert repr(expression) in str(raised.value) and bad_field in str(raised.value)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/5 * * * * *", utc(2025, 3, 1, 12, 0, 3), utc(2025, 3, 1, 12, 0, 5)),
        # Five fields, as the host reads them: minute to day-of-week, at second 0.
        ("*/5 * * * *", utc(2024, 12, 31, 23, 58), utc(2025, 1, 1, 0, 0)),
        ("30 9 * * 1-5", utc(2025, 3, 1, 12, 0), utc(2025, 3, 3, 9, 30)),
        ("*/5 * * * * *", utc(2025, 3, 1, 12, 0, 5), utc(2025, 3, 1, 12, 0, 10)),
        ("0 */5 * * * *", utc(2024, 12, 31, 23, 58), utc(2025, 1, 1, 0, 0)),
        ("0 30 9 * * MON-FRI", utc(2025, 1, 3, 10, 0), utc(2025, 1, 6, 9, 30)),
        ("0 0 0 31 * *", utc(2025, 1, 31, 0, 0), utc(2025, 3, 31, 0, 0)),
        ("0 0 0 29 Feb *", utc(2025, 1, 1), utc(2028, 2, 29)),
        ("0 0 12 1 Jan,Jul Sun", utc(2025, 1, 1), utc(2029, 7, 1, 12)),
        ("0 0 0 1 1 *", utc(2025, 6, 15, 8, 0, 0, 500), utc(2026, 1, 1)),
        ("30 59 23 31 12 *", utc(2025, 12, 31, 23, 59, 30), utc(2026, 12, 31, 23, 59, 30)),
    ],
)
def test_next_occurrence(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(after) == expected


def test_next_occurrence_is_utc_for_naive_and_other_zones() -> None:
    schedule = parse_schedule("0 0 9 * * *")
    assert schedule.next_after(datetime(2025, 5, 1, 8, 0)) == utc(2025, 5, 1, 9)
    plus_two = timezone(timedelta(hours=2))  # 11:30 there is 09:30 UTC, past today's run.
    assert schedule.next_after(datetime(2025, 5, 1, 11, 30, tzinfo=plus_two)) == utc(2025, 5, 2, 9)


def test_timespan_schedules() -> None:
    schedule = parse_schedule("00:05:00")
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.next_after(utc(2025, 1, 1)) == utc(2025, 1, 1, 0, 5)
    assert parse_schedule("1.02:00:00").next_after(utc(2025, 1, 1)) == utc(2025, 1, 2, 2)
    with pytest.raises(ValueError, match="00:00:00"):
        parse_schedule("00:00:00")


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("01:00:00", timedelta(hours=1)),  # the timer documentation's examples
        ("00:01:00", timedelta(minutes=1)),
        ("25:00:00:00", timedelta(days=25)),
        ("1.00:00:00", timedelta(days=1)),
        ("24:00:00", timedelta(days=24)),  # d:hh:mm once the first number passes 23
        ("23:00:00", timedelta(hours=23)),
        ("00:30", timedelta(minutes=30)),
        ("2", timedelta(days=2)),
        ("1.02:03", timedelta(days=1, hours=2, minutes=3)),
        ("00:00:30.25", timedelta(seconds=30.25)),
    ],
)
def test_timespan_schedules_are_read_as_dotnet_reads_them(
    expression: str, interval: timedelta
) -> None:
    """The host hands a schedule that is no NCRONTAB line to TimeSpan.TryParse, whose forms
    these are; `24:00:00` in particular runs every 24 days, as the documentation warns."""
    schedule = parse_schedule(expression)
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.next_after(utc(2025, 1, 1)) == utc(2025, 1, 1) + interval


@pytest.mark.parametrize("expression", ["25:30:00", "24:00", "00:60:00", "00:00:60", "1.24:00:00"])
def test_a_timespan_with_a_component_out_of_range_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="hours run 0-23"):
        parse_schedule(expression)


def test_an_hour_that_does_not_match_moves_to_the_whole_next_hour() -> None:
    """From 08:30 a daily 09:00 timer fires at 09:00 that day: the minutes left over from 08:30
    are not carried into 09:30 (and so past it, to the next morning)."""
    assert parse_schedule("0 0 9 * * *").next_after(utc(2025, 5, 1, 8, 30)) == utc(2025, 5, 1, 9)


def test_an_aware_time_west_of_utc_is_converted_not_relabelled() -> None:
    """08:30 at UTC-2 is 10:30 UTC, past today's 09:00 UTC run."""
    minus_two = timezone(timedelta(hours=-2))
    schedule = parse_schedule("0 0 9 * * *")
    assert schedule.next_after(datetime(2025, 5, 1, 8, 30, tzinfo=minus_two)) == utc(2025, 5, 2, 9)


def test_a_range_of_a_single_value_is_allowed() -> None:
    """`1-1` (Mondays only, as a generated schedule may write it) is a range, not one that runs
    backwards."""
    assert cron("0 0 9 * * MON-MON").days_of_week == {1}
    assert parse_schedule("0 30 9 * * 1-1").next_after(utc(2025, 3, 1)) == utc(2025, 3, 3, 9, 30)


@pytest.mark.parametrize("expression", ["0 0 0 1 Jan,,Jul *", "0 0 9 * * Mon,"])
def test_an_empty_name_in_a_list_is_rejected(expression: str) -> None:
    """An empty list item in a month or day-of-week field is a typo, not January or Sunday."""
    with pytest.raises(ValueError, match="field"):
        parse_schedule(expression)


@pytest.mark.parametrize(
    ("expression", "every_minute"),
    [("*/10 * * * * *", True), ("0 0-59 * 1-31 * *", True), ("* 30 * * * *", False),
     ("0 0 9 * * *", False), ("* * * * * Mon-Fri", False)],
)  # fmt: skip
def test_a_schedule_matches_every_minute_when_its_fields_from_the_minute_up_allow_all(
    expression: str, every_minute: bool
) -> None:
    """What the host reads as `* * * * *` after the seconds: a full range counts as `*`."""
    assert cron(expression).matches_every_minute() is every_minute
