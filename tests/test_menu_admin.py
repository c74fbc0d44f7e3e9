"""Admin menu editing: CRUD as a manager sees it, optimistic concurrency, reorder, delete rules."""

from __future__ import annotations

from tests.conftest import execute
from tests.storefront_helpers import build_small_menu, ok, owner_api


def test_a_manager_builds_a_menu_and_reads_it_back(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    built = build_small_menu(api)
    item = built["item"]
    assert item["price"] == 950
    assert item["available"] is True
    assert item["windows"] is None
    assert item["modifier_group_ids"] == [built["group"]["id"]]
    assert item["image_status"] == "none"
    assert [o["name"] for o in built["group"]["options"]] == ["Regular", "Large"]

    menu = ok(api.get("/v1/admin/menu"))
    assert menu["published_version"] == 0
    assert [c["name"] for c in menu["categories"]] == ["Pizza"]
    assert [i["name"] for i in menu["categories"][0]["items"]] == ["Margherita"]
    assert [g["name"] for g in menu["modifier_groups"]] == ["Size"]

    response = api.get(f"/v1/admin/menu/items/{item['id']}")
    assert response.headers["etag"] == '"1"'
    assert ok(response)["name"] == "Margherita"


def test_created_rows_answer_201_with_location_and_etag(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    response = api.post("/v1/admin/menu/categories", json={"name": "Drinks", "visible": False})
    category = ok(response, 201)
    assert response.headers["location"] == f"/api/v1/admin/menu/categories/{category['id']}"
    assert response.headers["etag"] == '"1"'
    assert category == {**category, "name": "Drinks", "visible": False, "rank": 0, "version": 1}


def test_patch_changes_only_what_is_sent_and_bumps_the_version(
    client, tenants, auth_header
) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    windows = {"mon": [["11:00", "15:00"]], "fri": [["18:00", "02:00"]]}
    response = api.patch(
        f"/v1/admin/menu/items/{item['id']}", json={"price": 1050, "windows": windows}
    )
    changed = ok(response)
    assert changed["price"] == 1050
    assert changed["windows"] == windows
    assert changed["name"] == "Margherita"
    assert changed["version"] == 2
    assert response.headers["etag"] == '"2"'
    cleared = ok(api.patch(f"/v1/admin/menu/items/{item['id']}", json={"windows": None}))
    assert cleared["windows"] is None
    assert cleared["station"] == "pizza"


def test_stale_if_match_is_412_and_stale_expected_version_is_409(
    client, tenants, auth_header
) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    category = build_small_menu(api)["category"]
    path = f"/v1/admin/menu/categories/{category['id']}"
    ok(api.patch(path, json={"name": "Pizzas"}, headers={"If-Match": '"1"'}))

    stale = api.patch(path, json={"name": "Pies"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.content_type == "application/problem+json"
    assert "version 2" in stale.json()["detail"] and stale.json()["current_version"] == 2

    conflict = api.patch(path, json={"name": "Pies", "expected_version": 1})
    assert conflict.status_code == 409
    assert conflict.json()["current_version"] == 2

    unknown_tag = api.patch(path, json={"name": "Pies"}, headers={"If-Match": 'W/"2"'})
    assert unknown_tag.status_code == 412
    stale_list = api.patch(path, json={"name": "Pies"}, headers={"If-Match": '"1", "7"'})
    assert stale_list.status_code == 412
    assert ok(api.get(path))["name"] == "Pizzas"
    # A list matches when any strong ETag in it does (RFC 9110 §13.1.1; merged headers look so).
    ok(api.patch(path, json={"name": "Pizzas!"}, headers={"If-Match": '"1", W/"2", "2"'}))

    ok(api.patch(path, json={"name": "Pies", "expected_version": 3}))
    assert api.delete(path, params={"expected_version": "3"}).status_code == 409
    assert api.delete(f"/v1/admin/menu/options/{category['id']}").status_code == 404


def test_delete_rules(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    category_path = f"/v1/admin/menu/categories/{built['category']['id']}"
    item_path = f"/v1/admin/menu/items/{built['item']['id']}"
    group_path = f"/v1/admin/menu/groups/{built['group']['id']}"

    still_full = api.delete(category_path)
    assert still_full.status_code == 409
    assert "1 items" in still_full.json()["detail"]

    # Size allows 1 choice from 2 options: one can go, the last cannot.
    regular, large = built["group"]["options"]
    assert api.delete(f"/v1/admin/menu/options/{large['id']}").status_code == 204
    last = api.delete(f"/v1/admin/menu/options/{regular['id']}")
    assert last.status_code == 409
    assert "lower its max" in last.json()["detail"]

    # Deleting a group detaches it from its items, whose version moves on.
    assert api.delete(group_path, headers={"If-Match": '"2"'}).status_code == 204
    item = ok(api.get(item_path))
    assert item["modifier_group_ids"] == []
    assert item["version"] == 2
    assert api.get(group_path).status_code == 404

    assert api.delete(item_path, headers={"If-Match": '"2"'}).status_code == 204
    assert api.get(item_path).status_code == 404
    assert api.delete(category_path).status_code == 204
    assert ok(api.get("/v1/admin/menu")) == {
        "categories": [], "modifier_groups": [], "published_version": 0
    }  # fmt: skip
    # Soft delete: the rows stay for the orders that point at them.
    schema = api.tenant.schema_name
    rows = execute(f"select deleted_at from {schema}.menu_items where id = %s", [item["id"]])
    assert rows[0]["deleted_at"] is not None


def test_reorder_categories_items_and_options(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    drinks = ok(api.post("/v1/admin/menu/categories", json={"name": "Drinks"}), 201)
    pizza = built["category"]
    order = ok(
        api.post("/v1/admin/menu/categories/reorder", json={"ids": [drinks["id"], pizza["id"]]})
    )
    assert [c["name"] for c in order["categories"]] == ["Drinks", "Pizza"]
    menu = ok(api.get("/v1/admin/menu"))
    assert [c["name"] for c in menu["categories"]] == ["Drinks", "Pizza"]

    # A list built before someone added a category is stale: 409 naming what is missing.
    stale = api.post("/v1/admin/menu/categories/reorder", json={"ids": [pizza["id"]]})
    assert stale.status_code == 409
    assert stale.json()["missing"] == [drinks["id"]]
    twice = api.post("/v1/admin/menu/categories/reorder", json={"ids": [pizza["id"], pizza["id"]]})
    assert twice.status_code == 422

    second = ok(
        api.post(
            "/v1/admin/menu/items",
            json={"category_id": pizza["id"], "name": "Marinara", "price": 800},
        ),
        201,
    )
    assert second["rank"] == 1
    items = ok(
        api.post(
            f"/v1/admin/menu/categories/{pizza['id']}/items/reorder",
            json={"ids": [second["id"], built["item"]["id"]]},
        )
    )
    assert [i["name"] for i in items["items"]] == ["Marinara", "Margherita"]

    regular, large = built["group"]["options"]
    options = ok(
        api.post(
            f"/v1/admin/menu/groups/{built['group']['id']}/options/reorder",
            json={"ids": [large["id"], regular["id"]]},
        )
    )
    assert [o["name"] for o in options["options"]] == ["Large", "Regular"]


def test_moving_an_item_to_another_category_puts_it_last(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    specials = ok(api.post("/v1/admin/menu/categories", json={"name": "Specials"}), 201)
    ok(
        api.post(
            "/v1/admin/menu/items",
            json={"category_id": specials["id"], "name": "Calzone", "price": 1200},
        ),
        201,
    )
    moved = ok(
        api.patch(
            f"/v1/admin/menu/items/{built['item']['id']}", json={"category_id": specials["id"]}
        )
    )
    assert (moved["category_id"], moved["rank"]) == (specials["id"], 1)


def test_options_and_groups_edit(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    group = build_small_menu(api)["group"]
    added = ok(
        api.post(
            f"/v1/admin/menu/groups/{group['id']}/options",
            json={"name": "Family", "price_delta": 700},
        ),
        201,
    )
    assert (added["rank"], added["group_id"]) == (2, group["id"])
    changed = ok(api.patch(f"/v1/admin/menu/groups/{group['id']}", json={"max": 3, "min": 0}))
    assert (changed["min"], changed["max"], len(changed["options"])) == (0, 3, 3)
    # Adding an option changed the group's representation, so its version moved on too.
    assert changed["version"] == 3
    renamed = ok(api.patch(f"/v1/admin/menu/options/{added['id']}", json={"name": "XL"}))
    assert (renamed["name"], renamed["version"]) == ("XL", 2)
    assert ok(api.get(f"/v1/admin/menu/options/{added['id']}"))["name"] == "XL"


def test_staff_and_anonymous_callers_cannot_edit(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    staff = owner_api(client, tenant, auth_header, role="staff")
    assert staff.post("/v1/admin/menu/categories", json={"name": "X"}).status_code == 403
    anonymous = client.post(
        "/api/v1/admin/menu/categories", host=f"{tenant.slug}.stelly.test", json={"name": "X"}
    )
    assert anonymous.status_code == 401
    assert execute(f"select count(*) as n from {tenant.schema_name}.menu_categories")[0]["n"] == 0


def test_patch_with_unchanged_category_keeps_the_items_place(client, tenants, auth_header) -> None:
    # An edit form sends every field, the unchanged category too: that is not a move to the end.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    built = build_small_menu(api)
    category_id = built["category"]["id"]
    first = built["item"]
    second = ok(
        api.post(
            "/v1/admin/menu/items",
            json={"category_id": category_id, "name": "Marinara", "price": 800},
        ),
        201,
    )
    changed = ok(
        api.patch(
            f"/v1/admin/menu/items/{first['id']}",
            json={"category_id": category_id, "price": 990},
        )
    )
    assert changed["price"] == 990
    menu = ok(api.get("/v1/admin/menu"))
    names = [i["name"] for i in menu["categories"][0]["items"]]
    assert names == ["Margherita", "Marinara"], names
    assert changed["rank"] == 0
    assert second["rank"] == 1


def test_86_of_an_option_changes_its_groups_etag(client, tenants, auth_header) -> None:
    # The group's body lists its options' flags: a new flag is a new version and ETag.
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header, role="manager")
    built = build_small_menu(api)
    group_id, large = built["group"]["id"], built["group"]["options"][1]
    ok(api.post("/v1/admin/menu/publish"), 201)

    before = api.get(f"/v1/admin/menu/groups/{group_id}")
    assert [o["available"] for o in ok(before)["options"]] == [True, True]

    # Tonight the large bases run out: the kitchen's manager 86es the option.
    ok(
        api.post(
            "/v1/admin/menu/availability",
            json={"options": [{"id": large["id"], "available": False}]},
        )
    )
    after = api.get(f"/v1/admin/menu/groups/{group_id}")
    assert [o["available"] for o in ok(after)["options"]] == [True, False]
    assert after.headers["etag"] != before.headers["etag"]
