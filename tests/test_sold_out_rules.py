"""Sold out until, its rules: when "tomorrow" is, which times are taken, and what a refusal
looks like (small, at its path, nothing written)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import ProblemError
from shared.instants import utc_text
from shared.menus import publish
from shared.menus.sold_out import back_on_sale_at
from shared.restaurant_settings import RestaurantSettings
from tests.conftest import execute
from tests.order_fixtures import Shop, open_shop, shop_fixture  # noqa: F401 (fixtures)
from tests.sold_out_helpers import ADMIN, KITCHEN, kitchen_86, names, refused_at, written_state
from tests.storefront_helpers import ok

LATE_NIGHT = {
    "mon": [],
    "tue": [["11:30", "14:00"], ["18:00", "23:00"]],
    "wed": [["11:30", "14:00"], ["18:00", "23:00"]],
    "thu": [["18:00", "02:00"]],
    "fri": [["12:00", "15:00"], ["18:00", "02:00"]],
    "sat": [["18:00", "02:00"]],
    "sun": [["12:00", "16:00"]],
}


def _settings(**extra: object) -> RestaurantSettings:
    return RestaurantSettings.model_validate(
        {
            "business_name": "Nachtküche",
            "currency": "EUR",
            "timezone": "Europe/Berlin",
            "locale": "de",
            "tax": {"rate_bp": 700, "inclusive": True},
            **extra,
        }
    )


def _utc(text: str) -> datetime:
    """A time with its offset (`2026-11-26T23:00:00+01:00`) as a UTC instant."""
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "back"),
    [
        # Thursday 23:00, mid-service: back when Friday's lunch opens.
        ("2026-11-26T23:00:00+01:00", "2026-11-27T12:00:00+01:00"),
        # 01:00 Friday is still Thursday's 18:00-02:00: Friday is its tomorrow, so the same.
        ("2026-11-27T01:00:00+01:00", "2026-11-27T12:00:00+01:00"),
        # Friday 03:00, after Thursday's service: Friday's own tomorrow is Saturday at 18:00.
        ("2026-11-27T03:00:00+01:00", "2026-11-28T18:00:00+01:00"),
        # Sunday afternoon: Monday is closed, so Tuesday's lunch.
        ("2026-11-29T15:00:00+01:00", "2026-12-01T11:30:00+01:00"),
        # Saturday 23:00 CEST, the clocks go back that night: Sunday 12:00 is CET.
        ("2026-10-24T23:00:00+02:00", "2026-10-25T12:00:00+01:00"),
        # Saturday 23:00 CET, the clocks go forward that night: Sunday 12:00 is CEST.
        ("2026-03-28T23:00:00+01:00", "2026-03-29T12:00:00+02:00"),
    ],
)
def test_tomorrow_is_the_restaurants_next_service_after_this_one(now: str, back: str) -> None:
    settings = _settings(hours=LATE_NIGHT)
    assert back_on_sale_at("tomorrow", settings, _utc(now), "until") == _utc(back)


def test_tomorrow_is_the_earliest_window_of_the_day_however_the_hours_list_them() -> None:
    hours = {**LATE_NIGHT, "fri": [["18:00", "02:00"], ["12:00", "15:00"]]}
    thursday_night = _utc("2026-11-26T23:00:00+01:00")
    friday_lunch = _utc("2026-11-27T12:00:00+01:00")
    assert back_on_sale_at("tomorrow", _settings(hours=hours), thursday_night, "u") == friday_lunch


def test_tomorrow_skips_a_special_day_closed_and_always_open_means_midnight() -> None:
    closed_friday = _settings(
        hours=LATE_NIGHT, special_days=[{"date": "2026-11-27", "hours": [], "note": "Private"}]
    )
    thursday_night = _utc("2026-11-26T23:00:00+01:00")
    saturday = _utc("2026-11-28T18:00:00+01:00")
    assert back_on_sale_at("tomorrow", closed_friday, thursday_night, "until") == saturday
    midnight = _utc("2026-11-27T00:00:00+01:00")
    assert back_on_sale_at("tomorrow", _settings(), thursday_night, "until") == midnight


def test_tomorrow_when_closed_for_more_than_two_weeks_is_the_next_midnight() -> None:
    """No opening within 14 days (a long holiday): back at the midnight after today's service,
    rather than searching a calendar without end."""
    first = datetime.fromisoformat("2026-11-27").date()
    holiday = [{"date": (first + timedelta(days=i)).isoformat(), "hours": []} for i in range(20)]
    settings = _settings(hours=LATE_NIGHT, special_days=holiday)
    thursday_night = _utc("2026-11-26T23:00:00+01:00")
    midnight = _utc("2026-11-27T00:00:00+01:00")
    assert back_on_sale_at("tomorrow", settings, thursday_night, "until") == midnight


def test_a_named_time_must_lie_ahead_at_most_30_days_and_ends_on_a_whole_minute() -> None:
    now = _utc("2026-11-26T19:00:00+01:00")
    settings = _settings()
    for sent, back in (
        ("2026-11-26T21:30:20+01:00", "2026-11-26T21:31:00+01:00"),
        ("2026-11-26T21:30:00.250+01:00", "2026-11-26T21:31:00+01:00"),
        ("2026-11-26T21:30:00+01:00", "2026-11-26T21:30:00+01:00"),
    ):
        assert back_on_sale_at(datetime.fromisoformat(sent), settings, now, "u") == _utc(back)
    thirty_days = now + timedelta(days=30)
    assert back_on_sale_at(thirty_days, settings, now, "until") == thirty_days
    for too_early_or_late in (now, thirty_days + timedelta(minutes=1)):
        with pytest.raises(ProblemError) as refused:
            back_on_sale_at(too_early_or_late, settings, now, "items[0].until")
        assert refused.value.errors[0].path == "items[0].until"


def test_every_until_is_spelled_in_utc() -> None:
    berlin = datetime.fromisoformat("2026-11-26T11:00:00+01:00")
    assert utc_text(berlin) == "2026-11-26T10:00:00+00:00"
    assert utc_text("2026-11-26T11:00:00+01:00") == "2026-11-26T10:00:00+00:00"


def _in_two_days(offset: str) -> str:
    return (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:00") + offset


CRAFTED_UNTILS: list[Any] = [
    {"at": "2026-12-01T11:00:00Z"},
    ["tomorrow"],
    True,
    False,
    1.5,
    "2026-12-01t11:00:00z",
    "2026-12-01T23:59:60Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:00-01:00",
    "2026-12-01T11:00:00+24:00",
    "2026-12-01T11:00:00+05:30:30",
    "\u0662\u0660\u0662\u0666-12-01T11:00:00Z",
    " 2026-12-01T11:00:00Z",
    "2026-12-01T11:00:00Z\n",
    "2026-12-01T11:00:00\u0007Z",
    "TOMORROW",
    "tomorrow ",
    "<script>" + "x" * 10_000,
    # Offsets Python would read (+00:60 as +01:00, +00:99 as +01:39) that are none.
    _in_two_days("+00:60"),
    _in_two_days("+00:99"),
    # RFC 3339's "offset unknown": a local time by another name.
    _in_two_days("-00:00"),
]


def test_a_crafted_until_is_a_small_422_at_its_path_and_changes_nothing(shop: Shop) -> None:
    """Whatever is sent as `until` (objects, lists, booleans, odd spellings, leap seconds, years
    0001 and 9999, offsets that are none, non-ASCII digits, 10,000 characters) is a 422 naming
    `items[0].until` that echoes none of a long input, and the draft, the live menu and the
    outbox are left alone."""
    before = written_state(shop)
    cola = shop.menu.items["Cola"]
    for until in CRAFTED_UNTILS:
        response = kitchen_86(shop, {"items": [{"id": cola, "available": False, "until": until}]})
        problem = refused_at(response, "items[0].until")
        assert "xxxxxxxxxx" not in problem["detail"], until
    assert written_state(shop) == before


def test_a_refusal_names_the_toggle_it_belongs_to_and_nothing_is_half_written(
    shop: Shop,
) -> None:
    """The first toggle is fine and a later one is refused (a bad shape, a time gone, an
    option id sent as an item): the refusal names that one, and nothing is written."""
    before = written_state(shop)
    cola, pizza = shop.menu.items["Cola"], shop.menu.items["Margherita"]
    ham = shop.menu.option("Margherita/Toppings/Ham")
    first = {"id": cola, "available": False, "until": "tomorrow"}
    shape = kitchen_86(shop, {"items": [first, {"id": pizza, "available": False, "until": "1h"}]})
    refused_at(shape, "items[1].until")
    gone = {"id": pizza, "available": False, "until": "2020-01-01T12:00Z"}
    refused_at(kitchen_86(shop, {"items": [first, gone]}), "items[1].until")
    gone_option = {"id": ham, "available": False, "until": "2020-01-01T00:00Z"}
    refused_at(kitchen_86(shop, {"items": [first], "options": [gone_option]}), "options[0].until")
    swapped = kitchen_86(shop, {"items": [first, {"id": ham, "available": False}]})
    assert swapped.status_code == 404 and swapped.content_type == "application/problem+json"
    assert swapped.json()["detail"].startswith("items[1]: ")
    assert written_state(shop) == before


def test_the_edges_of_30_days_and_the_most_toggles(shop: Shop) -> None:
    """At the HTTP edge: exactly 30 days ahead of the caller's clock is taken, a minute more is
    a 422 at the path; 2,000 toggles reach the id check (404 for the first unknown), 2,001 are
    a 422 at `items`."""
    cola = shop.menu.items["Cola"]
    now = datetime.now(UTC)
    late = (now + timedelta(days=30, minutes=1)).isoformat()
    refused_at(
        kitchen_86(shop, {"items": [{"id": cola, "available": False, "until": late}]}),
        "items[0].until",
    )
    exactly = (now + timedelta(days=30)).isoformat()
    taken = ok(kitchen_86(shop, {"items": [{"id": cola, "available": False, "until": exactly}]}))
    assert taken["items"][0]["sold_out_until"] is not None
    back = ok(kitchen_86(shop, {"items": [{"id": cola, "available": True}]}))
    assert back["items"][0]["sold_out_until"] is None
    before = written_state(shop)
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(2001)]
    most = kitchen_86(shop, {"items": [{"id": i, "available": False} for i in ids[:2000]]})
    assert most.status_code == 404 and most.json()["detail"].startswith("items[0]: ")
    over = kitchen_86(shop, {"items": [{"id": i, "available": False} for i in ids]})
    refused_at(over, "items")
    assert written_state(shop) == before


def test_86es_faster_than_the_restaurants_bound_are_slowed_down(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_86_VERSIONS_PER_MINUTE live 86 changes in a minute (3 here; 30 in service),
    from the kitchen and the admin API alike, the next one is a 429 with Retry-After that
    changes nothing; one that changes nothing, and a publish, are not slowed. A minute later
    86ing works again."""
    monkeypatch.setattr(publish, "MAX_86_VERSIONS_PER_MINUTE", 3)
    cola = shop.menu.items["Cola"]
    for available in (False, True, False):
        assert ok(kitchen_86(shop, {"items": [{"id": cola, "available": available}]}))[
            "published_version"
        ]
    back = {"items": [{"id": cola, "available": True}]}
    before = written_state(shop)
    refused = shop.client.post(ADMIN, host=shop.host, headers=shop.owner(), json=back)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert written_state(shop) == before
    assert "Cola" in names(ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff())))
    same = ok(kitchen_86(shop, {"items": [{"id": cola, "available": False}]}))
    assert same["published_version"] is None
    ok(shop.client.post("/api/v1/admin/menu/publish", host=shop.host, headers=shop.owner()), 201)

    _age_versions(shop, 61)  # a minute on
    assert ok(kitchen_86(shop, back))["published_version"]


