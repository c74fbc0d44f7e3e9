"""`make dev`'s demo restaurant: provisioned through the platform API once, furnished once, and
the developer's from then on."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from devhost.demo import ensure_demo_tenant, provision_request
from shared.provisioning.audit import recent_audit
from tests.conftest import IDENTITY
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    unique_slug,
)

pytestmark = pytest.mark.devhost


def _edit_settings(host: PlatformHost, store: str, owner: dict, **changes: object) -> None:
    """The developer changes the demo's settings, as an admin app would (ETag, If-Match)."""
    settings = host.request("GET", "/v1/admin/settings", host=store, headers=owner)
    changed = host.request(
        "PUT", "/v1/admin/settings", host=store, json={**settings.json(), **changes},
        headers={**owner, "If-Match": settings.headers["etag"]},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text


def test_make_dev_furnishes_a_demo_an_earlier_run_left_unfurnished(host: PlatformHost) -> None:
    # The first `make dev` provisioned the demo, then stopped before its menu was published.
    slug = unique_slug("demo")
    started = host.request("POST", "/v1/platform/tenants", json=provision_request(slug))
    assert started.status_code == 202, started.text
    assert host.wait(started.json()["id"])["status"] == "completed"
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))
    menu = host.request("GET", "/v1/store/menu", host=f"{slug}.localhost", headers={})
    assert [c["name"] for c in menu.json()["categories"]] == ["Pizza", "Drinks"]


def test_make_dev_demo_is_provisioned_through_the_api_once(host: PlatformHost) -> None:
    slug = unique_slug("demo")
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))
    asyncio.run(ensure_demo_tenant(devhost, slug))  # a second `make dev` finds it active
    storefront = f"{slug}.localhost"
    menu = host.request("GET", "/v1/store/menu", host=storefront, headers={})
    assert menu.status_code == 200, menu.text
    assert [c["name"] for c in menu.json()["categories"]] == ["Pizza", "Drinks"]
    config = host.request("GET", "/v1/store/config", host=storefront, headers={}).json()
    assert config["name"] == "Demo Pizzeria"
    assert [row["step"] for row in recent_audit(slug)].count("reserve") == 1


def test_make_dev_leaves_a_furnished_demo_as_its_developer_left_it(host: PlatformHost) -> None:
    # Even with nothing visible on the storefront: settings and draft are the developer's.
    slug = unique_slug("demo")
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))
    owner = {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}
    store = f"{slug}.localhost"
    _edit_settings(host, store, owner, business_name="Luigi's")
    draft = host.request("GET", "/v1/admin/menu", host=store, headers=owner).json()
    for category in draft["categories"]:
        hidden = host.request(
            "PATCH", f"/v1/admin/menu/categories/{category['id']}", host=store,
            headers=owner, json={"visible": False},
        )  # fmt: skip
        assert hidden.status_code == 200, hidden.text
    assert host.request("POST", "/v1/admin/menu/publish", host=store, headers=owner).is_success
    asyncio.run(ensure_demo_tenant(devhost, slug))  # the next `make dev`
    config = host.request("GET", "/v1/store/config", host=store, headers={}).json()
    assert config["name"] == "Luigi's"
    after = host.request("GET", "/v1/admin/menu", host=store, headers=owner).json()
    assert [c["id"] for c in after["categories"]] == [c["id"] for c in draft["categories"]]


def test_make_dev_leaves_a_demo_whose_developer_emptied_its_menu_as_it_was(
    host: PlatformHost,
) -> None:
    # Down to an empty menu, published: the settings and the empty menu are the developer's.
    slug = unique_slug("demo")
    devhost = SimpleNamespace(base_url=host.process.base_url, identity=IDENTITY)
    asyncio.run(ensure_demo_tenant(devhost, slug))  # the first `make dev`
    owner = {"Authorization": f"Bearer {IDENTITY.mint(role='owner', tenant=slug)}"}
    store = f"{slug}.localhost"
    _edit_settings(host, store, owner, business_name="Luigi's", timezone="Europe/Rome",
                   contact={"phone": "+39 06 0000 0000"})  # fmt: skip
    # The developer clears the demo's menu to build their own, and publishes the empty menu.
    draft = host.request("GET", "/v1/admin/menu", host=store, headers=owner).json()
    for category in draft["categories"]:
        for item in category["items"]:
            gone = host.request(
                "DELETE", f"/v1/admin/menu/items/{item['id']}", host=store, headers=owner
            )
            assert gone.status_code == 204, gone.text
        gone = host.request(
            "DELETE", f"/v1/admin/menu/categories/{category['id']}", host=store, headers=owner
        )
        assert gone.status_code == 204, gone.text
    assert host.request("POST", "/v1/admin/menu/publish", host=store, headers=owner).is_success
    asyncio.run(ensure_demo_tenant(devhost, slug))  # the next `make dev`
    after = host.request("GET", "/v1/admin/settings", host=store, headers=owner).json()
    assert (after["business_name"], after["timezone"], after["contact"]["phone"]) == (
        "Luigi's",
        "Europe/Rome",
        "+39 06 0000 0000",
    )
    menu = host.request("GET", "/v1/admin/menu", host=store, headers=owner).json()
    assert [c["name"] for c in menu["categories"]] == []
