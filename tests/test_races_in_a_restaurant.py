"""Races within one restaurant that a lock in the code settles: each test holds what the racing
writers need, lets them queue behind it in a known order, then lets go (no sleeps make the
overlap). Without the lock named in each docstring the test fails; the tests that send the same
requests one after another cannot tell.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from shared.config import get_settings
from shared.db import tenant_transaction, transaction
from shared.events.dispatch import publish_pending
from shared.events.outbox import events_after
from shared.orders import placement
from shared.rate_limit import client_bucket, window_start
from tests.conftest import execute, lock_waiters, run_in_turn_behind, wait_for_lock_waiters
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401  (shop)
from tests.storefront_helpers import ok, owner_api
from tests.test_outbox_dispatch_rules import Recorder
from tests.test_outbox_hub_trouble import restaurant_with_events

TABLES = "/api/v1/admin/tables"


def test_two_tables_added_at_once_with_labels_one_up_to_case_are_one_label(shop: Shop) -> None:
    """Two tables added at once as "Straße 1" and "STRASSE 1" are one label: the restaurant's
    table writers take turns (shared/dining_tables.py `_take_turns`, an advisory lock), so the
    second one's check sees the first one's label. The unique index compares lower(), which
    keeps the two apart, so without the turns both would be created."""
    answers: list = []

    def add(label: str):
        return lambda: answers.append(
            shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json={"label": label})
        )

    # Both pass their checks' reads; the first holds the writers' lock while its insert waits.
    run_in_turn_behind(
        shop.schema,
        "lock table dining_tables in exclusive mode",
        "tables",
        add("Straße 1"),
        add("STRASSE 1"),
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    rows = execute(f"select label from {shop.schema}.dining_tables")
    assert [row["label"] for row in rows] == ["Straße 1"]


def test_two_tables_renamed_at_once_to_labels_one_up_to_case_are_one_label(shop: Shop) -> None:
    """Two tables renamed at once to labels one up to case: a rename that changes the label takes
    the same turns as adding (shared/dining_tables.py update_table), so one of them is a 409."""
    first, second = (
        shop.client.post(TABLES, host=shop.host, headers=shop.owner(), json={"label": label})
        for label in ("Bar 1", "Bar 2")
    )
    answers: list = []

    def rename(table: dict, label: str):
        body = {"label": label, "expected_version": 1}
        return lambda: answers.append(
            shop.client.put(
                f"{TABLES}/{table['id']}", host=shop.host, headers=shop.owner(), json=body
            )
        )

    # Share mode lets each rename lock its own row and read the labels, not write.
    run_in_turn_behind(
        shop.schema,
        "lock table dining_tables in share mode",
        "tables",
        rename(first.json(), "Straße 1"),
        rename(second.json(), "STRASSE 1"),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    rows = execute(f"select label from {shop.schema}.dining_tables order by label")
    assert [row["label"] for row in rows] == ["Bar 2", "Straße 1"]


def test_two_categories_added_at_once_go_last_one_after_the_other(
    client, tenants, auth_header
) -> None:
    """Two categories added at once go last one after the other (ranks 0 and 1): the menu's
    writers take turns (shared/menus/rows.py draft_transaction, an advisory lock); without it
    both read the same highest rank and take the next one."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    made: list[dict] = []

    def add(name: str):
        return lambda: made.append(
            ok(api.post("/v1/admin/menu/categories", json={"name": name}), 201)
        )

    run_in_turn_behind(
        tenant.schema_name,
        "lock table menu_categories in exclusive mode",
        "menu",
        add("Pizza"),
        add("Pasta"),
    )
    assert [(c["name"], c["rank"]) for c in made] == [("Pizza", 0), ("Pasta", 1)]


