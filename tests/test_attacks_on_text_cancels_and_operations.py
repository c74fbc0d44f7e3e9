"""Attacks on text rules, the dine-in phone, the customer's cancel, purged platform operations
and the API description, probed through the real app as an attacker would."""

from __future__ import annotations

import pytest

from tests.conftest import IDENTITY
from tests.order_fixtures import (
    Shop,
    module_shop_fixture,  # noqa: F401 (fixtures)
    order_access,
)
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    unique_slug,
)
from tests.storefront_helpers import ok
from tests.test_customer_cancel import _cancel
from tests.test_openapi import resolve

PLATFORM_HOST = "stelly.test"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


# --- The customer's cancel -------------------------------------------------------------------


def test_an_if_match_with_another_orders_token_learns_nothing(module_shop: Shop) -> None:
    """The order's own token is checked before If-Match is read. A stale If-Match sent
    with another order's token (or none) is the 404 of a foreign order, never the 412 that
    would tell its current version and status (status_now)."""
    shop = module_shop
    order, other = shop.place(), shop.place()
    shop.walk_to(order, "accepted")
    for headers in (order_access(other), {}):
        for if_match in ('"7"', 'W/"1"', " , "):
            refused = _cancel(shop, order, headers={**headers, "If-Match": if_match})
            assert refused.status_code in (401, 404), refused.text
            assert "status_now" not in refused.json() and "current_version" not in refused.json()


@pytest.mark.parametrize(
    "if_match", ['"99999999999999999999999"', '"0"', '"-1"', "1", '""', '"\u00ff"', 'W/"1"']
)
def test_an_odd_if_match_on_a_cancel_is_a_412_and_cancels_nothing(
    module_shop: Shop, if_match: str
) -> None:
    """An If-Match naming no ETag this API sent (a version past the column, zero, a
    negative, unquoted, empty, non-ASCII, weak) is a 412, not a 500 and not a cancel."""
    shop = module_shop
    order = shop.place()
    refused = _cancel(shop, order, headers={**order_access(order), "If-Match": if_match})
    assert refused.status_code == 412, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert ok(shop.customer_view(order))["status"] == "placed"


def test_a_cancel_retried_with_its_now_stale_if_match_reads_as_done(module_shop: Shop) -> None:
    """The answer to a cancel was lost; the retry sends the same If-Match, stale now that the
    cancel took the order to version 2: the 409 "already cancelled" a retry without one gets,
    not a 412."""
    shop = module_shop
    order = shop.place()
    headers = {**order_access(order), "If-Match": shop.customer_view(order).headers["etag"]}
    assert ok(_cancel(shop, order, headers=headers))["status"] == "cancelled"
    retried = _cancel(shop, order, headers=headers)
    assert retried.status_code == 409, retried.text
    assert "already cancelled" in retried.json()["detail"]


def test_a_matching_if_match_does_not_cancel_an_accepted_order(module_shop: Shop) -> None:
    """An If-Match naming the order's current version is no licence to cancel what the
    kitchen took: still the 409 telling the customer to call, the order still accepted."""
    shop = module_shop
    order = shop.place()
    version = shop.walk_to(order, "accepted")
    refused = _cancel(shop, order, headers={**order_access(order), "If-Match": f'"{version}"'})
    assert refused.status_code == 409, refused.text
    assert refused.json()["status_now"] == "accepted"
    assert ok(shop.customer_view(order))["status"] == "accepted"


def test_a_customers_cancel_answers_hold_no_e_mail_and_no_customer_phone(
    module_shop: Shop, document: dict
) -> None:
    """The 409 hands the customer the restaurant's contact phone only (the contact
    e-mail stays out); the 200 of a cancel shows the order without the pickup's phone (staff
    only, README), and the API description's customer fulfilment declares no phone."""
    shop = module_shop
    owner = shop.owner()
    settings = ok(shop.client.get("/api/v1/admin/settings", host=shop.host, headers=owner))
    settings["contact"] = {"phone": "+44 20 7946 0123", "email": "boss@private.example"}
    ok(shop.client.put("/api/v1/admin/settings", host=shop.host, headers=owner, json=settings))
    taken, mine = shop.place(), shop.place()
    shop.walk_to(taken, "accepted")
    refused = _cancel(shop, taken)
    assert refused.status_code == 409, refused.text
    assert refused.json()["phone"] == "+44 20 7946 0123"
    assert "@" not in refused.text
    cancelled = _cancel(shop, mine)
    assert ok(cancelled)["fulfilment"] == {"type": "pickup", "name": "Ada"}
    assert "7946 0000" not in cancelled.text
    described = resolve(document, document["components"]["schemas"]["CustomerFulfilmentOut"])
    assert "phone" not in described["properties"]


