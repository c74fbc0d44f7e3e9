"""Forgetting a customer everywhere (DELETE /api/v1/admin/orders/{id}/customer): every copy of
what the customer told loses it, nothing else changes (another order, the kitchen's words, an
event's shape), and a hub that was down or slow sends nothing of it afterwards."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.events.dispatch import dispatcher, publish_pending
from shared.events.publisher import PublishError
from tests.hub_server import HubServer
from tests.order_fixtures import (  # noqa: F401 (fixtures)
    LiveClient,
    Shop,
    live_clients_fixture,
    order_access,
    settle,
    shop_fixture,
)
from tests.storefront_helpers import ok, problem
from tests.test_deletion_forgets_customers import _postgres_places_holding
from tests.test_forgetting_a_customer import catch_up, forget
from tests.test_orders_realtime import kitchen_url

FORGOTTEN_REASON = "Cancelled by the customer"


def _words(tag: str) -> dict[str, str]:
    """A customer's own words, each holding tag (so the whole database can be searched)."""
    return {
        "name": f"Ada {tag}",
        "note": f"Flat 2, ring {tag}",
        "note2": f"No straw {tag}",
        "reason": f"Moved to 12 Baker St {tag}",
    }


def _place(shop: Shop, words: dict[str, str] | None = None, key: str | None = None) -> dict:
    body = shop.order_body(shop.pizza_line("Ham"), shop.cola_line(2))
    if words:
        body["fulfilment"]["name"] = words["name"]
        body["lines"][0]["note"] = words["note"]
        body["lines"][1]["note"] = words["note2"]
    response = shop.post_order(body, key=key)
    assert response.status_code == 201, response.text
    return response.json()


def _cancel_as_customer(shop: Shop, order: dict, reason: str | None) -> None:
    json = {"reason": reason} if reason else {}
    cancel = shop.client.post(
        order["links"]["cancel"], host=shop.host, headers=order_access(order), json=json
    )
    assert ok(cancel)["status"] == "cancelled"


def _views(shop: Shop, order: dict) -> dict:
    """Everything anyone can read of one order through the API."""
    path = f"/api/v1/{{}}/orders/{order['id']}"
    return {
        "manager": ok(shop.client.get(path.format("admin"), host=shop.host, headers=shop.owner())),
        "kitchen": ok(
            shop.client.get(path.format("kitchen"), host=shop.host, headers=shop.staff())
        ),
        "customer": ok(shop.customer_view(order)),
        "events": catch_up(shop, order),
    }


def test_forgetting_one_order_changes_only_its_customers_words(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """A customer who cancelled with a reason is forgotten: every view and stored copy loses
    their words and nothing else; another customer's cancelled order is left exactly as it was."""
    tag_a, tag_b = uuid.uuid4().hex, uuid.uuid4().hex
    a, b = _place(shop, _words(tag_a)), _place(shop, _words(tag_b))
    _cancel_as_customer(shop, a, _words(tag_a)["reason"])
    _cancel_as_customer(shop, b, _words(tag_b)["reason"])
    settle()
    before_a, before_b = _views(shop, a), _views(shop, b)

    caplog.set_level(logging.INFO, logger="stelly")
    manager = f"manager-{tag_b[:8]}"
    forgotten = ok(
        forget(shop, a["id"], headers=shop.auth("manager", tenant=shop.slug, subject=manager))
    )

    # The log says which order and who asked (README), never what was forgotten.
    said = [caplog.handler.format(record) for record in caplog.records]
    assert [line for line in said if a["id"] in line and manager in line] != []
    assert tag_a not in " ".join(said)
    after_a, after_b = _views(shop, a), _views(shop, b)
    assert after_b == {**before_b, "kitchen": after_b["kitchen"]}  # its age_seconds moves on
    assert {**after_b["kitchen"], "age_seconds": 0} == {**before_b["kitchen"], "age_seconds": 0}
    assert forgotten == after_a["manager"]
    assert after_a["manager"]["version"] == before_a["manager"]["version"] + 1
    assert after_a["manager"]["updated_at"] > before_a["manager"]["updated_at"]
    for view in ("manager", "kitchen", "customer"):
        assert after_a[view]["fulfilment"] == {"type": "pickup"}, view
        assert [line["note"] for line in after_a[view]["lines"]] == [None, None], view
    # The events keep their shape: only the name, the notes and the customer's reason change.
    placed, cancelled = before_a["events"]
    del placed["data"]["fulfilment"]["name"]
    placed["data"]["lines"] = [{**line, "note": None} for line in placed["data"]["lines"]]
    cancelled["data"]["reason"] = FORGOTTEN_REASON
    assert after_a["events"] == [placed, cancelled]
    assert [step["reason"] for step in after_a["customer"]["history"]] == [None, FORGOTTEN_REASON]
    # No table or column of the database holds any of it any more; the other customer's stay.
    assert _postgres_places_holding(tag_a) == []
    assert len(_postgres_places_holding(tag_b)) == 4  # name, note, reason, event data


def test_a_customers_reason_is_forgotten_when_it_is_all_they_told(shop: Shop) -> None:
    """A dine-in order without a name or notes, cancelled by its customer with a reason: the
    reason is all there is to forget, and it goes (history, events, a new version)."""
    tag = uuid.uuid4().hex
    order = shop.place(shop.dine_in_body("Terrace 1"))
    _cancel_as_customer(shop, order, f"My ex is at the next table {tag}")
    version = ok(shop.customer_view(order))["version"]

    after = ok(forget(shop, order["id"]))

    assert after["history"][-1]["reason"] == FORGOTTEN_REASON
    assert after["version"] == version + 1
    assert catch_up(shop, order)[-1]["data"]["reason"] == FORGOTTEN_REASON
    assert _postgres_places_holding(tag) == []


def test_an_order_the_customer_cancelled_without_a_reason_has_nothing_more_to_forget(
    shop: Shop,
) -> None:
    order = shop.place(shop.dine_in_body("Terrace 2"))
    _cancel_as_customer(shop, order, None)
    before = _views(shop, order)

    after = ok(forget(shop, order["id"]))

    assert after == before["manager"]  # same version: no new ETag for the customer's page
    assert catch_up(shop, order) == before["events"]


def test_same_key_after_forgetting_replays_the_receipt_and_tells_nothing(shop: Shop) -> None:
    """The customer's retry after a lost answer (same key, same body) still opens their order,
    which no longer holds their words; another body with that key is refused without them."""
    tag, key = uuid.uuid4().hex, str(uuid.uuid4())
    words = _words(tag)
    order = _place(shop, words, key=key)
    shop.walk_to(order, "completed")
    ok(forget(shop, order["id"]))
    body = shop.order_body(shop.pizza_line("Ham"), shop.cola_line(2))
    body["fulfilment"]["name"] = words["name"]
    body["lines"][0]["note"], body["lines"][1]["note"] = words["note"], words["note2"]

    replay = shop.post_order(body, key=key)
    body["lines"][0]["note"] = "changed"
    refused = shop.post_order(body, key=key)

    assert replay.status_code == 201 and replay.json()["id"] == order["id"]
    assert tag not in replay.text
    view = ok(shop.customer_view(replay.json()))
    assert view["fulfilment"] == {"type": "pickup"} and tag not in str(view)
    assert problem(refused, 422)["errors"][0]["path"] == "Idempotency-Key"
    assert tag not in refused.text


def test_forgets_in_parallel_and_after_a_refusal_while_ready_count_once(shop: Shop) -> None:
    order = _place(shop, _words(uuid.uuid4().hex))
    version = shop.walk_to(order, "ready")
    assert problem(forget(shop, order["id"]), 409)["status_now"] == "ready"
    assert ok(shop.transition(order, "completed", version))["status"] == "completed"

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: forget(shop, order["id"]), range(4)))

    views = [ok(answer) for answer in answers]
    assert {view["version"] for view in views} == {version + 2}
    assert all(view == views[0] for view in views)


