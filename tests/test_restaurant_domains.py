"""A platform admin changes a restaurant's domains after it opened: it buys its own domain and
makes it primary, drops one it no longer pays for, or takes over a closed restaurant's. Through
the platform API on devhost, checked on the restaurant's hosts and in the directory."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import IDENTITY
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    directory_slug,
    platform_host_fixture,
    unique_slug,
)
from tests.storefront_helpers import problem

pytestmark = pytest.mark.devhost


def _created(host: PlatformHost, slug: str, **fields: Any) -> None:
    response = host.provision(slug, **fields)
    assert response.status_code == 202, response.text
    assert host.wait(response.json()["id"])["status"] == "completed"


def _put(host: PlatformHost, slug: str, domains: Any, **kwargs: Any) -> httpx.Response:
    path = f"/v1/platform/tenants/{slug}/domains"
    return host.request("PUT", path, json={"domains": domains}, **kwargs)


def _store(host: PlatformHost, domain: str) -> httpx.Response:
    return host.request("GET", "/v1/store/config", host=domain, headers={})


def _own() -> str:
    return f"order-{uuid.uuid4().hex[:8]}.example"


def _audit(host: PlatformHost, slug: str) -> list[dict[str, Any]]:
    return host.request("GET", f"/v1/platform/tenants/{slug}").json()["audit"]


def test_a_restaurant_gets_its_own_domain_as_primary_and_later_drops_the_platforms(
    host: PlatformHost,
) -> None:
    slug = unique_slug("dom")
    _created(host, slug)
    platform_name, own = f"{slug}.stelly.test", _own()
    assert _store(host, own).status_code == 404

    changed = _put(host, slug, [own.upper() + ".", platform_name])

    assert changed.status_code == 200, changed.text
    assert changed.json()["domains"] == [own, platform_name]  # as browsers send it, primary first
    for domain in (own, platform_name):
        answer = _store(host, domain)
        assert answer.status_code == 200 and answer.json()["name"] == f"Restaurant {slug}"
        assert directory_slug(domain) == slug
    latest = _audit(host, slug)[0]
    assert (latest["operation"], latest["step"], latest["outcome"]) == ("domains", "change", "ok")
    assert own in latest["detail"] and platform_name in latest["detail"]

    dropped = _put(host, slug, [own])

    assert dropped.status_code == 200 and dropped.json()["domains"] == [own], dropped.text
    assert problem(_store(host, platform_name), 404)
    assert directory_slug(platform_name) is None
    assert _store(host, own).status_code == 200
    # The platform name stays the slug's: it can have it back.
    assert _put(host, slug, [platform_name, own]).json()["domains"] == [platform_name, own]
    assert _store(host, platform_name).status_code == 200


def test_the_same_domains_again_change_nothing_and_audit_nothing(host: PlatformHost) -> None:
    slug = unique_slug("dom")
    own = _own()
    _created(host, slug, domains=[f"{slug}.stelly.test", own])
    before = _audit(host, slug)

    again = _put(host, slug, [f"{slug}.stelly.test", own.upper()])

    assert again.status_code == 200 and again.json()["domains"] == [f"{slug}.stelly.test", own]
    assert _audit(host, slug) == before


def test_a_domain_another_restaurant_holds_is_a_conflict_that_changes_nothing(
    host: PlatformHost,
) -> None:
    holder, mover = unique_slug("hld"), unique_slug("mov")
    held = _own()
    _created(host, holder, domains=[held])
    _created(host, mover)

    taken = problem(_put(host, mover, [f"{mover}.stelly.test", held]), 409)

    assert f"{held} belongs to {holder}" in taken["detail"]
    assert host.request("GET", f"/v1/platform/tenants/{mover}").json()["domains"] == [
        f"{mover}.stelly.test"
    ]
    assert _store(host, held).json()["name"] == f"Restaurant {holder}"


def test_a_closed_restaurants_domain_can_be_taken_over(host: PlatformHost) -> None:
    gone, heir = unique_slug("gon"), unique_slug("hei")
    domain = _own()
    _created(host, gone, domains=[domain])
    _created(host, heir)
    deleting = host.request("DELETE", f"/v1/platform/tenants/{gone}")
    assert host.wait(deleting.json()["id"])["status"] == "completed"
    assert problem(_store(host, domain), 410)

    taken = _put(host, heir, [domain, f"{heir}.stelly.test"])

    assert taken.status_code == 200, taken.text
    assert _store(host, domain).json()["name"] == f"Restaurant {heir}"
    assert directory_slug(domain) == heir
    assert host.request("GET", f"/v1/platform/tenants/{gone}").json()["domains"] == []
    # A deleted restaurant's domains are not its to change.
    assert "deleted" in problem(_put(host, gone, [_own()]), 409)["detail"]


def test_a_suspended_restaurant_moves_and_stays_suspended_on_its_new_domain(
    host: PlatformHost,
) -> None:
    slug = unique_slug("sus")
    _created(host, slug)
    suspension = f"/v1/platform/tenants/{slug}/suspension"
    assert host.request("PUT", suspension, json={"reason": "Unpaid"}).status_code == 200
    own = _own()

    moved = _put(host, slug, [own])

    assert moved.status_code == 200 and moved.json()["status"] == "suspended", moved.text
    assert "is suspended" in problem(_store(host, own), 403)["detail"]


@pytest.mark.parametrize(
    ("domains", "path", "says"),
    [
        (["other-slug.stelly.test"], "domains[0]", "its slug"),
        (["SLUG.example", "slug.example."], "domains", "must not repeat"),
        ([], "domains", "at least 1"),
        (["api.stelly.test"], "domains[0]", "reserved"),
        (["xn--a.example"], "domains[0]", "not a valid domain name"),
        ([f"d{n}.example" for n in range(11)], "domains", "at most 10"),
        ("menu.example", "domains", "list"),
    ],
)
def test_domains_a_restaurant_may_not_have_are_refused_with_their_path(
    host: PlatformHost, domains: Any, path: str, says: str
) -> None:
    slug = unique_slug("bad")
    _created(host, slug)

    refusal = problem(_put(host, slug, domains), 422)

    assert refusal["errors"][0]["path"] == path and says in refusal["errors"][0]["message"]
    assert host.request("GET", f"/v1/platform/tenants/{slug}").json()["domains"] == [
        f"{slug}.stelly.test"
    ]


def test_only_a_platform_admin_changes_domains_of_a_restaurant_that_exists(
    host: PlatformHost,
) -> None:
    slug = unique_slug("who")
    _created(host, slug)
    owner = {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}

    assert problem(_put(host, slug, [_own()], headers=owner), 403)
    on_its_host = host.request(
        "PUT",
        f"/v1/platform/tenants/{slug}/domains",
        host=f"{slug}.stelly.test",
        json={"domains": [_own()]},
    )
    assert problem(on_its_host, 404)
    assert "No restaurant" in problem(_put(host, unique_slug("nob"), [_own()]), 404)["detail"]
    assert host.request("GET", f"/v1/platform/tenants/{slug}").json()["domains"] == [
        f"{slug}.stelly.test"
    ]
