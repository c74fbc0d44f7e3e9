"""A platform admin changes a restaurant's domains after it opened: it buys its own domain and
makes it primary, drops one it no longer pays for, or takes over a closed restaurant's. Through
the platform API on devhost, checked on the restaurant's hosts and in the directory."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import IDENTITY
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    directory_slug,
    own_domain,
    platform_host_fixture,
    unique_slug,
)
from tests.storefront_helpers import problem

pytestmark = pytest.mark.devhost


def _audit(host: PlatformHost, slug: str) -> list[dict[str, Any]]:
    return host.request("GET", f"/v1/platform/tenants/{slug}").json()["audit"]


def test_a_restaurant_gets_its_own_domain_as_primary_and_later_drops_the_platforms(
    host: PlatformHost,
) -> None:
    slug = unique_slug("dom")
    host.create(slug)
    platform_name, own = f"{slug}.stelly.test", own_domain()
    assert host.store_config(own).status_code == 404

    changed = host.put_domains(slug, [own.upper() + ".", platform_name])

    assert changed.status_code == 200, changed.text
    assert changed.json()["domains"] == [own, platform_name]  # as browsers send it, primary first
    for domain in (own, platform_name):
        answer = host.store_config(domain)
        assert answer.status_code == 200 and answer.json()["name"] == f"Restaurant {slug}"
        assert directory_slug(domain) == slug
    latest = _audit(host, slug)[0]
    assert (latest["operation"], latest["step"], latest["outcome"]) == ("domains", "change", "ok")
    assert own in latest["detail"] and platform_name in latest["detail"]

    dropped = host.put_domains(slug, [own])

    assert dropped.status_code == 200 and dropped.json()["domains"] == [own], dropped.text
    assert problem(host.store_config(platform_name), 404)
    assert directory_slug(platform_name) is None
    assert host.store_config(own).status_code == 200
    # The platform name stays the slug's: it can have it back.
    assert host.put_domains(slug, [platform_name, own]).json()["domains"] == [platform_name, own]
    assert host.store_config(platform_name).status_code == 200


def test_the_same_domains_again_change_nothing_and_audit_nothing(host: PlatformHost) -> None:
    slug = unique_slug("dom")
    own = own_domain()
    host.create(slug, domains=[f"{slug}.stelly.test", own])
    before = _audit(host, slug)

    again = host.put_domains(slug, [f"{slug}.stelly.test", own.upper()])

    assert again.status_code == 200 and again.json()["domains"] == [f"{slug}.stelly.test", own]
    assert _audit(host, slug) == before


def test_a_domain_another_restaurant_holds_is_a_conflict_that_changes_nothing(
    host: PlatformHost,
) -> None:
    holder, mover = unique_slug("hld"), unique_slug("mov")
    held = own_domain()
    host.create(holder, domains=[held])
    host.create(mover)

    taken = problem(host.put_domains(mover, [f"{mover}.stelly.test", held]), 409)

    assert f"{held} belongs to {holder}" in taken["detail"]
    assert host.detail(mover)["domains"] == [f"{mover}.stelly.test"]
    assert host.store_config(held).json()["name"] == f"Restaurant {holder}"


def test_a_closed_restaurants_domain_can_be_taken_over(host: PlatformHost) -> None:
    gone, heir = unique_slug("gon"), unique_slug("hei")
    domain = own_domain()
    host.create(gone, domains=[domain])
    host.create(heir)
    deleting = host.request("DELETE", f"/v1/platform/tenants/{gone}")
    assert host.wait(deleting.json()["id"])["status"] == "completed"
    assert problem(host.store_config(domain), 410)

    taken = host.put_domains(heir, [domain, f"{heir}.stelly.test"])

    assert taken.status_code == 200, taken.text
    assert host.store_config(domain).json()["name"] == f"Restaurant {heir}"
    assert directory_slug(domain) == heir
    assert host.detail(gone)["domains"] == []
    # A deleted restaurant's domains are not its to change.
    assert "deleted" in problem(host.put_domains(gone, [own_domain()]), 409)["detail"]


def test_a_suspended_restaurant_moves_and_stays_suspended_on_its_new_domain(
    host: PlatformHost,
) -> None:
    slug = unique_slug("sus")
    host.create(slug)
    suspension = f"/v1/platform/tenants/{slug}/suspension"
    assert host.request("PUT", suspension, json={"reason": "Unpaid"}).status_code == 200
    own = own_domain()

    moved = host.put_domains(slug, [own])

    assert moved.status_code == 200 and moved.json()["status"] == "suspended", moved.text
    assert "is suspended" in problem(host.store_config(own), 403)["detail"]


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
    host.create(slug)

    refusal = problem(host.put_domains(slug, domains), 422)

    assert refusal["errors"][0]["path"] == path and says in refusal["errors"][0]["message"]
    assert host.detail(slug)["domains"] == [f"{slug}.stelly.test"]


def test_only_a_platform_admin_changes_domains_of_a_restaurant_that_exists(
    host: PlatformHost,
) -> None:
    slug = unique_slug("who")
    host.create(slug)
    owner = {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}

    assert problem(host.put_domains(slug, [own_domain()], headers=owner), 403)
    on_its_host = host.request(
        "PUT",
        f"/v1/platform/tenants/{slug}/domains",
        host=f"{slug}.stelly.test",
        json={"domains": [own_domain()]},
    )
    assert problem(on_its_host, 404)
    assert (
        "No restaurant"
        in problem(host.put_domains(unique_slug("nob"), [own_domain()]), 404)["detail"]
    )
    assert host.detail(slug)["domains"] == [f"{slug}.stelly.test"]
