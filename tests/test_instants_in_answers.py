"""Every point in time the API hands out is spelled one way (shared/instants.py): UTC as
`+00:00`, with six digits of fraction or none, so a client comparing or sorting them as text
gets the order they happened in, whichever answer or event they came from."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from shared import db
from shared.db import transaction
from tests.order_fixtures import Shop, settle, shop_fixture  # noqa: F401 (fixtures)
from tests.storefront_helpers import ok

ONE_SPELLING = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")
LOOKS_LIKE_AN_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def _instants(answer: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string in answer that reads as a point in time."""
    if isinstance(answer, dict):
        for key, value in answer.items():
            yield from _instants(value, f"{path}.{key}")
    elif isinstance(answer, list):
        for index, value in enumerate(answer):
            yield from _instants(value, f"{path}[{index}]")
    elif isinstance(answer, str) and LOOKS_LIKE_AN_INSTANT.match(answer):
        yield path, answer


def test_every_answer_and_event_spells_its_instants_one_way(shop: Shop) -> None:
    """A busy few minutes: an order accepted with a promise, re-promised, moved to ready; a
    pause; an 86 until tomorrow; a publish. Every instant in every answer a customer, cook or
    manager gets, and in the kitchen's events, is UTC `+00:00` with six digits or none."""
    kitchen = {"host": shop.host, "headers": shop.staff()}
    manager = {"host": shop.host, "headers": shop.owner()}
    order = shop.place()
    answers: dict[str, Any] = {"receipt": order}
    answers["accept"] = ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    late = {"ready_in_minutes": 25, "expected_version": 2}
    ready_by = f"/api/v1/kitchen/orders/{order['id']}/ready-by"
    answers["ready_by"] = ok(shop.client.put(ready_by, **kitchen, json=late))
    answers["prepare"] = ok(shop.transition(order, "preparing", 3))
    answers["pause"] = ok(shop.client.put("/api/v1/kitchen/pause", **kitchen, json={"minutes": 30}))
    ham = shop.menu.option("Margherita/Toppings/Ham")
    eighty_six = {"options": [{"id": ham, "available": False, "until": "tomorrow"}]}
    answers["86"] = ok(shop.client.post("/api/v1/kitchen/availability", **kitchen, json=eighty_six))
    answers["publish"] = ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)
    settle()
    answers["customer"] = ok(shop.customer_view(order))
    answers["ticket"] = ok(shop.client.get(f"/api/v1/kitchen/orders/{order['id']}", **kitchen))
    answers["tickets"] = ok(shop.client.get("/api/v1/kitchen/orders", **kitchen))
    answers["events"] = ok(shop.client.get("/api/v1/kitchen/events", **kitchen))
    answers["pause_read"] = ok(shop.client.get("/api/v1/kitchen/pause", **kitchen))
    answers["86_list"] = ok(shop.client.get("/api/v1/kitchen/availability", **kitchen))
    answers["day"] = ok(shop.client.get("/api/v1/admin/orders", **manager))
    answers["order"] = ok(shop.client.get(f"/api/v1/admin/orders/{order['id']}", **manager))
    answers["versions"] = ok(shop.client.get("/api/v1/admin/menu/versions", **manager))
    answers["menu"] = ok(shop.client.get("/api/v1/store/menu", host=shop.host))
    answers["config"] = ok(shop.client.get("/api/v1/store/config", host=shop.host))

    found = dict(_instants(answers))
    assert {path.split(".")[1] for path in found} >= {
        "receipt", "accept", "ready_by", "pause", "86", "publish", "customer", "ticket",
        "events", "day", "order", "versions", "config",
    }  # fmt: skip
    spelled_otherwise = {p: t for p, t in found.items() if not ONE_SPELLING.fullmatch(t)}
    assert spelled_otherwise == {}


@pytest.fixture
def server_in_tokyo(monkeypatch: pytest.MonkeyPatch, migrated_public: None) -> Iterator[None]:
    """A fresh pool whose sessions run in Asia/Tokyo, as on a server whose `timezone`
    parameter an operator set (Postgres then hands every timestamptz out at +09:00)."""
    monkeypatch.setattr(db, "SESSION_TIMEOUTS", {**db.SESSION_TIMEOUTS, "TimeZone": "Asia/Tokyo"})
    db.close_pool()
    yield
    monkeypatch.undo()
    db.close_pool()