def _age_versions(shop: Shop, seconds: int) -> None:
    """Every version `seconds` older (past the immutability trigger)."""
    execute(
        f"""set session_replication_role = replica;
            update {shop.schema}.menu_versions
               set published_at = published_at - interval '{seconds} seconds';
            set session_replication_role = origin"""
    )


def _toggle_cola(shop: Shop, times: int, start: bool = False) -> None:
    cola = shop.menu.items["Cola"]
    for n in range(times):
        available = start if n % 2 == 0 else not start
        answer = ok(kitchen_86(shop, {"items": [{"id": cola, "available": available}]}))
        assert answer["published_version"], n


def test_the_bound_is_30_a_minute(shop: Shop) -> None:
    """30 live 86es in a minute go through, the 31st is a 429 (the calls take seconds)."""
    _toggle_cola(shop, 30)  # off, on, ..., on
    off = {"items": [{"id": shop.menu.items["Cola"], "available": False}]}
    refused = shop.client.post(ADMIN, host=shop.host, headers=shop.owner(), json=off)
    assert refused.status_code == 429, refused.text


def test_the_bound_counts_the_newest_86es(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 86es a minute ago, then 3 now (the bound at 3): the next is a 429, though the oldest
    three are over a minute old."""
    monkeypatch.setattr(publish, "MAX_86_VERSIONS_PER_MINUTE", 3)
    _toggle_cola(shop, 3)
    _age_versions(shop, 61)
    _toggle_cola(shop, 3, start=True)
    back = {"items": [{"id": shop.menu.items["Cola"], "available": False}]}
    refused = kitchen_86(shop, back)
    assert refused.status_code == 429, refused.text


def test_retry_after_is_the_wait_until_the_oldest_is_a_minute_old(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound's 86es are 30 seconds old, so Retry-After is at most 30."""
    monkeypatch.setattr(publish, "MAX_86_VERSIONS_PER_MINUTE", 3)
    _toggle_cola(shop, 3)
    _age_versions(shop, 30)
    back = {"items": [{"id": shop.menu.items["Cola"], "available": True}]}
    refused = kitchen_86(shop, back)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 30


def test_the_kitchens_86_list_is_in_menu_order_hidden_categories_too(shop: Shop) -> None:
    """README step 4: `GET /api/v1/kitchen/availability` lists what customers cannot order
    because it is 86'd, hidden categories too, in menu order, whatever order the 86es came in."""
    ids = shop.menu
    body = {
        "items": [
            {"id": ids.items["Family meal"], "available": False},  # the hidden category
            {"id": ids.items["Cola"], "available": False},
            {"id": ids.items["Margherita"], "available": False},
        ],
        "options": [
            {"id": ids.option("Margherita/Toppings/Anchovies"), "available": False},
            {"id": ids.option("Margherita/Toppings/Ham"), "available": False},
        ],
    }
    ok(shop.client.post(KITCHEN, host=shop.host, headers=shop.staff(), json=body))

    listed = ok(shop.client.get(KITCHEN, host=shop.host, headers=shop.staff()))

    # Calzone and Truffle were published sold out.
    assert [i["name"] for i in listed["items"]] == ["Margherita", "Calzone", "Cola", "Family meal"]
    assert [(o["group"], o["name"]) for o in listed["options"]] == [
        ("Toppings", "Ham"),
        ("Toppings", "Anchovies"),
        ("Toppings", "Truffle"),
    ]
    assert all(set(entry) == {"id", "name", "sold_out_until"} for entry in listed["items"])


def test_forty_parallel_86es_do_not_slip_past_the_bound(client, tenants, auth_header) -> None:
    """Pins the 86 bound under concurrency: 40 calls at once, each 86'ing a dish of its own
    (so each changes the live menu): exactly 30 go live, 10 are 429 with Retry-After, and the
    restaurant keeps 30 availability snapshots."""
    menu = {
        "categories": [
            {"name": "Dishes", "items": [{"name": f"Dish {n}", "price": 100} for n in range(40)]}
        ]
    }
    shop = open_shop(client, tenants, auth_header, menu=menu)
    ids = [shop.menu.items[f"Dish {n}"] for n in range(40)]
    answers: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def eighty_six(item: str) -> None:
        start.wait()
        answer = kitchen_86(shop, {"items": [{"id": item, "available": False}]})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=eighty_six, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 30 + [429] * 10, codes
    for refused in (a for a in answers if a.status_code == 429):
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    [count] = execute(
        f"select count(*) as n from {shop.schema}.menu_versions where source = 'availability'"
    )
    assert count["n"] == 30
    # ...and the admin API shares the bound (bringing back one that did go off).
    went_off = next(a.json()["items"][0]["id"] for a in answers if a.status_code == 200)
    more = shop.client.post(
        ADMIN, host=shop.host, headers=shop.owner(),
        json={"items": [{"id": went_off, "available": True}]},
    )  # fmt: skip
    assert more.status_code == 429, more.text
