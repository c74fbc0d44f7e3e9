"""Special days: dates whose hours replace their weekday's (holidays, closures, short days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.orders.tickets import business_date
from shared.restaurant_settings import RestaurantSettings, is_open
from shared.store_config import render_store_config, store_config_bytes
from tests.order_fixtures import closed_hours, open_shop
from tests.storefront_helpers import customer_api, error_paths, ok
from tests.test_restaurant_settings import (  # noqa: F401 (fixtures)
    SETTINGS,
    manager_api_fixture,
    rejecting_api_fixture,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def settings(hours: dict | None, *special_days: dict, zone: str = "UTC") -> RestaurantSettings:
    return RestaurantSettings.model_validate(
        {**SETTINGS, "timezone": zone, "hours": hours, "special_days": list(special_days)}
    )


# Friday 25 December 2026 is Christmas Day; Thursday the 24th Christmas Eve.
EVERY_DAY = {day: [["11:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CHRISTMAS = {"date": "2026-12-25", "hours": [], "note": "Closed for Christmas"}
EVE = {"date": "2026-12-24", "hours": [["11:00", "15:00"]], "note": "Closing early"}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-23T20:00", True),  # an ordinary Wednesday
        ("2026-12-24T14:59", True),  # Christmas Eve's short hours
        ("2026-12-24T15:00", False),  # ... end at 15:00, not at the weekday's 22:00
        ("2026-12-25T12:00", False),  # Christmas Day: closed all day
        ("2026-12-26T12:00", True),  # Saturday: the week's hours again
    ],
)
def test_a_special_day_replaces_its_weekdays_hours(now: str, expected: bool) -> None:
    assert is_open(settings(EVERY_DAY, CHRISTMAS, EVE), utc(now)) is expected


def test_a_restaurant_always_open_closes_on_its_special_day_only() -> None:
    always = settings(None, CHRISTMAS)
    assert not is_open(always, utc("2026-12-25T00:00"))
    assert not is_open(always, utc("2026-12-25T23:59"))
    assert is_open(always, utc("2026-12-24T23:59"))
    assert is_open(always, utc("2026-12-26T00:00"))


def test_a_late_window_belongs_to_the_day_it_starts_on() -> None:
    """The Thursday bar window runs past midnight into a closed Christmas Day; Christmas Day's own
    late opening runs into an ordinary Saturday that has no hours of its own."""
    late = {"thu": [["18:00", "02:00"]]}
    party = {"date": "2026-12-25", "hours": [["22:00", "03:00"]]}
    assert is_open(settings(late, CHRISTMAS), utc("2026-12-25T01:30"))
    assert not is_open(settings(late, CHRISTMAS), utc("2026-12-25T02:00"))
    assert is_open(settings(late, party), utc("2026-12-26T02:30"))
    assert not is_open(settings(late, party), utc("2026-12-26T03:00"))


def test_a_special_day_is_the_restaurants_local_date() -> None:
    """Christmas Day in Auckland (UTC+13 in summer) starts at 11:00 UTC on the 24th."""
    auckland = settings(None, CHRISTMAS, zone="Pacific/Auckland")
    assert is_open(auckland, utc("2026-12-24T10:59"))
    assert not is_open(auckland, utc("2026-12-24T11:00"))
    assert not is_open(auckland, utc("2026-12-25T10:59"))
    assert is_open(auckland, utc("2026-12-25T11:00"))


def test_special_days_are_saved_in_date_order(api) -> None:
    saved = ok(api.put("/v1/admin/settings", json={**SETTINGS, "special_days": [CHRISTMAS, EVE]}))
    assert saved["special_days"] == [EVE, CHRISTMAS]
    assert ok(api.get("/v1/admin/settings"))["special_days"] == [EVE, CHRISTMAS]


@pytest.mark.parametrize(
    ("special_days", "path", "words"),
    [
        ([CHRISTMAS, {**CHRISTMAS, "note": None}], "special_days", "lists 2026-12-25 twice"),
        ([{**CHRISTMAS, "date": "2026-02-30"}], "special_days[0].date", "not a day of the"),
        ([{**CHRISTMAS, "date": "25/12/2026"}], "special_days[0].date", "such as 2026-11-24"),
        # Other ISO spellings of the day: kept as text, they would never match a day's date.
        ([{**CHRISTMAS, "date": "20261225"}], "special_days[0].date", "such as 2026-11-24"),
        ([{**CHRISTMAS, "date": "2026-W52-5"}], "special_days[0].date", "such as 2026-11-24"),
        ([{**CHRISTMAS, "date": 20261225}], "special_days[0].date", "string"),
        ([{"date": "2026-12-25"}], "special_days[0].hours", "required"),
        ([{**CHRISTMAS, "hours": [["09:00", "25:00"]]}], "special_days[0].hours[0][1]", "09:30"),
        ([{**CHRISTMAS, "note": "x" * 101}], "special_days[0].note", "100 characters"),
        ([{**CHRISTMAS, "note": "Closed\nall day"}], "special_days[0].note", "line breaks"),
        ([{**CHRISTMAS, "reason": "Christmas"}], "special_days[0].reason", "note"),
    ],
)
def test_special_day_rules(rejecting_api, special_days, path, words) -> None:
    response = rejecting_api.put(
        "/v1/admin/settings", json={**SETTINGS, "special_days": special_days}
    )
    messages = {error["path"]: error["message"] for error in response.json()["errors"]}
    assert path in error_paths(response)
    assert words in messages[path], messages


def test_at_most_100_special_days(rejecting_api) -> None:
    """The README's number, not the constant's: a change to it must change the README too."""
    first = datetime(2027, 1, 1)
    days = [
        {"date": (first + timedelta(days=n)).date().isoformat(), "hours": []} for n in range(101)
    ]
    response = rejecting_api.put("/v1/admin/settings", json={**SETTINGS, "special_days": days})
    assert error_paths(response) == ["special_days"]
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors == {"special_days": "must have at most 100 items"}
    accepted = rejecting_api.put(
        "/v1/admin/settings", json={**SETTINGS, "special_days": days[:100]}
    )
    assert len(ok(accepted)["special_days"]) == 100


def test_the_storefront_shows_special_days_from_today_on(tenants) -> None:
    tenant = tenants.create(
        settings={**SETTINGS, "timezone": "UTC", "special_days": [EVE, CHRISTMAS]}
    )
    on_christmas = render_store_config(tenant, utc("2026-12-25T12:00"))
    assert on_christmas["special_days"] == [CHRISTMAS]
    assert on_christmas["open_now"] is False
    before = render_store_config(tenant, utc("2026-12-01T12:00"))
    assert before["special_days"] == [EVE, CHRISTMAS]
    after = render_store_config(tenant, utc("2026-12-26T00:00"))
    assert after["special_days"] == []


def test_a_cached_config_closes_at_the_special_days_midnight(tenants) -> None:
    """A restaurant with no weekly hours is cached per minute too once it has special days."""
    tenant = tenants.create(settings={**SETTINGS, "hours": None, "special_days": [CHRISTMAS]})
    before = store_config_bytes(tenant, utc("2026-12-24T23:59"))
    assert b'"open_now":true' in before[0]
    after = store_config_bytes(tenant, utc("2026-12-25T00:00"))
    assert b'"open_now":false' in after[0]


def test_a_closed_special_day_today_closes_the_store_and_says_why(
    client, tenants, auth_header
) -> None:
    # Today and tomorrow, so a run across midnight sees the same; the note quoted is today's,
    # not the first special day's.
    today = datetime.now(UTC).date()
    past = {"date": "2020-01-01", "hours": [], "note": "Closed for New Year"}
    closed = [
        {"date": (today + timedelta(days=n)).isoformat(), "hours": [], "note": "Private party"}
        for n in (0, 1)
    ]
    shop = open_shop(client, tenants, auth_header, settings={"special_days": [past, *closed]})
    config = ok(customer_api(client, shop.tenant).get("/v1/store/config"))
    assert config["open_now"] is False
    assert config["special_days"] in (closed, closed[1:])
    response = shop.post_order()
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == (
        "The restaurant is closed now (Private party); order during its hours"
    )


def test_the_storefront_lists_special_days_from_the_restaurants_own_today(tenants) -> None:
    """At 12:00 UTC on the 24th it is already Christmas Day in Auckland: Christmas Eve is past
    there, and no longer shown."""
    tenant = tenants.create(
        settings={"timezone": "Pacific/Auckland", "special_days": [EVE, CHRISTMAS]}
    )
    config = render_store_config(tenant, utc("2026-12-24T12:00"))
    assert config["special_days"] == [CHRISTMAS]
    assert config["open_now"] is False


def test_a_special_day_without_a_note_is_shown_without_one(tenants) -> None:
    plain = {"date": "2026-12-25", "hours": []}
    tenant = tenants.create(settings={"timezone": "UTC", "special_days": [plain]})
    assert render_store_config(tenant, utc("2026-12-01T12:00"))["special_days"] == [plain]


def test_an_order_refused_on_a_special_day_reads_the_restaurants_local_date(
    client, tenants, auth_header
) -> None:
    """The note quoted is the restaurant's local today's, here in a zone whose date differs
    from UTC's (UTC+14 from 10:00 UTC, UTC-11 before it)."""
    now = datetime.now(UTC)
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"
    local_today = business_date(now, zone)
    assert local_today != now.date()
    days = [
        {"date": now.date().isoformat(), "hours": [], "note": "UTC date"},
        {"date": local_today.isoformat(), "hours": [], "note": "Local date"},
    ]
    shop = open_shop(
        client, tenants, auth_header, settings={"timezone": zone, "special_days": days}
    )
    response = shop.post_order()
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == (
        "The restaurant is closed now (Local date); order during its hours"
    )


def test_is_open_reads_special_days_from_a_settings_mapping() -> None:
    """`is_open` takes the stored settings document as a mapping too, special days included."""
    document = {"timezone": "UTC", "hours": None, "special_days": [CHRISTMAS]}
    assert is_open(document, utc("2026-12-24T12:00"))
    assert not is_open(document, utc("2026-12-25T12:00"))


def test_a_restaurant_closed_by_its_hours_quotes_no_coming_special_days_note(
    client, tenants, auth_header
) -> None:
    """Closed now by its weekly hours, with a closure two days ahead: that day's note is not
    today's, so the refusal quotes none."""
    ahead = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    christmas = {"date": ahead, "hours": [], "note": "Closed for Christmas"}
    shop = open_shop(
        client, tenants, auth_header,
        settings={"timezone": "UTC", "hours": closed_hours(), "special_days": [christmas]},
    )  # fmt: skip
    response = shop.post_order()
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["message"] == (
        "The restaurant is closed now; order during its hours"
    )
