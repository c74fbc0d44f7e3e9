"""Edges of domain changes, finding a customer's orders and tax rates that the journey tests
leave open: a primary swapped, one domain replaced by another, a repeated create of a suspended
restaurant, the directory unreachable, short and all-zero phone numbers, exactly 100 matches."""

from __future__ import annotations

import json

import pytest

from shared.config import get_settings
from shared.provisioning.domains import change_domains
from shared.storage import reset_clients
from shared.tenancy import resolver
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401 (fixtures)
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    directory_slug,
    own_domain,
    platform_host_fixture,
    provision_body,
    unique_slug,
)
from tests.storefront_helpers import ok, problem

PLATFORM = "stelly.test"


def _audit(host: PlatformHost, slug: str) -> list[dict]:
    return host.detail(slug)["audit"]


@pytest.mark.devhost
def test_making_another_of_its_domains_primary_is_a_change(host: PlatformHost) -> None:
    """Same domains, primary swapped: the admin asked for a new primary and must get it."""
    slug = unique_slug("swp")
    own = own_domain()
    host.create(slug, domains=[f"{slug}.{PLATFORM}", own])
    before = _audit(host, slug)

    swapped = host.put_domains(slug, [own, f"{slug}.{PLATFORM}"])

    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["domains"] == [own, f"{slug}.{PLATFORM}"]
    assert host.detail(slug)["domains"] == [own, f"{slug}.{PLATFORM}"]
    assert len(_audit(host, slug)) == len(before) + 1


@pytest.mark.devhost
def test_replacing_one_domain_by_another_serves_the_new_and_not_the_old(
    host: PlatformHost,
) -> None:
    """As many domains as before, same primary, one swapped for another; the domain kept keeps
    its directory entry."""
    slug = unique_slug("rep")
    old, new = own_domain(), own_domain()
    host.create(slug, domains=[f"{slug}.{PLATFORM}", old])
    assert host.store_config(old).status_code == 200

    replaced = host.put_domains(slug, [f"{slug}.{PLATFORM}", new])

    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["domains"] == [f"{slug}.{PLATFORM}", new]
    # Before any customer's request refills it: the change itself leaves the kept entry.
    assert directory_slug(f"{slug}.{PLATFORM}") == slug
    assert directory_slug(new) == slug
    assert directory_slug(old) is None
    assert host.store_config(new).json()["name"] == f"Restaurant {slug}"
    assert problem(host.store_config(old), 404)


@pytest.mark.devhost
def test_a_suspended_restaurants_create_sent_again_is_done_and_starts_nothing(
    host: PlatformHost,
) -> None:
    """A retried `POST /platform/tenants` for a restaurant since suspended is the same finished
    request (200), not a provisioning run again over a restaurant suspended for not paying."""
    slug = unique_slug("rsu")
    body = provision_body(slug)
    host.create(slug)
    suspension = f"/v1/platform/tenants/{slug}/suspension"
    assert host.request("PUT", suspension, json={"reason": "Unpaid"}).status_code == 200

    again = host.request("POST", "/v1/platform/tenants", json=body)

    assert again.status_code == 200, again.text
    assert host.operation(f"provision-{slug}")["status"] == "completed"
    assert host.detail(slug)["status"] == "suspended"
    assert "is suspended" in problem(host.storefront(slug), 403)["detail"]


def test_a_domain_change_stands_when_the_directory_cannot_be_written(
    tenants, client, monkeypatch
) -> None:
    """Postgres has the change: the admin must not get an error for it (and retry a change
    already made) because the dropped domain's directory entry could not be marked. The
    endpoint calls change_domains as here."""
    from devhost.services import AzuritePorts, free_port

    tenant = tenants.create()
    kept = own_domain()
    port = free_port()  # nothing answers at the storage account's address
    monkeypatch.setenv("AzureWebJobsStorage", AzuritePorts(port, port, port).connection_string())
    get_settings.cache_clear()
    reset_clients()
    try:
        record = change_domains(tenant.slug, [kept], by="admin@platform")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_clients()
    assert record.slug == tenant.slug
    resolver.invalidate(kept)
    assert ok(client.get("/api/v1/store/config", host=kept))["name"] == f"Restaurant {tenant.slug}"


def _pickup(shop: Shop, name: str, phone: str) -> dict:
    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": name, "phone": phone}
    return shop.place(body)


def _ids(shop: Shop, **params: str) -> list[str]:
    found = shop.client.get(
        "/api/v1/admin/customer-orders",
        host=shop.host,
        headers=shop.auth("manager", tenant=shop.slug),
        params=params,
    )
    return [order["id"] for order in ok(found)["orders"]]


def test_an_order_whose_phone_is_all_zeros_is_not_everyone_s(shop: Shop) -> None:
    """ "000 000" passes the order form (6 digits) and has no digits left to compare once the
    leading zeros go; "000 12345" keeps 5. Neither is Zoë's number, however it ends."""
    _pickup(shop, "Anon", "000 000")
    _pickup(shop, "Short", "000 12345")
    zoe = _pickup(shop, "Zoë", "+49 151 2391 2345")
    assert _ids(shop, phone="+49 151 2391 2345") == [zoe["id"]]


def test_a_seven_digit_local_number_is_found_as_written(shop: Shop) -> None:
    """A local number without its area code ("030 12345" keeps 7 digits once its zero goes) is
    found by the same spelling and with the country code."""
    order = _pickup(shop, "Ana", "030 12345")
    _pickup(shop, "Ben", "030 12346")
    assert _ids(shop, phone="030 12345") == [order["id"]]
    assert _ids(shop, phone="+49 30 12345") == [order["id"]]


def test_exactly_100_matches_are_all_listed_and_not_truncated(shop: Shop) -> None:
    """`truncated` says more matched than were listed: with exactly MAX_FOUND (100) matches
    nothing was left out, and the manager must not go looking for more."""
    orders = [_pickup(shop, "Zoë", "+49 151 2391 2345") for _ in range(100)]
    for order in orders:
        shop.walk_to(order, "cancelled")
    found = ok(
        shop.client.get(
            "/api/v1/admin/customer-orders",
            host=shop.host,
            headers=shop.auth("manager", tenant=shop.slug),
            params={"phone": "+49 151 2391 2345"},
        )
    )
    assert found["truncated"] is False
    assert [o["id"] for o in found["orders"]] == [o["id"] for o in reversed(orders)]


@pytest.mark.parametrize("rate", ["887.50001", "-1"])
def test_a_rate_off_the_hundredths_or_negative_is_refused_not_kept(
    client, tenants, auth_header, rate: str
) -> None:
    """887.50001 is not a hundredth of a basis point and far from a float's error of one: a
    422, not silently kept as 887.5. A negative
    whole rate would pay customers: a 422."""
    from tests.order_fixtures import open_shop

    shop = open_shop(client, tenants, auth_header, settings={"currency": "USD"})
    settings = ok(shop.client.get("/api/v1/admin/settings", host=shop.host, headers=shop.owner()))
    raw = json.dumps({**settings, "tax": {"rate_bp": "@", "inclusive": False}})
    raw = raw.replace('"@"', rate)
    headers = {**shop.owner(), "content-type": "application/json"}
    answer = shop.client.put("/api/v1/admin/settings", host=shop.host, headers=headers, body=raw)
    refused = problem(answer, 422)
    assert [error["path"] for error in refused["errors"]] == ["tax.rate_bp"]
    assert ok(shop.client.get("/api/v1/store/config", host=shop.host))["tax"]["rate_bp"] == 2000
