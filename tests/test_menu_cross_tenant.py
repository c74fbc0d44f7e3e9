"""Another tenant's ids on every admin route: 404, never 403, never data, and nothing changes.

Two restaurants with menus; the caller is B's owner on B's host using A's ids (in the path or
the body). Both menus, settings and published versions are compared before and after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.theming import PRESETS
from tests.conftest import IDENTITY, execute
from tests.storefront_helpers import Api, build_small_menu, ok
from tests.tenant_fixtures import TenantFactory

SETTINGS = {
    "business_name": "B",
    "currency": "EUR",
    "timezone": "UTC",
    "locale": "en",
    "tax": {"rate_bp": 0, "inclusive": False},
}


class World:
    def __init__(self, client) -> None:
        self.factory = TenantFactory()
        self.a_tenant, self.b_tenant = self.factory.create(), self.factory.create()
        self.a = self._api(client, self.a_tenant, self.a_tenant.slug)
        self.b = self._api(client, self.b_tenant, self.b_tenant.slug)
        # A's owner token presented on B's host.
        self.a_on_b = self._api(client, self.b_tenant, self.a_tenant.slug)
        self.a_menu, self.b_menu = build_small_menu(self.a), build_small_menu(self.b)
        ok(self.a.post("/v1/admin/menu/publish"), 201)

    @staticmethod
    def _api(client, tenant, token_tenant: str) -> Api:
        token = IDENTITY.mint(role="owner", tenant=token_tenant)
        return Api(client, tenant, {"Authorization": f"Bearer {token}"})

    def state(self) -> list:
        """Everything a stray write could touch, in both tenants."""
        found = []
        for api in (self.a, self.b):
            schema = api.tenant.schema_name
            found.append(ok(api.get("/v1/admin/menu")))
            found.append(ok(api.get("/v1/admin/settings")))
            found.append(ok(api.get("/v1/admin/theme")))
            found.append(execute(f"select version, etag from {schema}.menu_versions order by 1"))
        return found


@pytest.fixture(scope="module")
def world(client) -> Iterator[World]:
    built = World(client)
    yield built
    built.factory.cleanup()


def _a_ids(world: World) -> dict[str, str]:
    a, b = world.a_menu, world.b_menu
    return {
        "a_cat": a["category"]["id"],
        "a_item": a["item"]["id"],
        "a_group": a["group"]["id"],
        "a_opt": a["group"]["options"][0]["id"],
        "b_cat": b["category"]["id"],
        "b_item": b["item"]["id"],
        "b_group": b["group"]["id"],
        "b_opts": [o["id"] for o in b["group"]["options"]],
    }


ROUTES = [
    ("GET", "/v1/admin/menu/categories/{a_cat}", None),
    ("PATCH", "/v1/admin/menu/categories/{a_cat}", {"name": "Taken"}),
    ("DELETE", "/v1/admin/menu/categories/{a_cat}", None),
    ("POST", "/v1/admin/menu/categories/{a_cat}/items/reorder", {"ids": ["{a_item}"]}),
    ("POST", "/v1/admin/menu/categories/reorder", {"ids": ["{b_cat}", "{a_cat}"]}),
    ("POST", "/v1/admin/menu/categories/{b_cat}/items/reorder", {"ids": ["{b_item}", "{a_item}"]}),
    ("GET", "/v1/admin/menu/items/{a_item}", None),
    ("PATCH", "/v1/admin/menu/items/{a_item}", {"price": 1}),
    ("DELETE", "/v1/admin/menu/items/{a_item}", None),
    ("POST", "/v1/admin/menu/items", {"category_id": "{a_cat}", "name": "X", "price": 1}),
    ("POST", "/v1/admin/menu/items",
     {"category_id": "{b_cat}", "name": "X", "price": 1, "modifier_group_ids": ["{a_group}"]}),
    ("PATCH", "/v1/admin/menu/items/{b_item}", {"category_id": "{a_cat}"}),
    ("PATCH", "/v1/admin/menu/items/{b_item}", {"modifier_group_ids": ["{a_group}"]}),
    ("GET", "/v1/admin/menu/groups/{a_group}", None),
    ("PATCH", "/v1/admin/menu/groups/{a_group}", {"name": "Taken"}),
    ("DELETE", "/v1/admin/menu/groups/{a_group}", None),
    ("POST", "/v1/admin/menu/groups/{a_group}/options", {"name": "X"}),
    ("POST", "/v1/admin/menu/groups/{a_group}/options/reorder", {"ids": ["{a_opt}"]}),
    ("POST", "/v1/admin/menu/groups/{b_group}/options/reorder",
     {"ids": ["{b_opt0}", "{b_opt1}", "{a_opt}"]}),
    ("GET", "/v1/admin/menu/options/{a_opt}", None),
    ("PATCH", "/v1/admin/menu/options/{a_opt}", {"price_delta": 1}),
    ("DELETE", "/v1/admin/menu/options/{a_opt}", None),
    ("POST", "/v1/admin/menu/availability", {"items": [{"id": "{a_item}", "available": False}]}),
    ("POST", "/v1/admin/menu/availability",
     {"items": [{"id": "{b_item}", "available": False}],
      "options": [{"id": "{a_opt}", "available": False}]}),
]  # fmt: skip


def _fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_another_tenants_id_is_404_and_changes_nothing(world, method, path, body) -> None:
    ids = _a_ids(world)
    ids.update({"b_opt0": ids["b_opts"][0], "b_opt1": ids["b_opts"][1]})
    before = world.state()
    response = world.b.call(method, _fill(path, ids), json=_fill(body, ids))
    assert response.status_code == 404, response.text
    assert response.content_type == "application/problem+json"
    assert "Margherita" not in response.text and "Size" not in response.text
    assert world.state() == before


NO_ID_ROUTES = [
    ("GET", "/v1/admin/menu", None),
    ("POST", "/v1/admin/menu/import", {"categories": []}),
    ("POST", "/v1/admin/menu/publish", None),
    ("GET", "/v1/admin/settings", None),
    ("PUT", "/v1/admin/settings", SETTINGS),
    ("GET", "/v1/admin/theme", None),
    ("PUT", "/v1/admin/theme", PRESETS["classic"]),
    ("GET", "/v1/admin/theme/presets", None),
    ("GET", "/v1/admin/menu/versions", None),
    ("GET", "/v1/admin/menu/versions/1", None),
    ("POST", "/v1/admin/menu/categories", {"name": "X"}),
    ("POST", "/v1/admin/menu/groups", {"name": "X", "max": 1, "options": [{"name": "o"}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), NO_ID_ROUTES)
def test_a_token_for_another_tenant_is_403_and_changes_nothing(world, method, path, body) -> None:
    before = world.state()
    response = world.a_on_b.call(method, path, json=body)
    assert response.status_code == 403, response.text
    assert world.state() == before
