"""Pausing orders: the kitchen stops new orders for a while, customers are told until when."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.directory import directory_get
from shared.errors import ProblemError
from shared.ordering_pause import MAX_PAUSE_MINUTES, OrderingPause, pause_until
from shared.pausing_orders import set_ordering_pause
from shared.provisioning.deprovision import run_deprovision_step
from shared.store_config import render_store_config, store_config_bytes
from shared.tenancy import resolver
from tests.conftest import execute
from tests.order_fixtures import (  # noqa: F401 (fixtures)
    Clients,
    LiveClient,
    Shop,
    closed_hours,
    live_clients_fixture,
    open_shop,
    settle,
    shop_fixture,
)
from tests.storefront_helpers import error_paths, ok
from tests.test_orders_realtime import kitchen_url

PAUSE = "/api/v1/kitchen/pause"
CONFIG = "/api/v1/store/config"


def _pause(shop: Shop, body: dict, headers: dict | None = None):
    headers = shop.staff() if headers is None else headers
    return shop.client.put(PAUSE, host=shop.host, headers=headers, json=body)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _told(until: datetime, note: str | None = None) -> tuple[str, str]:
    """The refusal naming until (local), today's or, past midnight, tomorrow's."""
    why = f" ({note})" if note else ""
    return tuple(  # type: ignore[return-value]
        f"The restaurant is not taking orders until {until:%H:%M}{day}{why}; order again then"
        for day in ("", " tomorrow")
    )


def _orders(shop: Shop) -> int:
    return execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"]


def test_a_paused_kitchen_takes_no_orders_until_it_resumes(shop: Shop) -> None:
    before = datetime.now(UTC)
    state = ok(_pause(shop, {"minutes": 30, "note": "Kitchen full"}))
    assert (state["paused"], state["note"], state["by"]) == (
        True,
        "Kitchen full",
        f"staff:dev-staff-{shop.slug}",
    )
    until = datetime.fromisoformat(state["until"])
    latest = datetime.now(UTC) + timedelta(minutes=31)
    assert before + timedelta(minutes=30) <= until <= latest and until.second == 0
    assert ok(shop.client.get(PAUSE, host=shop.host, headers=shop.owner())) == state

    config = ok(shop.client.get(CONFIG, host=shop.host))
    assert config["open_now"] is False
    assert config["paused"] == {"until": state["until"], "note": "Kitchen full"}
    refused = shop.post_order()
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] in _told(until, "Kitchen full")
    assert _orders(shop) == 0

    resumed = shop.client.delete(PAUSE, host=shop.host, headers=shop.staff())
    assert resumed.status_code == 204
    assert ok(shop.client.get(PAUSE, host=shop.host, headers=shop.staff())) == {"paused": False}
    config = ok(shop.client.get(CONFIG, host=shop.host))
    assert (config["open_now"], config["paused"]) == (True, None)
    shop.place()
    assert _orders(shop) == 1


def test_a_pause_ends_by_itself(shop: Shop) -> None:
    now = datetime.now(UTC)
    ended = OrderingPause(since=now - timedelta(hours=1), until=now, by="staff:ada")
    set_ordering_pause(shop.tenant, ended, by="staff:ada", now=now)
    assert ok(shop.client.get(PAUSE, host=shop.host, headers=shop.staff())) == {"paused": False}
    assert ok(shop.client.get(CONFIG, host=shop.host))["open_now"] is True
    shop.place()


def test_a_pause_runs_from_since_up_to_until() -> None:
    since = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    pause = OrderingPause(since=since, until=since + timedelta(minutes=20), by="staff:ada")
    assert not pause.in_force(since - timedelta(microseconds=1))
    assert pause.in_force(since)
    assert pause.in_force(since + timedelta(minutes=20) - timedelta(microseconds=1))
    assert not pause.in_force(since + timedelta(minutes=20))


def test_a_new_note_within_the_minute_reaches_the_cached_config(tenants) -> None:
    """The rendered config is cached per profile version, and a pause leaves the version."""
    now = datetime.now(UTC)
    busy = OrderingPause(since=now, until=now + timedelta(hours=1), by="staff:ada", note="Busy")
    tenant = tenants.create()
    first = store_config_bytes(tenant.model_copy(update={"ordering_pause": busy}), now)[0]
    oven = busy.model_copy(update={"note": "Oven down"})
    second = store_config_bytes(tenant.model_copy(update={"ordering_pause": oven}), now)[0]
    assert (b'"note":"Busy"' in first, b'"note":"Oven down"' in second) == (True, True)


def test_the_time_orders_resume_is_the_restaurants_own(client, tenants, auth_header) -> None:
    shop = open_shop(client, tenants, auth_header, settings={"timezone": "Asia/Tokyo"})
    until = datetime.fromisoformat(ok(_pause(shop, {"minutes": 90}))["until"])
    message = shop.post_order().json()["errors"][0]["message"]
    assert message in _told(until.astimezone(ZoneInfo("Asia/Tokyo")))


def test_pausing_leaves_the_managers_settings_etag_alone(shop: Shop) -> None:
    etag = shop.client.get("/api/v1/admin/settings", host=shop.host, headers=shop.owner())
    ok(_pause(shop, {"minutes": 15}))
    assert (
        shop.client.get("/api/v1/admin/settings", host=shop.host, headers=shop.owner()).headers[
            "etag"
        ]
        == etag.headers["etag"]
    )


def test_other_instances_find_the_pause_in_the_directory(shop: Shop) -> None:
    state = ok(_pause(shop, {"minutes": 10, "note": "Oven down"}))
    entry = directory_get(shop.host)
    assert entry is not None and entry.ordering_pause is not None
    assert entry.ordering_pause.note == "Oven down"
    shown = render_store_config(entry, datetime.now(UTC))
    assert (shown["open_now"], shown["paused"]["until"]) == (False, state["until"])


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": MAX_PAUSE_MINUTES + 1}, "minutes"),
        ({"minutes": "30"}, "minutes"),
        ({"minutes": 30.0}, "minutes"),
        ({}, "minutes"),
        ({"minutes": 30, "note": "Back\nsoon"}, "note"),
        ({"minutes": 30, "note": "x" * 101}, "note"),
        ({"minutes": 30, "until": "20:00"}, "until"),
    ],
)
def test_pause_rules(shop: Shop, body: dict, path: str) -> None:
    assert path in error_paths(_pause(shop, body))
    assert ok(shop.client.get(PAUSE, host=shop.host, headers=shop.staff())) == {"paused": False}


def test_only_this_restaurants_staff_pause_it(client, tenants, auth_header, shop: Shop) -> None:
    other = tenants.create()
    for headers, status in (
        ({}, 401),
        (auth_header("staff", tenant=other.slug), 403),
        (auth_header("platform_admin"), 403),
    ):
        assert _pause(shop, {"minutes": 5}, headers).status_code == status
        gone = shop.client.delete(PAUSE, host=shop.host, headers=headers)
        assert gone.status_code == status
    assert ok(shop.client.get(PAUSE, host=shop.host, headers=shop.staff())) == {"paused": False}
    ok(_pause(shop, {"minutes": 5}, shop.auth("manager", tenant=shop.slug)))


def test_a_deleted_restaurant_keeps_no_pause_and_takes_none(shop: Shop) -> None:
    """The tombstone drops the pause with the profile; an instance whose cache still shows the
    restaurant active cannot put one back (410)."""
    ok(_pause(shop, {"minutes": 60, "note": "Closing down"}))
    for step in ("mark_deleting", "remove_directory", "delete_blobs", "drop_schema", "tombstone"):
        assert run_deprovision_step(step, shop.slug, "deletion-op")["ok"], step
    resolver._entries[shop.host] = (time.monotonic() + 5, shop.tenant)
    try:
        late = _pause(shop, {"minutes": 5, "note": "Back soon"})
    finally:
        resolver.invalidate(shop.host)
    row = execute("select status, ordering_pause from tenants where slug = %s", [shop.slug])[0]
    assert (late.status_code, row["status"], row["ordering_pause"]) == (410, "deleted", None)


@pytest.mark.usefixtures("webpubsub_hub")
def test_every_kitchen_display_hears_of_a_pause_and_the_resume(
    shop: Shop, live_clients: Clients
) -> None:
    """The kitchen's display and a station's (bar) both get `store.paused` with the pause and
    `store.resumed` with who resumed; resuming when nothing is paused tells nobody."""
    kitchen = live_clients(kitchen_url(shop))
    bar = live_clients(kitchen_url(shop, station="bar"))
    state = ok(_pause(shop, {"minutes": 20, "note": "Oven down"}))
    manager = shop.auth("manager", tenant=shop.slug, subject="mia")
    assert shop.client.delete(PAUSE, host=shop.host, headers=manager).status_code == 204
    assert shop.client.delete(PAUSE, host=shop.host, headers=manager).status_code == 204
    for display in (kitchen, bar):
        paused, resumed = display.events(2)
        assert (paused["type"], paused["order_id"]) == ("store.paused", None)
        assert paused["data"] == {key: state[key] for key in ("until", "since", "by", "note")}
        assert (resumed["type"], resumed["data"]) == ("store.resumed", {"by": "staff:mia"})
        assert resumed["seq"] == paused["seq"] + 1
    settle()
    assert kitchen.nothing_more() == [] and bar.nothing_more() == []


def test_a_cached_config_opens_again_when_a_pause_ends_by_itself(tenants) -> None:
    """A restaurant without hours is rendered once a minute while paused, so the paused config
    does not outlive the pause, and an ended pause is not shown."""
    now = datetime.now(UTC)
    pause = OrderingPause(since=now, until=now + timedelta(minutes=10), by="staff:ada")
    record = tenants.create().model_copy(update={"ordering_pause": pause})
    assert b'"open_now":false' in store_config_bytes(record, now)[0]
    later = store_config_bytes(record, now + timedelta(minutes=11))[0]
    assert b'"open_now":true' in later and b'"paused":null' in later


def test_a_pause_without_a_note_shows_customers_only_until(shop: Shop) -> None:
    state = ok(_pause(shop, {"minutes": 5}))
    assert ok(shop.client.get(CONFIG, host=shop.host))["paused"] == {"until": state["until"]}


def test_the_kitchens_pause_state_is_never_cached(shop: Shop) -> None:
    """A cached "paused: false" would hide a pause from the display that reads it."""
    put = _pause(shop, {"minutes": 5})
    got = shop.client.get(PAUSE, host=shop.host, headers=shop.staff())
    assert (put.headers["cache-control"], got.headers["cache-control"]) == ("no-store", "no-store")
    assert ok(got)["paused"] is True


def test_a_restaurant_being_deleted_cannot_be_paused(tenants) -> None:
    """Its deletion has begun: no pause (410), none kept."""
    tenant = tenants.create(status="deleting")
    now = datetime.now(UTC)
    pause = OrderingPause(since=now, until=now + timedelta(minutes=5), by="staff:ada")
    with pytest.raises(ProblemError) as refused:
        set_ordering_pause(tenant, pause, by="staff:ada", now=now)
    assert refused.value.status == 410
    row = execute("select ordering_pause from tenants where id = %s", [tenant.id])[0]
    assert row["ordering_pause"] is None


def test_a_closed_restaurant_says_closed_even_while_paused(client, tenants, auth_header) -> None:
    """ "Not taking orders until 19:45" would send a customer back at 19:45 to a restaurant that
    opens tomorrow: its hours speak first."""
    shop = open_shop(client, tenants, auth_header, settings={"hours": closed_hours()})
    ok(_pause(shop, {"minutes": 30, "note": "Kitchen full"}))
    message = shop.post_order().json()["errors"][0]["message"]
    assert message == "The restaurant is closed now; order during its hours"


@pytest.mark.parametrize(
    ("now", "until", "zone", "told"),
    [
        ("2026-11-27T18:00", "2026-11-27T19:45", "UTC", "until 19:45 (Busy); order again then"),
        ("2026-11-27T04:02", "2026-11-28T04:02", "UTC", "until 04:02 tomorrow (Busy); order"),
        # 24 hours from 23:30 on the night the clocks spring forward end on the day after next.
        ("2026-03-28T22:30", "2026-03-29T22:30", "Europe/Berlin", "until 00:30 on Monday (Busy)"),
    ],
)
def test_a_refusal_names_the_day_when_orders_resume_on_another(
    now: str, until: str, zone: str, told: str
) -> None:
    """A day-long pause named only by its clock time ("until 04:02" at 04:02) reads as now."""
    pause = OrderingPause(since=_utc(now), until=_utc(until), by="staff:ada", note="Busy")
    refusal = pause.refusal(zone, _utc(now), open_at_until=True)
    assert refusal.startswith("The restaurant is not taking orders ") and told in refusal, refusal


def test_a_pause_ends_at_a_whole_minute_so_the_minute_named_takes_orders() -> None:
    """19:15:38 plus 30 minutes ends at 19:46, the minute the refusal names; an end already on
    the minute stays."""
    assert pause_until(_utc("2026-11-27T19:15:38"), 30) == _utc("2026-11-27T19:46")
    assert pause_until(_utc("2026-11-27T19:15"), 30) == _utc("2026-11-27T19:45")


def test_a_pause_outlasting_todays_hours_names_no_time(client, tenants, auth_header) -> None:
    """Open now on a short day that closes in ten minutes, paused for an hour: "until <the
    pause's end>" would send customers back to closed doors, so no time is named."""
    now = datetime.now(UTC)
    today = now.date()
    closes = now + timedelta(minutes=10)
    short = {
        "date": today.isoformat(),
        "hours": [["00:00", "24:00" if closes.date() != today else f"{closes:%H:%M}"]],
    }
    tomorrow = {"date": (today + timedelta(days=1)).isoformat(), "hours": []}
    shop = open_shop(client, tenants, auth_header, settings={"special_days": [short, tomorrow]})
    ok(_pause(shop, {"minutes": 60, "note": "Kitchen full"}))
    message = shop.post_order().json()["errors"][0]["message"]
    assert (
        message == "The restaurant is not taking orders now (Kitchen full); order during its hours"
    )


def test_a_pause_takes_1440_minutes_and_not_one_more(shop: Shop) -> None:
    """README "Pausing orders": `minutes` 1 to 1,440. A pause of a whole day is taken (until 24 h
    later, on a whole minute); 1,441 is a 422 at `minutes`."""
    before = datetime.now(UTC)
    day = ok(shop.client.put(PAUSE, host=shop.host, headers=shop.staff(), json={"minutes": 1440}))
    until = datetime.fromisoformat(day["until"])
    assert before + timedelta(minutes=1440) <= until <= before + timedelta(minutes=1442)
    assert until.second == 0 and until.microsecond == 0
    refused = shop.client.put(PAUSE, host=shop.host, headers=shop.staff(), json={"minutes": 1441})
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["minutes"]
