"""The demo restaurant `make dev` sets up: slug `demo`, served at demo.localhost.

It is provisioned the way a platform admin would: `POST /api/v1/platform/tenants` on the running
devhost with a platform_admin token from the dev identity, then polling the operation until the
restaurant is active. Idempotent: an active demo (from an earlier run) is left as it is, and an
unfinished one is picked up by sending the same request again. A demo whose customers see no
menu then gets its settings (German VAT included in prices) and a small published menu through the
admin API.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

# Provisioning publishes the empty menu as version 1; furnishing publishes the demo's after it.
PROVISIONED_MENU_VERSION = 1
PROVISION_TIMEOUT_S = 60.0
DEMO_NAME = "Demo Pizzeria"
DEMO_SETTINGS = {
    "business_name": DEMO_NAME,
    "currency": "EUR",
    "timezone": "Europe/Berlin",
    "locale": "en-GB",
    "tax": {"rate_bp": 1900, "inclusive": True},
}
_SIZES = {"name": "Size", "min": 1, "max": 1, "options": [
    {"name": "Regular", "price_delta": 0}, {"name": "Large", "price_delta": 300}]}  # fmt: skip
DEMO_MENU = {
    "categories": [
        {"name": "Pizza", "items": [
            {"name": "Margherita", "description": "Tomato, mozzarella, basil", "price": 900,
             "station": "oven", "allergens": ["gluten", "milk"], "modifier_groups": [_SIZES]},
            {"name": "Diavola", "description": "Spicy salami, chilli", "price": 1100,
             "station": "oven", "allergens": ["gluten", "milk"], "modifier_groups": [_SIZES]},
        ]},
        {"name": "Drinks", "items": [
            {"name": "Lemonade", "price": 350, "station": "bar"},
        ]},
    ]
}  # fmt: skip


class DemoSetupError(RuntimeError):
    """The demo restaurant could not be provisioned; the message says what the API answered."""


def provision_request(slug: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "display_name": DEMO_NAME,
        "owner_email": f"owner@{slug}.localhost",
        "currency": DEMO_SETTINGS["currency"],
        "timezone": DEMO_SETTINGS["timezone"],
        "domains": [f"{slug}.localhost"],
    }


async def _wait_active(http: httpx.AsyncClient, status_url: str) -> None:
    deadline = asyncio.get_running_loop().time() + PROVISION_TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        operation = (await http.get(status_url)).json()
        if operation["status"] == "completed":
            return
        if operation["status"] not in ("running", "pending"):
            raise DemoSetupError(f"provisioning ended {operation['status']}: {operation['error']}")
        await asyncio.sleep(0.1)
    raise DemoSetupError(f"provisioning did not finish within {PROVISION_TIMEOUT_S:.0f} s")


async def _provision(http: httpx.AsyncClient, slug: str) -> None:
    """Provision slug unless it is active already."""
    found = await http.get(f"/v1/platform/tenants/{slug}")
    if found.status_code == 200 and found.json()["status"] == "active":
        return
    started = await http.post("/v1/platform/tenants", json=provision_request(slug))
    if started.status_code not in (200, 202):
        raise DemoSetupError(f"POST /v1/platform/tenants answered {started.status_code}: "
                             f"{started.json().get('detail')}")  # fmt: skip
    await _wait_active(http, started.json()["status_url"])


async def _draft(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """The demo's draft menu, with the version customers see (`published_version`)."""
    draft = await http.get("/v1/admin/menu", headers=headers)
    if draft.status_code != 200:
        raise DemoSetupError(f"GET /v1/admin/menu answered {draft.status_code}: {draft.text}")
    return draft.json()


async def _furnish(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Settings and a published menu, through the admin API as the restaurant's owner."""
    for method, path, body in (
        ("PUT", "/v1/admin/settings", DEMO_SETTINGS),
        ("POST", "/v1/admin/menu/import", DEMO_MENU),
        ("POST", "/v1/admin/menu/publish", None),
    ):
        await _call(http, method, path, headers, body)


async def _call(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any
) -> None:
    answer = await http.request(method, path, headers=headers, json=body)
    if answer.status_code >= 300:
        raise DemoSetupError(f"{method} {path} answered {answer.status_code}: {answer.text}")


async def ensure_demo_tenant(host: Any, slug: str) -> None:
    """Provision the demo restaurant through the platform API (idempotent) and furnish it."""
    if host.identity is None:
        raise DemoSetupError("AUTH_ISSUER and AUTH_AUDIENCE must be set to mint tokens")
    admin = {"Authorization": f"Bearer {host.identity.mint(role='platform_admin')}"}
    # base_url is 127.0.0.1, one of the platform API's own hosts.
    async with httpx.AsyncClient(
        base_url=host.base_url + "/api", headers=admin, timeout=30
    ) as http:
        await _provision(http, slug)
        owner = host.identity.mint(role="owner", tenant=slug)
        headers = {"Host": f"{slug}.localhost", "Authorization": f"Bearer {owner}"}
        # Decided by what the demo has, not by whether this run created it: a run stopped
        # between provisioning and publishing is finished by the next one. Anything in the
        # draft, or any publish since provisioning's empty menu, means it was furnished (and
        # maybe edited since, down to an empty menu): settings and menu are left as they are.
        draft = await _draft(http, headers)
        published_since = draft["published_version"] > PROVISIONED_MENU_VERSION
        if not draft["categories"] and not published_since:
            await _furnish(http, headers)
        elif not published_since:
            await _call(http, "POST", "/v1/admin/menu/publish", headers, None)
