"""Suspending a restaurant and reinstating it: one platform call each, every host follows."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.directory import directory_get
from tests.order_fixtures import Shop, order_access, settle, shop_fixture  # noqa: F401 (fixtures)
from tests.storefront_helpers import error_paths, ok

PLATFORM_HOST = "stelly.test"


def _suspension(shop_or_slug: Shop | str) -> str:
    slug = shop_or_slug if isinstance(shop_or_slug, str) else shop_or_slug.slug
    return f"/api/v1/platform/tenants/{slug}/suspension"


def _suspend(shop: Shop, reason: str, subject: str = "ops-ada"):
    admin = shop.auth("platform_admin", subject=subject)
    return shop.client.put(
        _suspension(shop), host=PLATFORM_HOST, headers=admin, json={"reason": reason}
    )


def _reinstate(shop: Shop, subject: str = "ops-ada"):
    admin = shop.auth("platform_admin", subject=subject)
    return shop.client.delete(_suspension(shop), host=PLATFORM_HOST, headers=admin)


def _suspensions(detail: dict) -> list[tuple[str, str]]:
    return [
        (row["step"], row["detail"]) for row in detail["audit"] if row["operation"] == "suspension"
    ]


def test_a_suspended_restaurant_answers_403_everywhere_until_reinstated(shop: Shop) -> None:
    """Everywhere but where orders placed before are finished (the next test)."""
    order = shop.place()
    suspended = ok(_suspend(shop, "Unpaid invoice 2026-11"))
    assert (suspended["status"], suspended["status_reason"]) == (
        "suspended",
        "Unpaid invoice 2026-11",
    )
    assert _suspensions(suspended) == [("suspend", "ops-ada: Unpaid invoice 2026-11")]
    for refused in (
        shop.client.get("/api/v1/store/config", host=shop.host),
        shop.post_order(),
        shop.client.get("/api/v1/admin/menu", host=shop.host, headers=shop.owner()),
        shop.client.put("/api/v1/admin/settings", host=shop.host, headers=shop.owner(), json={}),
    ):
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"The restaurant at {shop.host} is suspended"
    # Other instances read the directory: it says suspended too.
    assert directory_get(shop.host).status == "suspended"

    reinstated = ok(_reinstate(shop, subject="ops-bo"))
    assert (reinstated["status"], reinstated["status_reason"]) == ("active", None)
    assert _suspensions(reinstated)[0] == ("reinstate", "ops-bo")
    assert directory_get(shop.host).status == "active"
    assert ok(shop.customer_view(order))["status"] == "placed"
    shop.place()


def test_a_suspended_restaurants_kitchen_finishes_the_orders_placed_before(shop: Shop) -> None:
    """Suspension stops new business, not the dinners already ordered: the kitchen lists,
    moves and re-promises them, follows their events, and their customers follow them."""
    accepted, placed = shop.place(), shop.place()
    ok(shop.transition(accepted, "accepted", 1, ready_in_minutes=10))
    ok(_suspend(shop, "Unpaid invoice 2026-11"))
    kitchen = {"host": shop.host, "headers": shop.staff()}

    tickets = ok(shop.client.get("/api/v1/kitchen/orders", **kitchen))
    assert sorted(t["id"] for t in tickets["orders"]) == sorted([accepted["id"], placed["id"]])
    assert ok(shop.transition(accepted, "preparing", 2))["status"] == "preparing"
    ready_by = f"/api/v1/kitchen/orders/{accepted['id']}/ready-by"
    late = {"ready_in_minutes": 20, "expected_version": 3}
    assert ok(shop.client.put(ready_by, **kitchen, json=late))["version"] == 4
    ok(shop.transition(accepted, "ready", 4))
    ok(shop.transition(accepted, "completed", 5))
    cancelled = shop.transition(placed, "cancelled", 1, reason="We are closed tonight")
    assert ok(cancelled)["status"] == "cancelled"
    assert ok(shop.client.get(f"/api/v1/kitchen/orders/{placed['id']}", **kitchen))["version"] == 2
    settle()  # events are served once sequenced, right after their commit
    events = ok(shop.client.get("/api/v1/kitchen/events", params={"after": "0"}, **kitchen))[
        "events"
    ]
    assert events[-1]["type"] == "order.cancelled"
    for read in ("negotiate", "pause", "availability"):
        ok(shop.client.get(f"/api/v1/kitchen/{read}", **kitchen))

    view = ok(shop.customer_view(accepted))
    assert [step["status"] for step in view["history"]][-1] == "completed"
    tracking = shop.client.get(
        f"/api/v1/store/orders/{placed['id']}/negotiate", host=shop.host,
        headers=order_access(placed),
    )  # fmt: skip
    assert ok(tracking)["url"].startswith("ws")
    # Nothing new starts: the kitchen neither pauses nor 86es a storefront that is off.
    for refused in (
        shop.client.put("/api/v1/kitchen/pause", **kitchen, json={"minutes": 30}),
        shop.client.post("/api/v1/kitchen/availability", **kitchen, json={"items": []}),
        shop.post_order(),
    ):
        assert refused.status_code == 403, refused.text


def test_a_reason_of_200_characters_is_kept_whole(shop: Shop) -> None:
    reason = "Unpaid invoice " + "x" * 185
    assert len(reason) == 200
    suspended = ok(_suspend(shop, reason))
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", reason)
    assert shop.client.get("/api/v1/store/config", host=shop.host).status_code == 403


def test_asking_again_changes_nothing_and_a_new_reason_replaces_the_old(shop: Shop) -> None:
    ok(_suspend(shop, "Unpaid invoice"))
    again = ok(_suspend(shop, "Unpaid invoice"))
    assert len(_suspensions(again)) == 1
    reworded = ok(_suspend(shop, "Unpaid invoices (2)"))
    assert reworded["status_reason"] == "Unpaid invoices (2)"
    assert len(_suspensions(reworded)) == 2
    ok(_reinstate(shop))
    assert len(_suspensions(ok(_reinstate(shop)))) == 3


@pytest.mark.parametrize("status", ["provisioning", "deleting", "deleted", "failed"])
def test_only_an_active_or_suspended_restaurant_moves(client, tenants, auth_header, status) -> None:
    tenant = tenants.create(status=status)
    admin = auth_header("platform_admin")
    path = _suspension(tenant.slug)
    put = client.put(path, host=PLATFORM_HOST, headers=admin, json={"reason": "Audit"})
    delete = client.delete(path, host=PLATFORM_HOST, headers=admin)
    assert (put.status_code, delete.status_code) == (409, 409), put.text
    assert f"{tenant.slug} is {status}" in put.json()["detail"]
    detail = ok(client.get(f"/api/v1/platform/tenants/{tenant.slug}", host=PLATFORM_HOST,
                           headers=admin))  # fmt: skip
    assert (detail["status"], detail["status_reason"]) == (status, None)


def test_an_unknown_restaurant_is_a_404(client, auth_header) -> None:
    admin = auth_header("platform_admin")
    path = _suspension("no-such-restaurant")
    put = client.put(path, host=PLATFORM_HOST, headers=admin, json={"reason": "Audit"})
    assert put.status_code == 404
    assert client.delete(path, host=PLATFORM_HOST, headers=admin).status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "a\nb"}, {"reason": "x" * 201},
             {"reason": "Audit", "until": "2026-12-01"}, {"reason": 7}],
)  # fmt: skip
def test_a_suspension_names_its_reason(shop: Shop, body: dict) -> None:
    admin = shop.auth("platform_admin")
    response = shop.client.put(_suspension(shop), host=PLATFORM_HOST, headers=admin, json=body)
    assert error_paths(response) in (["reason"], ["until"])
    assert ok(shop.client.get("/api/v1/store/config", host=shop.host))["name"]


def test_only_a_platform_admin_on_the_platform_host_suspends(shop: Shop) -> None:
    body = {"reason": "Audit"}
    for host, headers, status in (
        (PLATFORM_HOST, {}, 401),
        (PLATFORM_HOST, shop.owner(), 403),
        (PLATFORM_HOST, shop.staff(), 403),
        (shop.host, shop.auth("platform_admin"), 404),
    ):
        put = shop.client.put(_suspension(shop), host=host, headers=headers, json=body)
        delete = shop.client.delete(_suspension(shop), host=host, headers=headers)
        assert (put.status_code, delete.status_code) == (status, status), put.text
    assert ok(shop.client.get("/api/v1/store/config", host=shop.host))["name"]


def test_a_suspended_restaurants_manager_still_reads_the_orders_it_took(shop: Shop) -> None:
    """Refunds, disputes and the books go on after a suspension: the owner and manager read the
    day's orders and takings and each order's money. Preparing new business (the menu, the
    settings) and the staff's access to the books stay as they were: 403."""
    cancelled, eaten = shop.place(), shop.place()
    shop.walk_to(eaten, "completed")
    ok(shop.transition(cancelled, "cancelled", 1, reason="Out of dough"))
    ok(_suspend(shop, "Unpaid invoice 2026-11"))
    for role in ("owner", "manager"):
        books = {"host": shop.host, "headers": shop.auth(role, tenant=shop.slug)}
        day = ok(shop.client.get("/api/v1/admin/orders", **books))
        assert sorted(o["id"] for o in day["orders"]) == sorted([cancelled["id"], eaten["id"]])
        counted = {status: n for status, n in day["summary"]["by_status"].items() if n}
        assert counted == {"completed": 1, "cancelled": 1}
        assert [sale["total"] for sale in day["summary"]["sales"]] == [eaten["totals"]["total"]]
        order = ok(shop.client.get(f"/api/v1/admin/orders/{eaten['id']}", **books))
        assert order["totals"]["total"] == eaten["totals"]["total"]
        assert order["history"][-1]["to"] == "completed"
    staff = shop.client.get("/api/v1/admin/orders", host=shop.host, headers=shop.staff())
    assert staff.status_code == 403 and "suspended" not in staff.json()["detail"]
    for refused in (
        shop.client.get("/api/v1/admin/menu", host=shop.host, headers=shop.owner()),
        shop.client.get("/api/v1/admin/settings", host=shop.host, headers=shop.owner()),
    ):
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"The restaurant at {shop.host} is suspended"


