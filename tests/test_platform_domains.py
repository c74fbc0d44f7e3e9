"""A restaurant's own domain written as people write it: internationalised names in ASCII form."""

from __future__ import annotations

import uuid

import pytest

from tests.platform_helpers import (  # noqa: F401  (the `host` fixture)
    PlatformHost,
    platform_host_fixture,
    provision_body,
    unique_slug,
)


@pytest.mark.devhost
def test_a_restaurant_is_provisioned_on_its_internationalised_domain(host: PlatformHost) -> None:
    """`café-….example` is stored as `xn--caf-….example`, what browsers send as Host, so the
    storefront answers there and no second restaurant can claim it in the other spelling."""
    domain = f"Café-{uuid.uuid4().hex[:8]}.example"
    ascii_domain = domain.lower().encode("idna").decode()
    # Typed on a Japanese keyboard, its last dot is an ideographic full stop: the same domain.
    response = host.provision(unique_slug("idn"), domains=[domain + "。"])
    assert response.status_code == 202, response.text
    done = host.wait(response.json()["id"])
    assert done["status"] == "completed", done
    assert done["output"]["domains"] == [ascii_domain]
    store = host.request("GET", "/v1/store/config", host=ascii_domain, headers={})
    assert store.status_code == 200, store.text
    again = host.provision(unique_slug("idn"), domains=[ascii_domain])
    assert again.status_code == 409, again.text


def test_a_domain_no_browser_could_reach_is_named_in_the_422(host: PlatformHost) -> None:
    response = host.provision(unique_slug("idn"), domains=["pizza..例え.jp"])
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (
        error["path"] == "domains[0]" and "pizza..例え.jp is not a valid domain" in error["message"]
    )
