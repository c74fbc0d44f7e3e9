"""A customer's cancel and the kitchen's "running late", probed as an attacker would: other
restaurants' orders and tokens, every role, version spellings, odd bodies and races."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.conftest import execute, run_in_turn_behind
from tests.order_fixtures import (
    Shop,
    open_shop,
    order_access,
    outbox_events,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.storefront_helpers import error_paths, ok, owner_api

PLATFORM_HOST = "stelly.test"


def _cancel(shop: Shop, order_id: str, headers: dict, body: Any = None, host: str | None = None):
    return shop.client.post(
        f"/api/v1/store/orders/{order_id}/cancel",
        host=host or shop.host,
        headers=headers,
        json={} if body is None else body,
    )


def _revise(shop: Shop, order: dict, body: Any, headers: dict | None = None, **kw: Any):
    return shop.client.put(
        f"/api/v1/kitchen/orders/{order['id']}/ready-by",
        host=kw.get("host", shop.host),
        headers=shop.staff() if headers is None else headers,
        json=body,
    )


def _state(shop: Shop, order: dict) -> tuple[Any, ...]:
    """Everything a move writes for order: its row, its history and its outbox events."""
    return (
        execute(
            f"select status, version, ready_by, updated_at from {shop.schema}.orders where id = %s",
            [order["id"]],
        ),
        execute(
            f"select from_status, to_status, actor, reason from {shop.schema}.order_events "
            "where order_id = %s order by occurred_at, id",
            [order["id"]],
        ),
        outbox_events(shop, order),
    )


def _clean_problem(response, *statuses: int) -> dict:
    """A small, well-formed problem+json with one of statuses, quoting no internals."""
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(response.body) < 4096, len(response.body)
    text = response.text
    for leak in ("Traceback", "psycopg", "tenant_", "select ", 'File "'):
        assert leak not in text, (leak, text)
    return json.loads(text)


# --- Authorisation -------------------------------------------------------------------------


def test_another_restaurants_order_is_a_404_that_changes_nothing_here_or_there(
    shop: Shop, client, tenants, auth_header
) -> None:
    """Pins: "an id of another tenant's order is a 404" for the customer's cancel, whatever the
    token (that order's own valid token, one of ours, a staff, owner or platform token), and
    neither restaurant's order is written; the refusal names no slug of the other."""
    other = open_shop(client, tenants, auth_header)
    mine, theirs = shop.place(), other.place()
    before = (_state(shop, mine), _state(other, theirs))
    for headers in (
        order_access(theirs),
        order_access(mine),
        other.owner(),
        shop.owner(),
        shop.auth("manager", tenant=shop.slug),
        shop.auth("platform_admin"),
    ):
        refused = _cancel(shop, theirs["id"], headers)
        problem = _clean_problem(refused, 404)
        assert other.slug not in refused.text, problem
    # Their order's id and token through the platform host: no restaurant there.
    _clean_problem(_cancel(shop, theirs["id"], order_access(theirs), host=PLATFORM_HOST), 404)
    assert (_state(shop, mine), _state(other, theirs)) == before


@pytest.mark.parametrize(
    ("who", "status"),
    [("staff", 200), ("manager", 200), ("owner", 200), ("platform_admin", 403),
     ("foreign_staff", 403), ("no_tenant_staff", 403), ("staff_on_platform_host", 404)],
)  # fmt: skip
def test_who_may_change_a_ready_time(shop: Shop, who: str, status: int) -> None:
    """Pins the role table for `PUT .../ready-by`: the restaurant's staff, manager and owner;
    a platform admin on a restaurant's host, or staff of another restaurant (or of none), is a
    403, and the restaurant's own staff through the platform host a 404; none changes the
    order."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    headers = {
        "foreign_staff": lambda: shop.auth("staff", tenant="someone-else"),
        "no_tenant_staff": lambda: shop.auth("staff"),
        "platform_admin": lambda: shop.auth("platform_admin"),
        "staff_on_platform_host": shop.staff,
    }.get(who, lambda: shop.auth(who, tenant=shop.slug))()
    before = _state(shop, order)
    host = PLATFORM_HOST if who == "staff_on_platform_host" else shop.host
    body = {"ready_in_minutes": 5, "expected_version": 2}
    answer = _revise(shop, order, body, headers, host=host)
    assert answer.status_code == status, answer.text
    if status != 200:
        _clean_problem(answer, status)
        assert _state(shop, order) == before


# --- Crafted bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_match", "body_version", "status"),
    [
        ('W/"2"', None, 412),
        ('"abc"', None, 412),
        ("2", None, 412),
        ('"9999999999"', None, 412),
        ('"1", W/"2"', None, 412),
        ('"1", "2"', None, 200),
        ("*", 2, 200),
        ("*", None, 422),
        ("*", 1, 409),
        ('"2"', 1, 200),  # a matching If-Match wins over a stale body
        ('"1"', 2, 412),  # a stale If-Match wins over a current body
        (None, 0, 422),
        (None, -1, 422),
        (None, 2.0, 422),
        (None, "2", 422),
        (None, True, 422),
        (None, [2], 422),
        (None, 2**31 - 1, 409),  # the largest version there can be: stale
        (None, 2**31, 422),
        (None, 10**30, 422),
    ],
)
def test_version_spellings_on_a_ready_time(
    shop: Shop, if_match: str | None, body_version: Any, status: int
) -> None:
    """Pins README "Concurrency" for `PUT .../ready-by` (running late names its version "as for
    a transition"): weak, foreign and garbage If-Match tags are a 412, a list matches by any
    strong tag, `*` defers to the body (alone a 422), a matching If-Match wins over a stale
    body and a stale one over a current body; a body version that is no positive JSON integer
    is a 422 at expected_version, as is one past the column's range; the largest version a row
    can have is a stale 409. No refusal writes anything."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    before = _state(shop, order)
    body: dict[str, Any] = {"ready_in_minutes": 5}
    if body_version is not None:
        body["expected_version"] = body_version
    headers = shop.staff() if if_match is None else {**shop.staff(), "If-Match": if_match}
    answer = _revise(shop, order, body, headers)
    assert answer.status_code == status, answer.text
    if status != 200:
        problem = _clean_problem(answer, status)
        if status == 422:
            assert error_paths(answer) == ["expected_version"], problem
        assert _state(shop, order) == before
    else:
        assert answer.json()["version"] == 3


@pytest.mark.parametrize("tag", ['"02"', '"000000002"'])
def test_an_etag_the_api_never_sent_does_not_match(shop: Shop, tag: str) -> None:
    """README: "weak or foreign tags never match". The API sends `"2"`; `"02"` is another
    opaque tag (RFC 9110 strong comparison is character by character)."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1))
    answer = _revise(shop, order, {"ready_in_minutes": 5}, {**shop.staff(), "If-Match": tag})
    assert answer.status_code == 412, answer.text


@pytest.mark.parametrize(
    "body",
    [None, [], "cancel", 5, {"reason": None}, {"reason": []}, {"reason": {"x": 1}},
     {"reason": True}, {"reason": 1.5}, {"reason": "x" * 10_000},
     {"reason": "\x1b[2J" + "y" * 5000}],
    ids=["null", "list", "string", "number", "reason-null", "reason-list", "reason-object",
         "reason-true", "reason-float", "reason-10k", "reason-escape-5k"],
)  # fmt: skip
def test_odd_cancel_bodies(shop: Shop, body: Any) -> None:
    """Pins for the customer's cancel what README "HTTP conventions" promises every body: a
    body of the wrong type, or a reason of the wrong type, 10,000 characters or with an escape
    sequence, is a small 422 at body or reason that quotes none of it and writes nothing
    (order, history, outbox); `"reason": null` is no reason."""
    order = shop.place()
    before = _state(shop, order)
    raw = json.dumps(body).encode()
    answer = shop.client.post(
        f"/api/v1/store/orders/{order['id']}/cancel",
        host=shop.host,
        headers={**order_access(order), "content-type": "application/json"},
        body=raw,
    )
    if body == {"reason": None}:
        assert ok(answer)["history"][-1]["reason"] == "Cancelled by the customer"
        return
    problem = _clean_problem(answer, 422)
    assert error_paths(answer) in (["body"], ["reason"]), problem
    # Nothing the sender typed comes back.
    assert "yyyyy" not in answer.text and "xxxxx" not in answer.text
    assert not any(ord(c) < 0x20 for c in answer.text)
    assert _state(shop, order) == before


# --- Races ---------------------------------------------------------------------------------


def test_a_customers_cancel_first_wins_over_the_kitchens_accept(shop: Shop) -> None:
    """Pins the other half of "whichever commits first wins": the cancel commits first, the
    kitchen's accept (of version 1) is then a 409 naming `cancelled`, and the order has one
    cancel and no accept."""
    order = shop.place()
    answers: dict[str, Any] = {}

    def cancel() -> None:
        answers["customer"] = _cancel(shop, order["id"], order_access(order))

    def accept() -> None:
        answers["kitchen"] = shop.transition(order, "accepted", 1)

    run_in_turn_behind(
        shop.schema,
        "select 1 from orders where id = %s for update",
        "orders",
        cancel,
        accept,
        params=[order["id"]],
    )
    assert ok(answers["customer"])["status"] == "cancelled"
    refused = _clean_problem(answers["kitchen"], 409)
    assert (refused["status_now"], refused["current_version"]) == ("cancelled", 2)
    assert [e["type"] for e in outbox_events(shop, order)] == ["order.placed", "order.cancelled"]


def test_two_ready_times_from_the_same_version_make_one_change(shop: Shop) -> None:
    """Pins that ready-by is version-checked under the row lock: two displays revising from
    version 2 at once give one 200 and one 409, one new version, one event."""
    order = shop.place()
    ok(shop.transition(order, "accepted", 1, ready_in_minutes=10))
    answers: list[Any] = []
    lock = threading.Lock()

    def revise(minutes: int) -> Any:
        def job() -> None:
            answer = _revise(shop, order, {"ready_in_minutes": minutes, "expected_version": 2})
            with lock:
                answers.append(answer)

        return job

    run_in_turn_behind(
        shop.schema,
        "select 1 from orders where id = %s for update",
        "orders",
        revise(20),
        revise(30),
        params=[order["id"]],
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    [state] = _state(shop, order)[0]
    assert state["version"] == 3
    changed = [e for e in outbox_events(shop, order) if e["type"] == "order.ready_by_changed"]
    assert len(changed) == 1


def test_a_delete_with_expected_version_past_the_columns_range_is_a_422(
    client, tenants, auth_header
) -> None:
    """`?expected_version=` on a DELETE is bounded to the column's range as a body's is: past
    it is a 422 naming the parameter and the row stays; the largest version a row can have is
    only stale (409)."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    path = f"/v1/admin/menu/categories/{category['id']}"
    largest = api.delete(path, params={"expected_version": str(2**31 - 1)})
    assert largest.status_code == 409, largest.text
    refused = api.delete(path, params={"expected_version": str(2**31)})
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["query.expected_version"]
    assert api.get(path).status_code == 200


def test_a_row_past_a_billion_versions_is_matched_by_its_own_etag(
    client, tenants, auth_header
) -> None:
    """Versions run to the column's 2**31 - 1, ten digits: the ETag of a row at version
    1,000,000,000 is one the API takes back in If-Match."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizzas"}), 201)
    execute(
        f"update {tenant.schema_name}.menu_categories set version = 1000000000 where id = %s",
        [category["id"]],
    )
    path = f"/v1/admin/menu/categories/{category['id']}"
    etag = api.get(path).headers["etag"]
    assert etag == '"1000000000"'
    renamed = api.patch(path, json={"name": "Pizze"}, headers={"If-Match": etag})
    assert renamed.status_code == 200, renamed.text