# --- Dine-in orders take no phone ------------------------------------------------------------


def test_a_replay_cannot_add_a_phone_to_a_dine_in_order(module_shop: Shop) -> None:
    """The dine-in order placed without a phone cannot be given one by replaying its
    Idempotency-Key with a phone added: a 422 at the key, and the order shows no phone to the
    kitchen."""
    shop = module_shop
    body = shop.dine_in_body("Sec23 window")
    key = f"attack-{unique_slug()}"
    placed = shop.post_order(body, key=key)
    assert placed.status_code == 201, placed.text
    body["fulfilment"]["phone"] = "+44 20 7946 0000"
    replayed = shop.post_order(body, key=key)
    assert replayed.status_code == 422, replayed.text
    assert [e["path"] for e in replayed.json()["errors"]] == ["Idempotency-Key"]
    kitchen = ok(
        shop.client.get(
            f"/api/v1/kitchen/orders/{placed.json()['id']}", host=shop.host, headers=shop.staff()
        )
    )
    assert "phone" not in kitchen["fulfilment"]


# --- Text rules ------------------------------------------------------------------------------


def test_look_alike_modifier_group_names_on_one_dish_are_refused(module_shop: Shop) -> None:
    """README: two groups of one name on one item are refused (a customer could not tell them
    apart). "Dip" and "Di<ZERO WIDTH SPACE>p", or "Dip" and "Dip" with a fullwidth D, read as
    one name on a storefront and a ticket, yet an import takes both on one dish."""
    shop = module_shop
    for look_alike in ("Di\u200bp", "\uff24ip"):
        groups = [
            {"name": name, "min": 0, "max": 1, "options": [{"name": "Mayo", "price_delta": 0}]}
            for name in ("Dip", look_alike)
        ]
        document = {"categories": [{"name": "Sides", "items": [
            {"name": "Fries", "price": 300, "modifier_groups": groups},
        ]}]}  # fmt: skip
        # (Replaces the shared shop's draft only; its orders price from the published menu.)
        imported = shop.client.post(
            "/api/v1/admin/menu/import", host=shop.host, headers=shop.owner(), json=document
        )
        assert imported.status_code == 422, (look_alike, imported.text)


def _settings_with(shop: Shop, change: dict) -> dict:
    owner = shop.owner()
    settings = ok(shop.client.get("/api/v1/admin/settings", host=shop.host, headers=owner))
    return {**settings, **change}


@pytest.mark.parametrize(
    "surface",
    ["business_name", "contact.address", "special_day.note", "table.label", "pause.note",
     "customer_cancel.reason", "kitchen_cancel.reason", "import.group_name"],
)  # fmt: skip
def test_every_other_text_surface_refuses_a_direction_override(
    module_shop: Shop, surface: str
) -> None:
    """README's "no text anywhere holds the bidirectional ... controls" on the surfaces
    no earlier test probed (names and notes of orders and menus were): each is a 422 naming
    its field, and nothing is changed."""
    shop = module_shop
    client, host, owner = shop.client, shop.host, shop.owner()
    text = f"Back soon{RLO} 2400#"
    if surface in ("business_name", "contact.address", "special_day.note"):
        change = {
            "business_name": {"business_name": text},
            "contact.address": {"contact": {"address": text}},
            "special_day.note": {
                "special_days": [{"date": "2030-12-25", "hours": [], "note": text}]
            },
        }[surface]
        answer = client.put("/api/v1/admin/settings", host=host, headers=owner,
                            json=_settings_with(shop, change))  # fmt: skip
    elif surface == "table.label":
        answer = client.post("/api/v1/admin/tables", host=host, headers=owner, json={"label": text})
    elif surface == "pause.note":
        answer = client.put("/api/v1/kitchen/pause", host=host, headers=shop.staff(),
                            json={"minutes": 30, "note": text})  # fmt: skip
    elif surface == "customer_cancel.reason":
        order = shop.place()
        answer = _cancel(shop, order, {"reason": text})
        assert ok(shop.customer_view(order))["status"] == "placed"
    elif surface == "kitchen_cancel.reason":
        order = shop.place()
        answer = shop.transition(order, "cancelled", 1, reason=text)
        assert ok(shop.customer_view(order))["status"] == "placed"
    else:
        group = {"name": text, "min": 0, "max": 1, "options": [{"name": "Mayo", "price_delta": 0}]}
        document = {"categories": [{"name": "Sides", "items": [
            {"name": "Fries", "price": 300, "modifier_groups": [group]},
        ]}]}  # fmt: skip
        answer = client.post("/api/v1/admin/menu/import", host=host, headers=owner, json=document)
    assert answer.status_code == 422, (surface, answer.text)
    assert "reorder" in answer.text, answer.text


