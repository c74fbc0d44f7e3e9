"""Attacks on a platform admin's domain change, a manager forgetting a customer, and tax
rates. What someone who is not entitled to a change sees, and that no
spelling of a name takes traffic meant for the platform or for another restaurant."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.conftest import AUDIENCE, IDENTITY, ISSUER
from tests.order_fixtures import Shop, order_access, shop_fixture  # noqa: F401 (fixtures)
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    own_domain,
    platform_host_fixture,
    unique_slug,
)
from tests.storefront_helpers import ok, problem

devhost = pytest.mark.devhost


def _bearer(role: str, tenant: str | None = None, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {IDENTITY.mint(role=role, tenant=tenant, **claims)}"}


def _full_width(text: str) -> str:
    """Letters and digits as their full-width forms (what UTS #46 maps back)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in text)


def _forged_tokens(slug: str) -> dict[str, dict[str, str]]:
    """Tokens that must not pass as this platform's admin (or the restaurant's manager)."""
    role = "platform_admin"
    return {
        "none": {},
        "not a jwt": {"Authorization": "Bearer not-a-token"},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "other audience": _bearer(role, aud=AUDIENCE + "-other"),
        "other issuer": _bearer(role, iss=ISSUER + "/other"),
        "expired": _bearer(role, exp=int(time.time()) - 3600),
        "no roles": _bearer(role, roles=[]),
        "roles as an object": _bearer(role, roles={"platform_admin": True}),
    }


@devhost
def test_no_spelling_of_the_platforms_names_or_a_machine_address_becomes_a_domain(
    host: PlatformHost,
) -> None:
    """Whatever the spelling (case, trailing dot, full-width letters, a soft hyphen, ideographic
    full stops, a Cyrillic look-alike), the platform's host and its reserved names stay the
    platform's; loopback addresses, ports, wildcards and over-long names are no domain."""
    slug = unique_slug("sec")
    host.create(slug)
    too_long = ".".join(["a" * 63] * 3 + ["b" * 62])  # 254 characters
    for spelling in (
        "STELLY.TEST.",
        "Stelly.Test..",
        _full_width("STELLY.test"),
        _full_width("API") + ".stelly.test",
        "ap\u00adi.stelly.test",
        "api\u3002stelly\u3002test",
        "\u0430pi.stelly.test",
        "xn--pi-6kc.stelly.test",
        "www.stelly.test",
        "admin.stelly.test",
        f"shop.{slug}.stelly.test",
        "127.0.0.1",
        "[::1]",
        "::1",
        "localhost",
        "order.example:443",
        "*.example.com",
        "a" * 64 + ".example",
        too_long,
    ):
        refusal = problem(host.put_domains(slug, [f"{slug}.stelly.test", spelling]), 422)
        assert refusal["errors"][0]["path"] in ("domains[1]", "domains"), (spelling, refusal)
    assert host.detail(slug)["domains"] == [f"{slug}.stelly.test"]
    # The platform's host is still the platform's: no restaurant there, its API answers.
    assert problem(host.store_config("stelly.test"), 404)
    assert problem(host.store_config("api.stelly.test"), 404)
    assert host.request("GET", "/v1/platform/tenants").status_code == 200
    assert host.request("GET", "/v1/platform/tenants", host="api.stelly.test").status_code == 200


@devhost
def test_a_domain_of_the_wrong_length_is_told_so_in_characters(host: PlatformHost) -> None:
    """README: messages are in JSON's words, not pydantic's; a name is not a list of items."""
    slug = unique_slug("len")
    host.create(slug)
    too_long = ".".join(["a" * 63] * 3 + ["b" * 62])
    for domain, says in ((too_long, "at most 253 characters"), ("::1", "at least 4 characters")):
        changed = problem(host.put_domains(slug, [domain]), 422)["errors"]
        created = problem(host.provision(unique_slug("len"), domains=[domain]), 422)["errors"]
        for errors in (changed, created):
            message = errors[0]["message"]
            assert says in message and not message.startswith("Value should"), message


@devhost
def test_another_restaurants_domain_in_another_spelling_is_still_its(host: PlatformHost) -> None:
    holder, mover = unique_slug("hld"), unique_slug("mov")
    held = own_domain()
    host.create(holder, domains=[held])
    host.create(mover)
    full_width = _full_width(held)

    for spelling in (
        held.upper(),
        f"{held}.",
        f" {held} ",
        full_width,
        held.replace(".", "\u3002"),
    ):
        taken = problem(host.put_domains(mover, [f"{mover}.stelly.test", spelling]), 409)
        assert f"{held} belongs to {holder}" in taken["detail"], spelling

    assert host.detail(mover)["domains"] == [f"{mover}.stelly.test"]
    assert host.detail(holder)["domains"] == [held]
    assert host.store_config(held).json()["name"] == f"Restaurant {holder}"


@devhost
def test_only_a_platform_admins_own_token_changes_domains(host: PlatformHost) -> None:
    """Forged, foreign, expired or role-less tokens, and the restaurant's own staff, change
    nothing and learn nothing about the restaurant (the same answer for one that does not
    exist)."""
    slug = unique_slug("tok")
    host.create(slug)
    target = own_domain()
    refused: dict[str, int] = {}
    for name, headers in {
        **_forged_tokens(slug),
        "owner": _bearer("owner", slug),
        "manager": _bearer("manager", slug),
        "staff": _bearer("staff", slug),
        "owner claiming the platform": _bearer("owner", slug, roles=["owner", "platform-admin"]),
    }.items():
        # httpx merges headers: an empty Authorization replaces the admin's.
        sent = {"Authorization": "", **headers}
        answer = host.put_domains(slug, [target], headers=sent)
        missing = host.put_domains(unique_slug("nob"), [target], headers=sent)
        body = problem(answer, answer.status_code)
        assert answer.status_code == missing.status_code, name
        assert slug not in body["detail"], name
        refused[name] = answer.status_code
    assert {name for name, status in refused.items() if status == 403} == {
        "no roles",
        "roles as an object",
        "owner",
        "manager",
        "staff",
        "owner claiming the platform",
    }, refused
    assert all(status in (401, 403) for status in refused.values()), refused
    assert host.detail(slug)["domains"] == [f"{slug}.stelly.test"]
    assert problem(host.store_config(target), 404)


NAME, NOTE = "Ada Lovelace", "Ring 3 times, Flat 2"


def _forget(shop: Shop, order_id: str, headers: dict[str, str], host: str | None = None):
    return shop.client.delete(
        f"/api/v1/admin/orders/{order_id}/customer", host=host or shop.host, headers=headers
    )


def test_only_this_restaurants_managers_tokens_forget_a_customer(shop: Shop, tenants) -> None:
    """The order's own access token, a platform admin's, another restaurant's manager's and
    forged tokens forget nothing; the manager still sees the customer."""
    body = shop.order_body(shop.pizza_line())
    body["fulfilment"]["name"], body["lines"][0]["note"] = NAME, NOTE
    order = shop.place(body)
    shop.walk_to(order, "completed")
    other = tenants.create()
    attempts = {
        "order access token": (order_access(order), 401),
        "platform admin": (_bearer("platform_admin"), 403),
        "platform admin naming the restaurant": (_bearer("platform_admin", shop.slug), 403),
        "other restaurant's manager": (_bearer("manager", other.slug), 403),
        "manager without a restaurant": (_bearer("manager"), 403),
        "manager of another audience": (_bearer("manager", shop.slug, aud=AUDIENCE + "x"), 401),
        "expired manager": (_bearer("manager", shop.slug, exp=int(time.time()) - 3600), 401),
    }
    for name, (headers, status) in attempts.items():
        assert problem(_forget(shop, order["id"], headers), status), name
    # The other restaurant's manager on their own host: this order is not theirs to find.
    theirs, elsewhere = _bearer("manager", other.slug), f"{other.slug}.stelly.test"
    found = problem(_forget(shop, order["id"], theirs, elsewhere), 404)
    unknown = problem(_forget(shop, str(uuid.uuid4()), theirs, elsewhere), 404)
    assert found["detail"] == unknown["detail"]

    view = ok(
        shop.client.get(f"/api/v1/admin/orders/{order['id']}", host=shop.host, headers=shop.owner())
    )
    assert view["fulfilment"]["name"] == NAME and view["lines"][0]["note"] == NOTE
    assert shop.customer_view(order).json()["fulfilment"]["name"] == NAME


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"totals": {"subtotal": 1, "tax": 0, "total": 1}}, "totals"),
        ({"tax": 0}, "tax"),
        ({"tax_rate_bp": 0}, "tax_rate_bp"),
        ({"tip": -100}, "tip"),
        ({"tip": 1.5}, "tip"),
    ],
)
def test_a_customer_cannot_name_their_own_tax_or_a_negative_tip(
    shop: Shop, extra: dict[str, Any], path: str
) -> None:
    body = {**shop.order_body(shop.cola_line(quantity=3)), **extra}

    refusal = problem(shop.post_order(body), 422)

    assert [error["path"] for error in refusal["errors"]] == [path], refusal
    order = shop.place(shop.order_body(shop.cola_line(quantity=3)))  # 3 x 2.50 at 20 %
    assert order["totals"] | {"currency": "EUR"} == {
        "subtotal": 750,
        "tax": 150,
        "tip": 0,
        "total": 900,
        "currency": "EUR",
    }
