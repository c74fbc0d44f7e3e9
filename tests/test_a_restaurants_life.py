"""A restaurant's life on the platform, end to end, where features meet: provisioned through the
platform API on two domains, branded, menu imported and published, tables and QR codes, orders
taken on either domain, suspended mid-service and reinstated, deleted with orders open, and its
domain handed to a new restaurant that must see none of the old one's data."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from psycopg import sql

from shared import migrate
from shared.config import get_settings
from shared.provisioning.requests import schema_for
from tests.conftest import IDENTITY, execute
from tests.order_fixtures import MENU, Shop, publish_menu, shop_fixture  # noqa: F401 (`shop`)
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    platform_host_fixture,
    provisioning_parked_in_create_schema,
    scalar,
    unique_slug,
)

_MENU = {
    "categories": [
        {
            "name": "Drinks",
            "items": [
                {"name": "Lemonade", "price": 300, "station": "bar"},
                {"name": "Espresso", "price": 200, "station": "bar"},
            ],
        }
    ]
}


def _bearer(role: str, slug: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {IDENTITY.mint(role=role, tenant=slug)}"}


def _eventually(call: Any, accept: Any, timeout: float = 15) -> httpx.Response:
    """call() until accept(response) (devhost's other worker processes follow a status change
    within their 5-second cache); the last response."""
    deadline = time.monotonic() + timeout
    while True:
        response = call()
        if accept(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


class Restaurant:
    """One restaurant on the platform host, as its owner, kitchen and customers call it."""

    def __init__(self, host: PlatformHost, slug: str, domains: list[str]) -> None:
        self.host, self.slug, self.domains = host, slug, domains

    def call(
        self,
        method: str,
        path: str,
        *,
        domain: str | None = None,
        headers: dict | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return self.host.request(
            method, path, host=domain or self.domains[0], headers=headers or {}, **kwargs
        )

    def owner(self) -> dict[str, str]:
        return _bearer("owner", self.slug)

    def staff(self) -> dict[str, str]:
        return _bearer("staff", self.slug)

    def publish(self, menu: dict) -> dict[str, str]:
        imported = self.call("POST", "/v1/admin/menu/import", headers=self.owner(), json=menu)
        assert imported.status_code == 200, imported.text
        published = self.call("POST", "/v1/admin/menu/publish", headers=self.owner())
        assert published.status_code == 201, published.text
        menu_now = self.call("GET", "/v1/store/menu").json()
        return {
            item["name"]: item["id"]
            for category in menu_now["categories"]
            for item in category["items"]
        }


def _provision(host: PlatformHost, slug: str, domains: list[str], **fields: Any) -> Restaurant:
    response = host.provision(slug, domains=domains, **fields)
    assert response.status_code == 202, response.text
    done = host.wait(response.json()["id"], timeout=60)
    assert done["status"] == "completed", done
    return Restaurant(host, slug, domains)


@pytest.mark.devhost
def test_a_restaurants_life_and_a_new_restaurant_on_its_domain_sees_none_of_it(
    host: PlatformHost,
) -> None:
    """Provisioned on two domains, a restaurant takes a dine-in order on its second domain
    (through the QR code printed with its primary domain) and a pickup with an Idempotency-Key;
    the customer follows either on both domains. Suspended mid-service, both domains refuse new
    business while the customer still follows and the kitchen finishes; reinstated, both take
    orders again. Deleted with orders open: the customers' pages and the kitchen hear 410.
    A new restaurant then provisioned on the old primary domain serves its own name and menu, and
    none of the old one's orders, tables/QR codes or idempotent answers: old tokens open nothing,
    and the old key places a new order of the new restaurant. The old second domain stays 410."""
    marker = uuid.uuid4().hex[:8]
    primary, second = f"journey-{marker}.example", f"www.journey-{marker}.example"
    old = _provision(host, unique_slug("jny"), [primary, second], display_name="Old Trattoria")
    items = old.publish(_MENU)

    table = old.call("POST", "/v1/admin/tables", headers=old.owner(), json={"label": "Patio 1"})
    assert table.status_code == 201, table.text
    qr_token, qr_url = table.json()["qr_token"], table.json()["qr_url"]
    assert qr_url == f"https://{primary}/?table={qr_token}"
    assert old.call("GET", f"/v1/store/tables/{qr_token}", domain=second).status_code == 200

    dine_in = old.call(
        "POST", "/v1/store/orders", domain=second,
        json={"lines": [{"item_id": items["Lemonade"], "quantity": 1}],
              "fulfilment": {"type": "dine_in", "table_token": qr_token}},
    )  # fmt: skip
    assert dine_in.status_code == 201, dine_in.text
    key = f"key-{marker}-{uuid.uuid4().hex[:8]}"
    pickup_body = {
        "lines": [{"item_id": items["Espresso"], "quantity": 2}],
        "fulfilment": {"type": "pickup", "name": f"Ada {marker}", "phone": "+44 20 7946 0000"},
    }
    pickup = old.call(
        "POST", "/v1/store/orders", headers={"Idempotency-Key": key}, json=pickup_body
    )
    assert pickup.status_code == 201, pickup.text
    orders = [dine_in.json(), pickup.json()]
    for order in orders:
        access = {"Authorization": f"Bearer {order['access_token']}"}
        for domain in (primary, second):
            seen = old.call("GET", f"/v1/store/orders/{order['id']}", domain=domain,
                            headers=access)  # fmt: skip
            assert seen.status_code == 200, seen.text

    # Mid-service suspension: both domains refuse new business, open orders are finished.
    suspension = f"/v1/platform/tenants/{old.slug}/suspension"
    suspended = host.request("PUT", suspension, json={"reason": "Unpaid invoice"})
    assert suspended.status_code == 200, suspended.text
    for domain in (primary, second):
        refused = _eventually(
            lambda d=domain: old.call("POST", "/v1/store/orders", domain=d, json=pickup_body),
            lambda r: r.status_code == 403,
        )
        assert refused.status_code == 403, refused.text
    replay = old.call("POST", "/v1/store/orders", headers={"Idempotency-Key": key},
                      json=pickup_body)  # fmt: skip
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    accepted = old.call(
        "POST", f"/v1/kitchen/orders/{dine_in.json()['id']}/transition", headers=old.staff(),
        json={"to": "accepted", "expected_version": 1},
    )  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    reinstated = host.request("DELETE", suspension)
    assert reinstated.status_code == 200, reinstated.text
    for domain in (primary, second):
        config = _eventually(
            lambda d=domain: old.call("GET", "/v1/store/config", domain=d),
            lambda r: r.status_code == 200,
        )
        assert config.status_code == 200 and config.json()["name"] == "Old Trattoria", config.text
    third = old.call("POST", "/v1/store/orders", domain=second, json=pickup_body)
    assert third.status_code == 201, third.text

    # Deleted with orders open: customers and the kitchen hear it is gone.
    deleting = host.request("DELETE", f"/v1/platform/tenants/{old.slug}")
    assert deleting.status_code == 202, deleting.text
    assert host.wait(deleting.json()["id"], timeout=60)["status"] == "completed"
    for order in orders:
        access = {"Authorization": f"Bearer {order['access_token']}"}
        for domain in (primary, second):
            gone = _eventually(
                lambda d=domain, a=access, o=order: old.call(
                    "GET", f"/v1/store/orders/{o['id']}", domain=d, headers=a
                ),
                lambda r: r.status_code == 410,
            )
            assert gone.status_code == 410, gone.text
    assert old.call("GET", "/v1/kitchen/orders", headers=old.staff()).status_code == 410

    # A new restaurant takes over the old primary domain.
    new = _provision(host, unique_slug("jny"), [primary], display_name="New Bistro")
    config = _eventually(
        lambda: new.call("GET", "/v1/store/config"), lambda r: r.status_code == 200
    )
    assert config.json()["name"] == "New Bistro", config.text
    assert new.call("GET", "/v1/store/menu").json()["categories"] == []
    for order in orders:
        access = {"Authorization": f"Bearer {order['access_token']}"}
        stale = new.call("GET", f"/v1/store/orders/{order['id']}", headers=access)
        assert stale.status_code == 404, stale.text
    assert new.call("GET", f"/v1/store/tables/{qr_token}").status_code == 404
    tickets = new.call("GET", "/v1/kitchen/orders", headers=new.staff())
    assert tickets.status_code == 200 and tickets.json()["orders"] == [], tickets.text
    events = new.call("GET", "/v1/kitchen/events", headers=new.staff(), params={"after": "0"})
    assert events.status_code == 200 and f"Ada {marker}" not in events.text, events.text
    new_items = new.publish(_MENU)
    new_body = {**pickup_body, "lines": [{"item_id": new_items["Espresso"], "quantity": 2}]}
    fresh = new.call("POST", "/v1/store/orders", headers={"Idempotency-Key": key}, json=new_body)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers, fresh.text
    assert fresh.json()["id"] not in {order["id"] for order in orders}
    assert fresh.json()["ticket_number"] == "#0001", fresh.json()
    # The old restaurant's other domain is still its tombstone's.
    assert old.call("GET", "/v1/store/config", domain=second).status_code == 410


@pytest.mark.devhost
def test_a_fleet_run_migrates_a_suspended_restaurant_and_leaves_one_being_provisioned_to_itself(
    host: PlatformHost,
) -> None:
    """README, Suspension: "fleet migrations include it"; Fleet migration: "a tenant still
    `provisioning` is left to it". A restaurant suspended mid-service whose schema the new
    release has not reached yet is migrated by the run, and its kitchen then finishes the open
    order with a ready time (what a pending file adds); a restaurant parked in its provisioning
    while the run plans ends active at the newest version once it is let go."""
    marker = uuid.uuid4().hex[:8]
    shop = _provision(host, unique_slug("jfl"), [f"fleet-{marker}.example"])
    items = shop.publish(_MENU)
    order = shop.call(
        "POST", "/v1/store/orders",
        json={"lines": [{"item_id": items["Lemonade"], "quantity": 1}],
              "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0000"}},
    )  # fmt: skip
    assert order.status_code == 201, order.text
    suspension = f"/v1/platform/tenants/{shop.slug}/suspension"
    assert host.request("PUT", suspension, json={"reason": "Audit"}).status_code == 200
    latest, schema = migrate.latest_version("tenant"), schema_for(shop.slug)
    # The newest release is deployed; this restaurant's schema has not had its newest files.
    execute(
        sql.SQL(
            """alter table {s}.orders drop column ready_by;
               alter table {s}.orders alter column tax_rate_bp type integer;
               delete from {s}.schema_migrations where version >= 11"""
        ).format(s=sql.Identifier(schema))
    )
    assert latest == 12, "the scenario undoes what tenant migrations 0011 and 0012 do"

    parked = unique_slug("jpv")
    with provisioning_parked_in_create_schema(host, parked):
        started = host.request("POST", "/v1/platform/migrations", json={"batch_size": 50})
        assert started.status_code == 202, started.text
        run = host.wait(started.json()["id"], timeout=90)
    assert run["status"] == "completed", run
    assert schema not in {f["schema"] for f in run["output"]["failures"]}
    version = f"select max(version) from {schema}.schema_migrations"
    assert scalar(version, []) == latest
    moved = shop.call(
        "POST", f"/v1/kitchen/orders/{order.json()['id']}/transition", headers=shop.staff(),
        json={"to": "accepted", "expected_version": 1, "ready_in_minutes": 15},
    )  # fmt: skip
    assert moved.status_code == 200 and moved.json()["ready_by"], moved.text
    assert host.wait(f"provision-{parked}", timeout=60)["status"] == "completed"
    assert scalar(f"select max(version) from {schema_for(parked)}.schema_migrations", []) == latest
    detail = host.request("GET", f"/v1/platform/tenants/{shop.slug}").json()
    assert detail["status"] == "suspended" and detail["migration"]["version"] == latest, detail


# --- In-process: a suspension mid-service and what resumes after it ----------------------------

_PLATFORM_HOST = "stelly.test"


def _suspension(shop: Shop, method: str, **kwargs: Any):
    admin = shop.auth("platform_admin", subject="ops-ada")
    path = f"/api/v1/platform/tenants/{shop.slug}/suspension"
    return shop.client.request(method, path, host=_PLATFORM_HOST, headers=admin, **kwargs)


def test_orders_refused_while_suspended_use_up_neither_the_rate_limit_nor_ticket_numbers(
    shop: Shop,
) -> None:
    """README, Rate limit and Suspension: a client whose orders a suspended restaurant refused
    (403, before anything is counted) orders at once when it is reinstated, and the next ticket
    follows the last one placed before the suspension: the refusals took no window hit and no
    ticket number."""
    ip = "10.77.1.9"
    before = shop.post_order(key=None, ip=ip)
    assert before.status_code == 201, before.text
    assert _suspension(shop, "PUT", json={"reason": "Unpaid"}).status_code == 200
    for _ in range(get_settings().order_rate_limit_per_minute + 1):
        refused = shop.post_order(ip=ip)
        assert refused.status_code == 403, refused.text
    assert _suspension(shop, "DELETE").status_code == 200
    after = shop.post_order(ip=ip)
    assert after.status_code == 201, after.text
    number = int(before.json()["ticket_number"].lstrip("#"))
    assert after.json()["ticket_number"] == f"#{number + 1:04d}"


def test_a_restaurants_second_domain_serves_the_same_orders_keys_and_codes(
    client, tenants, auth_header
) -> None:
    """README, Tenancy and Idempotency: keys are "scoped to the restaurant", not to the host, and
    a restaurant answers on every domain it has. An app that placed an order on the primary
    domain and retries it on the second one (a link shared, a redirect) gets the stored receipt,
    not a second order; the receipt's token opens and cancels the order there; a QR code printed
    with the primary domain orders on the second; the kitchen follows on either."""
    slug = f"two-{uuid.uuid4().hex[:8]}"
    primary, second = f"{slug}.stelly.test", f"www.{slug}.example"
    tenant = tenants.create(slug=slug, domains=[primary, second])
    publish_menu(client, tenant, auth_header("owner", tenant=tenant.slug), MENU)
    menu = client.get("/api/v1/store/menu", host=second).json()
    cola = next(i["id"] for c in menu["categories"] for i in c["items"] if i["name"] == "Cola")
    body = {
        "lines": [{"item_id": cola, "quantity": 1}],
        "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0000"},
    }
    key = str(uuid.uuid4())
    first = client.post("/api/v1/store/orders", host=primary, json=body,
                        headers={"Idempotency-Key": key})  # fmt: skip
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/store/orders", host=second, json=body,
                        headers={"Idempotency-Key": key})  # fmt: skip
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    access = {"Authorization": f"Bearer {again.json()['access_token']}"}
    order_id = first.json()["id"]
    assert client.get(f"/api/v1/store/orders/{order_id}", host=second,
                      headers=access).status_code == 200  # fmt: skip
    owner = auth_header("owner", tenant=tenant.slug)
    table = client.post("/api/v1/admin/tables", host=second, headers=owner, json={"label": "T1"})
    assert table.status_code == 201, table.text
    assert table.json()["qr_url"].startswith(f"https://{primary}/?table=")
    dine_in = {
        "lines": [{"item_id": cola, "quantity": 1}],
        "fulfilment": {"type": "dine_in", "table_token": table.json()["qr_token"]},
    }
    assert client.post("/api/v1/store/orders", host=second, json=dine_in).status_code == 201
    staff = auth_header("staff", tenant=tenant.slug)
    for host in (primary, second):
        assert client.get("/api/v1/kitchen/negotiate", host=host, headers=staff).status_code == 200
    cancelled = client.post(f"/api/v1/store/orders/{order_id}/cancel", host=second,
                            headers=access, json={})  # fmt: skip
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
