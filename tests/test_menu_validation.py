"""Every menu write rule: a 422 problem naming the field path, and nothing written."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import execute
from tests.storefront_helpers import (  # noqa: F401 (fixtures)
    api_fixture,
    build_small_menu,
    error_paths,
    ok,
    owner_api,
    rejecting_api_fixture,
)

ITEM = {"name": "Soup", "price": 500}


@pytest.fixture
def built(api):
    return build_small_menu(api)


@pytest.fixture(scope="module")
def rejecting_menu(rejecting_api):
    return build_small_menu(rejecting_api)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Soup\u0000"}, "name"),
        ({"name": "Soup\ud800"}, "name"),
        ({"name": "Soup\nof the day"}, "name"),
        ({"name": "Soup\u0085of the day"}, "name"),  # NEL: a C1 control and a line break
        ({"name": "Soup\u009b31m"}, "name"),  # CSI: a terminal and printer escape
        ({"name": "Soup\u2028of the day"}, "name"),  # LINE SEPARATOR
        ({"name": "\u200b"}, "name"),  # invisible only: a blank name on the storefront
        ({"name": "\u200b\ufeff\u2060"}, "name"),
        ({"name": "Soup\u202e"}, "name"),  # RIGHT-TO-LEFT OVERRIDE left open
        ({"description": "Hot\u2067spicy"}, "description"),  # RIGHT-TO-LEFT ISOLATE
        ({"description": "Hot\u0085spicy"}, "description"),
        ({"description": "Hot\u0000"}, "description"),
        ({"price": -1}, "price"),
        ({"price": 1_000_000_001}, "price"),
        ({"price": 9.5}, "price"),
        ({"price": "950"}, "price"),
        ({"price": True}, "price"),
        ({"description": "x" * 1001}, "description"),
        ({"allergens": ["nuts"]}, "allergens[0]"),
        ({"allergens": ["milk", "milk"]}, "allergens"),
        ({"dietary": ["paleo"]}, "dietary[0]"),
        ({"station": "Grill Station"}, "station"),
        ({"windows": {"mon": [["25:00", "26:00"]]}}, "windows.mon[0][0]"),
        ({"windows": {"mon": [["11:00", "11:00"]]}}, "windows.mon[0]"),
        ({"windows": {"mon": [["24:00", "02:00"]]}}, "windows.mon[0]"),
        ({"windows": {"mon": [["11:00"]]}}, "windows.mon[0][1]"),
        ({"windows": {"funday": [["11:00", "12:00"]]}}, "windows.funday"),
        ({"windows": {"mon": []}}, "windows"),
        ({"windows": {"mon": [["11:00", "12:00"]] * 7}}, "windows.mon"),
        ({"available": "yes"}, "available"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_item_rules(rejecting_api, rejecting_menu, change, path) -> None:
    body = {**ITEM, "category_id": rejecting_menu["category"]["id"], **change}
    assert path in error_paths(rejecting_api.post("/v1/admin/menu/items", json=body))


def test_descriptions_may_have_line_breaks(api, built) -> None:
    body = {**ITEM, "category_id": built["category"]["id"], "description": "Hot.\nSpicy."}
    assert ok(api.post("/v1/admin/menu/items", json=body), 201)["description"] == "Hot.\nSpicy."


def test_item_patch_rules(api, built) -> None:
    path = f"/v1/admin/menu/items/{built['item']['id']}"
    assert error_paths(api.patch(path, json={"name": None})) == ["name"]
    assert error_paths(api.patch(path, json={})) == ["body"]
    assert error_paths(api.patch(path, json={"available": False})) == ["available"]
    assert error_paths(api.patch(path, json={"expected_version": 0})) == ["expected_version"]
    group = built["group"]["id"]
    paths = error_paths(api.patch(path, json={"modifier_group_ids": [group, group]}))
    assert paths == ["modifier_group_ids"]
    assert ok(api.get(path))["version"] == 1


def test_ids_in_a_body_must_be_this_tenants(api, built) -> None:
    missing = str(uuid.uuid4())
    body = {**ITEM, "category_id": missing}
    response = api.post("/v1/admin/menu/items", json=body)
    assert response.status_code == 404
    assert response.json()["detail"] == f"category_id: no category {missing} in this menu"
    body = {**ITEM, "category_id": built["category"]["id"], "modifier_group_ids": [missing]}
    response = api.post("/v1/admin/menu/items", json=body)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("modifier_group_ids[0]: no modifier group")
    assert error_paths(api.post("/v1/admin/menu/items", json={**ITEM, "category_id": "x"})) == [
        "category_id"
    ]
    assert len(ok(api.get("/v1/admin/menu"))["categories"][0]["items"]) == 1


@pytest.mark.parametrize(
    ("group", "paths"),
    [
        ({"min": 2, "max": 1}, ["min"]),
        ({"min": 3, "max": 3}, ["max"]),
        ({"max": 0}, ["max"]),
        ({"max": 3}, ["max"]),
        ({"free_quantity": 2}, ["free_quantity"]),
        ({"min": -1}, ["min"]),
        ({"max": 2, "options": [{"name": n, "default": True} for n in "abc"]}, ["options"]),
        ({"options": [{"name": "a", "price_delta": -5}, {"name": "b"}]},
         ["options[0].price_delta"]),
        ({"options": [{"name": ""}, {"name": "b"}]}, ["options[0].name"]),
        ({"options": [{"name": "b", "default": 1}, {"name": "c"}]}, ["options[0].default"]),
        ({"name": ""}, ["name"]),
        ({"options": [{"name": "o"}] * 51}, ["options"]),
    ],
)  # fmt: skip
def test_group_rules(api, group, paths) -> None:
    body = {"name": "Sauce", "max": 1, "options": [{"name": "Tomato"}, {"name": "Cream"}]}
    assert error_paths(api.post("/v1/admin/menu/groups", json={**body, **group})) == paths
    assert (
        execute(f"select count(*) as n from {api.tenant.schema_name}.modifier_groups")[0]["n"] == 0
    )


def test_group_patch_is_checked_against_its_options(api, built) -> None:
    path = f"/v1/admin/menu/groups/{built['group']['id']}"
    assert error_paths(api.patch(path, json={"max": 3})) == ["max"]
    assert error_paths(api.patch(path, json={"min": 2})) == ["min"]
    assert error_paths(api.patch(path, json={"free_quantity": 2})) == ["free_quantity"]
    large = built["group"]["options"][1]
    # Size already has its one default (Regular) and allows one choice.
    paths = error_paths(api.patch(f"/v1/admin/menu/options/{large['id']}", json={"default": True}))
    assert paths == ["default"]
    added = api.post(f"{path}/options", json={"name": "Huge", "default": True})
    assert error_paths(added) == ["default"]
    assert ok(api.get(path))["version"] == 1


def test_lowering_max_below_the_defaults_is_reported_at_max(api) -> None:
    toppings = {
        "name": "Toppings",
        "min": 0,
        "max": 2,
        "options": [
            {"name": "Basil", "default": True},
            {"name": "Oil", "default": True},
            {"name": "Chili"},
        ],
    }
    group = ok(api.post("/v1/admin/menu/groups", json=toppings), 201)
    assert error_paths(api.patch(f"/v1/admin/menu/groups/{group['id']}", json={"max": 1})) == [
        "max"
    ]


def test_reorder_and_availability_rules(api, built) -> None:
    assert error_paths(api.post("/v1/admin/menu/categories/reorder", json={"ids": []})) == ["ids"]
    assert error_paths(api.post("/v1/admin/menu/categories/reorder", json={"ids": ["x"]})) == [
        "ids[0]"
    ]
    item = built["item"]["id"]
    toggles = [{"id": item, "available": False}, {"id": item, "available": True}]
    paths = error_paths(api.post("/v1/admin/menu/availability", json={"items": toggles}))
    assert paths == ["items[1].id"]
    assert error_paths(api.post("/v1/admin/menu/availability", json={})) == ["body"]
    assert ok(api.get(f"/v1/admin/menu/items/{item}"))["available"] is True


def test_malformed_and_wrong_media_type(api) -> None:
    broken = api.post(
        "/v1/admin/menu/categories", body=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    wrong = api.post(
        "/v1/admin/menu/categories", body=b"name=x", headers={"content-type": "text/plain"}
    )
    assert wrong.status_code == 415
    assert api.get("/v1/admin/menu/items/not-a-uuid").status_code == 404


def test_an_item_never_gets_two_modifier_groups_of_one_name(client, tenants, auth_header) -> None:
    # Import refuses it; so must linking, and renaming a group into a clash.
    api = owner_api(client, tenants.create(), auth_header)
    menu = build_small_menu(api)  # Margherita with the group "Size" (Regular, Large)
    other = ok(
        api.post(
            "/v1/admin/menu/groups",
            json={"name": "Size", "min": 1, "max": 1,
                  "options": [{"name": "Half"}, {"name": "Whole", "price_delta": 500}]},
        ),
        201,
    )  # fmt: skip
    item = menu["item"]
    response = api.patch(
        f"/v1/admin/menu/items/{item['id']}",
        json={"modifier_group_ids": [menu["group"]["id"], other["id"]]},
        headers={"If-Match": f'"{item["version"]}"'},
    )
    assert response.status_code == 422, response.json()
    assert response.json()["errors"][0]["path"] == "modifier_group_ids[1]"
    half = ok(
        api.post(
            "/v1/admin/menu/groups",
            json={"name": "Crust", "min": 0, "max": 1, "options": [{"name": "Thin"}]},
        ),
        201,
    )
    linked = api.patch(
        f"/v1/admin/menu/items/{item['id']}",
        json={"modifier_group_ids": [menu["group"]["id"], half["id"]]},
    )
    assert linked.status_code == 200, linked.text
    renamed = api.patch(f"/v1/admin/menu/groups/{half['id']}", json={"name": "Size"})
    assert renamed.status_code == 409 and "Margherita" in renamed.json()["detail"]