def test_another_restaurants_manager_forgets_nothing_here(shop: Shop, tenants, auth_header) -> None:
    tag = uuid.uuid4().hex
    order = _place(shop, _words(tag))
    shop.walk_to(order, "completed")
    elsewhere = tenants.create()

    refused = forget(shop, order["id"], headers=auth_header("manager", tenant=elsewhere.slug))

    assert problem(refused, 403)["status"] == 403
    assert ok(shop.customer_view(order))["fulfilment"]["name"] == _words(tag)["name"]


def test_an_event_the_hub_missed_goes_out_forgotten_when_it_is_back(
    shop: Shop, webpubsub_hub: HubServer, live_clients
) -> None:
    """Hub down for a whole order and its forgetting: once it is back, the displays are sent
    the order's events without the customer's words."""
    tag = uuid.uuid4().hex
    base = shop.last_seq()
    webpubsub_hub.stop()
    try:
        order = _place(shop, _words(tag))
        _cancel_as_customer(shop, order, _words(tag)["reason"])
        settle()
        ok(forget(shop, order["id"]))
    finally:
        webpubsub_hub.start()
    kitchen: LiveClient = live_clients(kitchen_url(shop))
    time.sleep(1.1)  # the post-commit path tries a hub that failed at most once a second
    shop.place()
    got = kitchen.events(3)
    assert [event["seq"] for event in got] == [base + 1, base + 2, base + 3]
    placed, cancelled = got[0]["data"], got[1]["data"]
    assert placed["fulfilment"] == {"type": "pickup"}
    assert [line["note"] for line in placed["lines"]] == [None, None]
    assert cancelled["reason"] == FORGOTTEN_REASON
    assert tag not in str(got)


class _Down:
    def publish(self, message, groups) -> None:
        raise PublishError("hub down")


def test_a_backlog_being_sent_when_the_customer_is_forgotten_goes_out_before_the_answer(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub was down through the order; it is back and slow, working through the backlog,
    when the manager forgets the customer. The forget waits for the batch being sent (which
    read the events before it), so nothing carrying the name goes out after its 200: what was
    sent before it is "already sent live"."""
    monkeypatch.setattr(dispatcher, "_publisher", lambda: _Down())
    tag = uuid.uuid4().hex
    earlier = shop.place()
    order = _place(shop, _words(tag))
    shop.walk_to(order, "completed")
    settle()
    time.sleep(1.1)  # past the failed attempt's one second
    sent: list[tuple[float, dict]] = []
    forgot: list[tuple[int, float]] = []
    manager = threading.Thread(
        target=lambda: forgot.append((forget(shop, order["id"]).status_code, time.monotonic()))
    )

    class SlowHub:
        def publish(self, message, groups) -> None:
            if not manager.is_alive() and not forgot:  # the manager forgets during the batch
                manager.start()
                time.sleep(0.3)
            sent.append((time.monotonic(), dict(message)))

    publish_pending(shop.schema, shop.slug, SlowHub(), respect_backoff=False)
    manager.join(10)

    [(status, answered_at)] = forgot
    assert status == 200
    assert [e["order_id"] for _, e in sent].index(earlier["id"]) < len(sent) - 5
    assert [e["type"] for at, e in sent if tag in str(e) and at > answered_at] == []
    assert tag not in str(catch_up(shop, order))
