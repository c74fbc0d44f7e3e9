"""Where the platform API's answers point: status URLs and Location behind Front Door, with a
forwarded port, and on answers that name an operation that already exists."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from shared.db import transaction
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
    provision_body,
    unique_slug,
)

pytestmark = pytest.mark.devhost


# What the Functions host sees behind our Front Door: the origin's own host name in `Host`
# (infra/app/frontdoor.bicep sets originHostHeader: functionAppHostName) and the host the admin
# called in `X-Forwarded-Host` (trusted via X-Azure-FDID in Azure, via STELLY_ENV=development here).
ORIGIN_HOST = "stelly-func.azurewebsites.test"
PLATFORM_HOST = "stelly.test"


def _through_front_door(host: PlatformHost, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"X-Forwarded-Host": PLATFORM_HOST, **kwargs.pop("headers", {})}
    return host.request(method, path, host=ORIGIN_HOST, headers=headers, **kwargs)


def _follow(host: PlatformHost, url: str) -> httpx.Response:
    """GET url as a client would: to the host the URL names (routed to devhost here)."""
    parts = urlsplit(url)
    return httpx.get(
        host.process.base_url + parts.path, headers={"Host": parts.netloc, **host.admin}, timeout=30
    )


def test_status_urls_name_the_host_the_admin_called_behind_front_door(
    host: PlatformHost,
) -> None:
    # Behind Front Door the request's own URL names the function app's host, which clients
    # cannot reach: Location and status_url must name the platform host instead.
    slug = unique_slug("loc")
    created = _through_front_door(host, "POST", "/v1/platform/tenants", json=provision_body(slug))
    assert created.status_code == 202, created.text
    assert created.json()["status_url"] == created.headers["location"]
    host.wait(f"provision-{slug}")  # (polled on the platform host, where it does work)

    followed = _follow(host, created.headers["location"])
    assert followed.status_code == 200, (created.headers["location"], followed.text)
    assert urlsplit(created.headers["location"]).netloc == PLATFORM_HOST


def test_status_url_keeps_the_port_of_the_forwarded_host(client, tenants, auth_header) -> None:
    # A trusted X-Forwarded-Host names the host called, port and all; the links must too.
    tenant = tenants.create()
    with transaction() as conn:
        conn.execute(
            "update tenants set last_operation = %s where slug = %s",
            [f"provision-{tenant.slug}", tenant.slug],
        )
    # A local proxy in front of devhost (development trusts X-Forwarded-Host), e.g. the admin
    # app's dev server on :5173 forwarding /api to devhost on :7071.
    response = client.get(
        f"/api/v1/platform/tenants/{tenant.slug}",
        host="127.0.0.1:7071",
        headers={
            **auth_header("platform_admin"),
            "X-Forwarded-Host": "stelly.test:5173",
            "X-Forwarded-Proto": "http",
        },
    )
    assert response.status_code == 200, response.text
    url = response.json()["last_operation"]["status_url"]
    assert url.startswith("http://stelly.test:5173/api/v1/platform/operations/"), url


def test_answers_naming_an_existing_operation_say_where_it_is(host: PlatformHost) -> None:
    # A repeated create and a delete of a deleted restaurant answer 200 with the operation's
    # Location, as the 202s do, and the API description says so.
    slug = unique_slug()
    created = host.provision(slug)
    assert created.status_code == 202, created.text
    assert host.wait(created.json()["id"])["status"] == "completed"
    again = host.provision(slug)
    deleting = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert host.wait(deleting.json()["id"])["status"] == "completed"
    gone = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert (again.status_code, gone.status_code) == (200, 200)
    assert again.headers["location"].endswith(f"/api/v1/platform/operations/provision-{slug}")
    assert gone.headers["location"].endswith(f"/api/v1/platform/operations/deprovision-{slug}")
    paths = host.request("GET", "/openapi.json").json()["paths"]
    for path, method in (
        ("/v1/platform/tenants", "post"),
        ("/v1/platform/tenants/{slug}", "delete"),
    ):
        assert "Location" in paths[path][method]["responses"]["200"]["headers"], (path, method)


def _purge(host: PlatformHost, instance_id: str) -> None:
    """What the hourly purge does 30 days on: the task hub forgets the ended operation."""
    url = f"{host.process.base_url}/runtime/webhooks/durabletask/instances/{instance_id}"
    assert httpx.delete(url, timeout=30).json() == {"instancesDeleted": 1}


def test_an_operation_the_purge_took_still_answers_at_the_location_handed_out(
    host: PlatformHost,
) -> None:
    """A repeated create or delete a month on still names its operation; following it gives
    what the operation did, not a 404."""
    slug = unique_slug()
    created = host.provision(slug)
    first = host.wait(created.json()["id"])
    _purge(host, f"provision-{slug}")
    again = host.provision(slug)
    assert again.status_code == 200, again.text
    answered = _follow(host, again.headers["location"])
    assert answered.status_code == 200, answered.text
    operation = answered.json()
    assert (operation["name"], operation["status"]) == ("provision_tenant", "completed")
    assert operation["output"] == first["output"] == {
        "slug": slug, "status": "active", "domains": [f"{slug}.stelly.test"],
    }  # fmt: skip

    deleting = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert host.wait(deleting.json()["id"])["status"] == "completed"
    _purge(host, f"deprovision-{slug}")
    gone = host.request("DELETE", f"/v1/platform/tenants/{slug}")
    assert gone.status_code == 200, gone.text
    operation = _follow(host, gone.headers["location"]).json()
    assert (operation["name"], operation["status"]) == ("deprovision_tenant", "completed")
    assert operation["output"] == {"slug": slug, "status": "deleted"}
    assert operation["updated_at"] is not None
    # The deletion forgot the provisioning at once; it is not made up from the tombstone.
    assert host.request("GET", f"/v1/platform/operations/provision-{slug}").status_code == 404