def test_two_settings_saves_with_one_etag_at_once_the_second_is_412(
    client, tenants, auth_header
) -> None:
    """Two managers who both loaded ETag "1" and save at once: one is saved, the other is a 412,
    never a silent overwrite (shared/tenant_profile.py locks the tenant's row before it
    compares versions)."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    etag = api.get("/v1/admin/settings").headers["etag"]
    first = {**ok(api.get("/v1/admin/settings")), "business_name": "First"}
    second = {**first, "business_name": "Second"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        with transaction() as conn:  # both saves read the row while this holds it
            conn.execute("select 1 from public.tenants where id = %s for update", [tenant.id])
            saves = [
                pool.submit(api.put, "/v1/admin/settings", json=body, headers={"If-Match": etag})
                for body in (first, second)
            ]
            wait_for_lock_waiters("tenants", count=2)
        answers = [future.result() for future in saves]
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 200)
    saved = api.get("/v1/admin/settings")
    assert (ok(saved)["business_name"], saved.headers["etag"]) == (winner["business_name"], '"2"')


def test_two_publishers_at_once_hand_out_each_seq_once_and_send_each_event_once(tenants) -> None:
    """Two publishers at once (the after-commit publish and the timer) number each event once and
    send it once: they take turns per restaurant (shared/events/dispatch.py, an advisory lock).
    Without it the second numbers the same events again (seqs 3 and 4 for two events, so a
    display that saw seq 1 is told of it twice under another number) and sends them again."""
    tenant = restaurant_with_events(tenants, "first", "second")
    hubs = [Recorder(), Recorder()]

    def publish(hub: Recorder):
        return lambda: publish_pending(tenant.schema_name, tenant.slug, hub, respect_backoff=False)

    # The first publisher waits to number the events; the second queues behind it.
    run_in_turn_behind(
        tenant.schema_name,
        "select 1 from outbox_counter for update",
        "outbox",
        publish(hubs[0]),
        publish(hubs[1]),
    )
    sent = [(m["seq"], m["data"]["note"]) for hub in hubs for m in hub.sent]
    assert sent == [(1, "first"), (2, "second")]
    with tenant_transaction(tenant.schema_name) as conn:
        numbered = [(e.seq, e.data["note"]) for e in events_after(conn, 0, limit=10)]
    assert numbered == [(1, "first"), (2, "second")]


def test_two_orders_at_once_past_the_rate_limit_the_second_is_429(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two orders that meet at an address's last allowed hit do not both get through: the count
    is one atomic upsert (shared/rate_limit.py add_hit); read-then-write would lose one."""
    start = window_start(datetime.now(UTC))
    monkeypatch.setattr(placement, "window_start", lambda now: start)  # as that module does
    ip = "203.0.113.9"
    limit = get_settings().order_rate_limit_per_minute
    execute(
        f"insert into {shop.schema}.rate_limit_windows (bucket, window_start, hits)"
        " values (%s, %s, %s)",
        [f"orders:{client_bucket(ip)}", start, limit - 1],
    )
    body = shop.order_body(shop.cola_line())
    answers: list = []

    def order(key: str):
        return lambda: answers.append(shop.post_order(body, ip=ip, key=key))

    run_in_turn_behind(
        shop.schema,
        "lock table rate_limit_windows in exclusive mode",
        "rate_limit_windows",
        order("last-hit-first-0000"),
        order("last-hit-second-000"),
    )
    assert sorted(a.status_code for a in answers) == [201, 429], [a.text for a in answers]


def test_a_second_request_with_a_key_claimed_but_not_yet_committed_is_409_then_a_replay(
    shop: Shop,
) -> None:
    """The same Idempotency-Key arriving while the first request holds its claim uncommitted:
    it waits on the key's unique index (shared/orders/idempotency.py claim_key, one
    `insert ... on conflict` whose update only takes expired or abandoned keys), then is told
    the first is in flight (409); once the first has its order, the same request is a replay.
    Read-then-write would see no key, claim it too and place a second order (or take the key
    from the first)."""
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    with ThreadPoolExecutor(max_workers=2) as pool:
        with tenant_transaction(shop.schema) as orders_held:  # the first's order waits here
            orders_held.execute("lock table orders in exclusive mode")
            with tenant_transaction(shop.schema) as numbers_held:
                # The first claims the key, then waits for its ticket number, claim uncommitted.
                numbers_held.execute("lock table ticket_counters in exclusive mode")
                first = pool.submit(shop.post_order, body, key=key)
                wait_for_lock_waiters("ticket_counters")
                second = pool.submit(shop.post_order, body, key=key)
                wait_for_lock_waiters("idempotency_keys")
            # The first commits its claim and waits for the orders table; the second answers,
            # or (were it to claim the key too) waits there beside the first.
            deadline = time.monotonic() + 10
            while not second.done() and lock_waiters("into orders") < 2:
                assert time.monotonic() < deadline, "the second request never got anywhere"
                time.sleep(0.02)
            assert second.done(), "the second request claimed the key the first holds"
        in_flight, placed = second.result(), first.result()
    assert (placed.status_code, in_flight.status_code) == (201, 409), in_flight.text
    assert in_flight.headers["retry-after"] == "1"
    replay = shop.post_order(body, key=key)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == placed.json()
    assert execute(f"select count(*) as n from {shop.schema}.orders")[0]["n"] == 1


def test_two_orders_taking_their_ticket_numbers_at_once_get_consecutive_ones(shop: Shop) -> None:
    """Two orders (from two addresses) taking the day's next ticket number at once get #0002 and
    #0003: the number is one atomic upsert per restaurant and local day
    (shared/orders/tickets.py take_ticket); read-then-write would give both #0002."""
    assert shop.place()["ticket_number"] == "#0001"  # the day's counter row exists
    answers: list = []

    def order(ip: str):
        return lambda: answers.append(shop.post_order(shop.order_body(shop.cola_line()), ip=ip))

    # Both have claimed, validated and counted; they queue for the counter one behind the other.
    run_in_turn_behind(
        shop.schema,
        "lock table ticket_counters in exclusive mode",
        "ticket_counters",
        order("203.0.113.21"),
        order("203.0.113.22"),
    )
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert sorted(a.json()["ticket_number"] for a in answers) == ["#0002", "#0003"]
    numbers = execute(f"select ticket_number from {shop.schema}.orders order by ticket_number")
    assert [row["ticket_number"] for row in numbers] == [1, 2, 3]