def test_the_api_description_names_what_a_suspended_restaurant_still_serves(client) -> None:
    document = ok(client.get("/api/openapi.json", host=PLATFORM_HOST))
    served = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "Served while the restaurant is suspended" in operation.get("description", "")
    }
    assert served == {
        "GET /v1/kitchen/orders",
        "GET /v1/kitchen/orders/{id}",
        "POST /v1/kitchen/orders/{id}/transition",
        "PUT /v1/kitchen/orders/{id}/ready-by",
        "GET /v1/kitchen/events",
        "GET /v1/kitchen/negotiate",
        "GET /v1/kitchen/pause",
        "GET /v1/kitchen/availability",
        "GET /v1/store/orders/{id}",
        "GET /v1/store/orders/{id}/negotiate",
        "POST /v1/store/orders/{id}/cancel",
        "GET /v1/admin/orders",
        "GET /v1/admin/orders/{id}",
        "DELETE /v1/admin/orders/{id}/customer",
        "GET /v1/admin/customer-orders",
        # A retry of an order placed before gets its receipt; a new order is a 403.
        "POST /v1/store/orders",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [("provisioning", 503), ("deleting", 410), ("deleted", 410), ("failed", 404)],
)
def test_a_while_suspended_endpoint_serves_a_suspended_restaurant_only(
    client, tenants, auth_header, status: str, code: int
) -> None:
    """What finishes a suspended restaurant's orders serves nothing else: a restaurant being
    set up, deleted or failed answers as on every other path (503, 410, 404), and so does an
    unknown host."""
    tenant = tenants.create(status=status)
    host = f"{tenant.slug}.stelly.test"
    staff = auth_header("staff", tenant=tenant.slug)
    for response in (
        client.get("/api/v1/kitchen/orders", host=host, headers=staff),
        client.get(f"/api/v1/kitchen/orders/{uuid.uuid4()}", host=host, headers=staff),
        client.get(f"/api/v1/store/orders/{uuid.uuid4()}", host=host),
    ):
        assert response.status_code == code, response.text
        assert response.content_type == "application/problem+json"
    nobody = f"nobody-{uuid.uuid4().hex[:8]}.stelly.test"
    unknown = client.get("/api/v1/kitchen/orders", host=nobody, headers=staff)
    assert unknown.status_code == 404, unknown.text