@pytest.mark.usefixtures("webpubsub_hub", "server_in_tokyo")
def test_instants_stay_utc_when_the_servers_time_zone_is_not(shop: Shop) -> None:
    """On a server whose TimeZone is not UTC, an order's times and history (kept as JSON by
    Postgres), a publish's `published_at`, the versions list and one version, and the kitchen's
    events are still spelled one way."""
    with transaction() as conn:
        assert conn.execute("select now()::text as t").fetchone()["t"].endswith("+09")
    manager = {"host": shop.host, "headers": shop.owner()}
    order = shop.place()
    ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    answers: dict = {"publish": ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)}
    version = answers["publish"]["version"]
    answers["versions"] = ok(shop.client.get("/api/v1/admin/menu/versions", **manager))
    one = ok(shop.client.get(f"/api/v1/admin/menu/versions/{version}", **manager))
    answers["version"] = {k: v for k, v in one.items() if k != "snapshot"}
    answers["customer"] = ok(shop.customer_view(order))
    answers["order"] = ok(shop.client.get(f"/api/v1/admin/orders/{order['id']}", **manager))
    answers["day"] = ok(shop.client.get("/api/v1/admin/orders", **manager))
    settle()
    kitchen = {"host": shop.host, "headers": shop.staff()}
    answers["events"] = ok(shop.client.get("/api/v1/kitchen/events", **kitchen))
    found = dict(_instants(answers))
    assert {path.split(".")[1] for path in found} >= {
        "publish", "versions", "version", "customer", "order", "day", "events"
    }  # fmt: skip
    assert [p for p in found if ".history" in p], found  # history times are among them
    spelled_otherwise = {p: t for p, t in found.items() if not ONE_SPELLING.fullmatch(t)}
    assert spelled_otherwise == {}


@pytest.mark.usefixtures("webpubsub_hub")
def test_an_86s_until_reads_one_way_on_the_admin_item_and_option(shop: Shop) -> None:
    """An 86's `sold_out_until` reads the same on the draft item and option an editor opens as
    on the kitchen's 86 list."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    cola = shop.menu.items["Cola"]
    body = {
        "items": [{"id": cola, "available": False, "until": "tomorrow"}],
        "options": [{"id": ham, "available": False, "until": "tomorrow"}],
    }
    answer = ok(
        shop.client.post("/api/v1/kitchen/availability", host=shop.host, headers=shop.staff(),
                         json=body)
    )  # fmt: skip
    until = answer["items"][0]["sold_out_until"]
    assert ONE_SPELLING.fullmatch(until), until
    admin = {"host": shop.host, "headers": shop.owner()}
    item = ok(shop.client.get(f"/api/v1/admin/menu/items/{cola}", **admin))
    option = ok(shop.client.get(f"/api/v1/admin/menu/options/{ham}", **admin))
    assert (item["sold_out_until"], option["sold_out_until"]) == (until, until)


@pytest.mark.usefixtures("webpubsub_hub", "server_in_tokyo")
def test_a_ready_time_change_spells_the_previous_time_one_way_on_a_tokyo_server(
    shop: Shop,
) -> None:
    """README: instants are UTC `+00:00` in every answer and event, whatever the server's
    TimeZone: also the previous promise an `order.ready_by_changed` event quotes."""
    order = shop.place()
    accepted = ok(shop.transition(order, "accepted", 1, ready_in_minutes=15))
    late = {"ready_in_minutes": 25, "expected_version": 2}
    moved = ok(
        shop.client.put(f"/api/v1/kitchen/orders/{order['id']}/ready-by", host=shop.host,
                        headers=shop.staff(), json=late)
    )  # fmt: skip
    settle()
    events = ok(
        shop.client.get(
            "/api/v1/kitchen/events", host=shop.host, headers=shop.staff(), params={"after": "0"}
        )
    )["events"]
    [changed] = [e for e in events if e["type"] == "order.ready_by_changed"]
    previous = changed["data"]["previous_ready_by"]
    assert ONE_SPELLING.fullmatch(previous), previous
    assert previous == accepted["ready_by"]
    assert moved.get("previous_ready_by", previous) == previous