# --- Purged platform operations --------------------------------------------------------------


@pytest.mark.devhost
def test_no_operation_is_made_up_for_a_restaurant_that_never_settled(
    host: PlatformHost, tenants
) -> None:
    """A purged operation is told only for a restaurant its completion left: a
    provisioning for one active or suspended, a deletion for one deleted. One still
    provisioning, failed or being deleted has no made-up `completed` at either id (404), and
    neither a restaurant's host nor a non-platform role reads an operation at all."""
    made = {status: tenants.create(status=status) for status in
            ("active", "suspended", "provisioning", "failed", "deleting", "deleted")}  # fmt: skip
    for status, record in made.items():
        for kind in ("provision", "deprovision"):
            answered = host.request("GET", f"/v1/platform/operations/{kind}-{record.slug}")
            settled = (kind, status) in {
                ("provision", "active"), ("provision", "suspended"), ("deprovision", "deleted"),
            }  # fmt: skip
            assert answered.status_code == (200 if settled else 404), (kind, status, answered.text)
            if settled:
                assert answered.json()["output"]["status"] == status
    active = made["active"].slug
    path = f"/v1/platform/operations/provision-{active}"
    assert host.request("GET", path, host=f"{active}.stelly.test").status_code == 404
    for role, tenant in (("owner", active), ("platform_support", None)):
        token = {"Authorization": f"Bearer {IDENTITY.mint(role=role, tenant=tenant)}"}
        assert host.request("GET", path, headers=token).status_code == 403, role
    for odd in ("provision-", "deprovision-x-", "migration-" + "a" * 120, "provision-A"):
        assert host.request("GET", f"/v1/platform/operations/{odd}").status_code == 404, odd
    # An id no operation can have is not quoted back (3,000 characters, an override).
    for odd in ("x" * 3000, f"provision-a{RLO}b"):
        refused = host.request("GET", f"/v1/platform/operations/{odd}")
        assert refused.status_code == 404 and odd not in refused.json()["detail"], odd


@pytest.mark.devhost
def test_platform_texts_refuse_a_direction_override(host: PlatformHost, tenants) -> None:
    """The same rule on the platform's texts: a new restaurant's display name (its
    business name) and a suspension reason with U+202E are 422s naming the field, before any
    operation starts or the restaurant changes."""
    slug = unique_slug("sec")
    created = host.provision(slug, display_name=f"Roma{RLO} Pizza")
    assert created.status_code == 422, created.text
    assert [e["path"] for e in created.json()["errors"]] == ["display_name"]
    tenant = tenants.create()
    suspension = f"/v1/platform/tenants/{tenant.slug}/suspension"
    refused = host.request("PUT", suspension, json={"reason": f"Unpaid{RLO} invoice"})
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["reason"]
    detail = host.request("GET", f"/v1/platform/tenants/{tenant.slug}").json()
    assert detail["status"] == "active"


@pytest.mark.devhost
@pytest.mark.parametrize("email", [f"ada{RLO}moc.elpmaxe@evil.example", "ada\x07@example.com"])
def test_an_owner_e_mail_with_a_direction_override_or_a_control_is_refused(
    host: PlatformHost, email: str
) -> None:
    """README: no text anywhere holds the bidirectional embedding, override or isolate
    controls, nor C0 controls. The owner's e-mail reaches the platform admin's screens (tenant
    detail) as a restaurant's contact e-mail would, which the settings refuse with them."""
    slug = unique_slug("sec")
    created = host.provision(slug, owner_email=email)
    if created.status_code == 202:
        host.wait(created.json()["id"])
    assert created.status_code == 422, created.text
    assert [e["path"] for e in created.json()["errors"]] == ["owner_email"]