def test_the_api_description_lists_the_suspension_403_only_where_it_is_answered(
    document: dict[str, Any],
) -> None:
    """The storefront answers 403 while suspended and documents it; a customer's order page
    never does, and documents none."""
    paths = document["paths"]
    assert "403" in paths["/v1/store/config"]["get"]["responses"]
    assert "403" in paths["/v1/store/menu"]["get"]["responses"]
    assert "403" not in paths["/v1/store/orders/{id}"]["get"]["responses"]
    assert "403" not in paths["/v1/store/orders/{id}/negotiate"]["get"]["responses"]


def test_the_key_of_an_order_refused_while_suspended_places_it_after_reinstatement(
    shop: Shop,
) -> None:
    """A suspended restaurant refuses a new order and the refused key stays unused: the app
    retrying with the same key and body once the restaurant is reinstated gets a new order
    (201, not a replay), not a 409 "in flight"."""
    ok(_suspend(shop, "Unpaid"))
    key = str(uuid.uuid4())
    body = shop.order_body(shop.cola_line())
    refused = shop.post_order(body, key=key)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == f"The restaurant at {shop.host} is suspended"

    ok(_reinstate(shop))
    placed = shop.post_order(body, key=key)
    assert placed.status_code == 201, placed.text
    assert "idempotent-replayed" not in placed.headers
    assert ok(shop.customer_view(placed.json()))["status"] == "placed"


