"""A platform operator's walk through the platform API, on devhost's durable engine.

Restaurants are created, given several domains, suspended, deleted and replaced with one call
each, as a platform admin and a restaurant group owner would, and checked only through what the
API answers on the platform host and on each restaurant's own hosts.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import IDENTITY
from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    platform_host_fixture,
    unique_slug,
)
from tests.storefront_helpers import problem

pytestmark = pytest.mark.devhost


def bearer(role: str, tenant: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {IDENTITY.mint(role=role, tenant=tenant)}"}


def test_a_group_owner_with_two_stores_reaches_each_only_on_its_own_host(
    host: PlatformHost,
) -> None:
    """One owner e-mail on two restaurants is fine; each store's token opens only that store,
    and a platform admin's token opens no restaurant's back office."""
    first, second = unique_slug("grp"), unique_slug("grp")
    email = f"owner-{uuid.uuid4().hex[:8]}@group.example"
    host.create(first, owner_email=email)
    host.create(second, owner_email=email)
    for slug in (first, second):
        detail = host.request("GET", f"/v1/platform/tenants/{slug}").json()
        assert (detail["status"], detail["owner_email"]) == ("active", email)

    first_host, second_host = f"{first}.stelly.test", f"{second}.stelly.test"
    mine = host.request(
        "GET", "/v1/admin/settings", host=first_host, headers=bearer("owner", first)
    )
    assert mine.status_code == 200 and mine.json()["business_name"] == f"Restaurant {first}"
    other = host.request(
        "GET", "/v1/admin/settings", host=second_host, headers=bearer("owner", first)
    )
    assert "different restaurant" in problem(other, 403)["detail"]
    kitchen = host.request(
        "GET", "/v1/kitchen/orders", host=first_host, headers=bearer("staff", second)
    )
    problem(kitchen, 403)

    # The platform admin's token (host.request sends it) on a restaurant's hosts.
    problem(host.request("GET", "/v1/admin/settings", host=first_host), 403)
    problem(host.request("GET", "/v1/kitchen/orders", host=first_host), 403)
    problem(host.request("GET", f"/v1/platform/tenants/{first}", host=first_host), 404)


def test_a_domain_in_another_case_or_with_a_trailing_dot_is_one_domain(host: PlatformHost) -> None:
    """Stored as browsers send it: every spelling reaches the restaurant, the same request in
    another spelling is the same operation, and no other restaurant gets it in any spelling."""
    slug = unique_slug("dom")
    own = f"own-{uuid.uuid4().hex[:8]}.example"
    done = host.create(slug, domains=[own.upper() + ".", f"{slug}.stelly.test"])
    assert done["output"]["domains"] == [own, f"{slug}.stelly.test"]  # primary first
    detail = host.request("GET", f"/v1/platform/tenants/{slug}").json()
    assert detail["domains"] == [own, f"{slug}.stelly.test"]

    for spelling in (own, own.upper(), own + ".", own + ":443", f"{slug.upper()}.STELLY.TEST."):
        answer = host.store_config(spelling)
        assert answer.status_code == 200, (spelling, answer.text)
        assert answer.json()["name"] == f"Restaurant {slug}"

    again = host.provision(slug, domains=[own, f"{slug}.stelly.test."])
    assert again.status_code == 200 and again.json()["id"] == f"provision-{slug}", again.text
    for spelling in (own.upper(), own + "."):
        taken = problem(host.provision(unique_slug("dom"), domains=[spelling]), 409)
        assert f"{own} ({slug})" in taken["detail"]


def test_a_suspension_reaches_every_domain_and_joins_the_audit_trail(host: PlatformHost) -> None:
    slug = unique_slug("sus")
    own = f"sus-{uuid.uuid4().hex[:8]}.example"
    host.create(slug, domains=[own, f"{slug}.stelly.test"])
    path = f"/v1/platform/tenants/{slug}/suspension"

    suspended = host.request("PUT", path, json={"reason": "Unpaid invoice 2026-11"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    for domain in (own, f"{slug}.stelly.test"):
        assert "is suspended" in problem(host.store_config(domain), 403)["detail"]

    reinstated = host.request("DELETE", path)
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"
    assert reinstated.json()["status_reason"] is None
    for domain in (own, f"{slug}.stelly.test"):
        assert host.store_config(domain).status_code == 200

    audit = host.request("GET", f"/v1/platform/tenants/{slug}").json()["audit"]
    assert [(row["operation"], row["step"]) for row in audit[:3]] == [
        ("suspension", "reinstate"),
        ("suspension", "suspend"),
        (f"provision-{slug}", "activate"),
    ]
    assert audit[1]["detail"].endswith(": Unpaid invoice 2026-11")


def test_a_deleted_restaurants_domain_serves_its_new_owner_and_never_its_old_staff(
    host: PlatformHost,
) -> None:
    gone, heir = unique_slug("old"), unique_slug("new")
    host.create(gone, domains=[f"{gone}.example", f"{gone}.stelly.test"])
    domain = f"{gone}.example"
    deleting = host.request("DELETE", f"/v1/platform/tenants/{gone}")
    assert deleting.status_code == 202, deleting.text
    done = host.wait(deleting.json()["id"])  # the 202 only starts it: wait, then its hosts close
    assert done["status"] == "completed" and done["output"]["status"] == "deleted", done
    assert "closed its storefront" in problem(host.store_config(domain), 410)["detail"]
    # Its provisioning (and the owner's e-mail in it) went with it; the slug stays taken.
    problem(host.request("GET", f"/v1/platform/operations/provision-{gone}"), 404)
    assert "never reused" in problem(host.provision(gone), 409)["detail"]

    # Its name under the platform stays its own: nobody else's customers are greeted there.
    refusal = problem(host.provision(heir, domains=[f"{gone}.stelly.test"]), 422)
    assert refusal["errors"][0]["path"] == "domains[0]"
    host.create(heir, domains=[domain])
    answer = host.store_config(domain)
    assert answer.status_code == 200 and answer.json()["name"] == f"Restaurant {heir}"
    old_staff = bearer("staff", gone)
    problem(host.request("GET", "/v1/kitchen/orders", host=domain, headers=old_staff), 403)
    tombstone = host.request("GET", f"/v1/platform/tenants/{gone}").json()
    # Its name under the platform stays a closed storefront (410) for good.
    assert (tombstone["status"], tombstone["domains"]) == ("deleted", [f"{gone}.stelly.test"])
    assert (
        "closed its storefront" in problem(host.store_config(f"{gone}.stelly.test"), 410)["detail"]
    )
    # Deleting the old one again changes nothing for the new owner.
    assert host.request("DELETE", f"/v1/platform/tenants/{gone}").status_code == 200
    assert host.store_config(domain).json()["name"] == f"Restaurant {heir}"


def test_a_restaurant_cannot_take_another_live_restaurants_slug_under_the_platform(
    host: PlatformHost,
) -> None:
    """Under the platform's domain a name is a slug (the default domain is <slug>.<platform>).
    A restaurant that lives on its own domain keeps its slug's name there: another restaurant
    taking it would serve its customers under the first one's name, and leave the first one
    unable ever to get its default domain."""
    roma = unique_slug("roma")
    host.create(roma, domains=[f"{roma}.example"])
    squatter = host.provision(unique_slug("napoli"), domains=[f"{roma}.stelly.test"])
    refusal = problem(squatter, 422)
    assert refusal["errors"][0]["path"] == "domains[0]" and "its slug" in refusal["detail"]
    assert host.store_config(f"{roma}.stelly.test").status_code == 404


def test_a_punycode_domain_no_browser_could_send_is_refused(host: PlatformHost) -> None:
    """`xn--a` decodes to U+0080, which IDNA forbids: browsers never send such a Host, so the
    restaurant would be created on a domain nobody can reach (as `pizza..例え.jp`, a 422)."""
    domain = f"xn--a.{uuid.uuid4().hex[:8]}.example"
    response = host.provision(unique_slug("idn"), domains=[domain])
    refusal = problem(response, 422)
    assert refusal["errors"][0]["path"] == "domains[0]"