def test_a_restaurants_detail_shows_the_last_20_audit_rows_newest_first(shop: Shop) -> None:
    """README "Audit": `GET /tenants/{slug}` shows the last 20 rows of the trail, newest first.
    After 11 suspensions and 11 reinstatements (22 rows) the detail holds 20, a reinstatement
    first, and the first suspension's reason has dropped off."""
    for n in range(11):
        ok(_suspend(shop, f"Unpaid invoice {n:02d}"))
        detail = ok(_reinstate(shop))  # the restaurant as GET shows it

    audit = detail["audit"]
    assert len(audit) == 20 and detail["audit_unavailable"] is False
    assert [row["step"] for row in audit] == ["reinstate", "suspend"] * 10
    assert [row["at"] for row in audit] == sorted((row["at"] for row in audit), reverse=True)
    reasons = [row["detail"] for row in audit if row["step"] == "suspend"]
    assert reasons[0].endswith("Unpaid invoice 10") and reasons[-1].endswith("Unpaid invoice 01")


SERVED_WHILE_SUSPENDED = "Served while the restaurant is suspended"


def _fill(path: str) -> str:
    out = []
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            segment = {"kind": "logo", "version": "1"}.get(name, str(uuid.uuid4()))
        out.append(segment)
    return "/".join(out)


def test_a_suspended_restaurant_serves_only_what_the_readme_lists(
    shop: Shop, document: dict[str, Any]
) -> None:
    """Pins README "Suspension" for every operation, not a sample: walking each tenant-host
    operation of `GET /api/openapi.json` against a suspended restaurant with the owner's
    token (who passes every role check), each one not marked "Served while the restaurant is
    suspended" is the 403 "is suspended", each one marked is not, and none is a 500."""
    ok(_suspend(shop, "Unpaid"))
    owner = shop.owner()
    wrong: list[str] = []
    walked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or operation.get("x-stelly-host") != "tenant":
                continue
            walked += 1
            served = SERVED_WHILE_SUSPENDED in operation.get("description", "")
            kwargs: dict[str, Any] = {"host": shop.host, "headers": owner}
            if method in ("post", "put", "patch"):
                kwargs["json"] = {}
            answer = shop.client.request(method.upper(), "/api" + _fill(path), **kwargs)
            suspended = answer.status_code == 403 and "is suspended" in answer.text
            if served == suspended or answer.status_code >= 500:
                wrong.append(f"{method.upper()} {path} → {answer.status_code} {answer.text[:120]}")
    assert walked > 30
    assert wrong == [], "\n".join(wrong)
