"""Editing modifier groups, options and items one call at a time: defaults, limits, order, ETags."""

from __future__ import annotations

import uuid

from tests.storefront_helpers import build_small_menu, customer_api, error_paths, ok, owner_api


def _toppings(api, max_choices: int = 2) -> dict:
    body = {
        "name": "Toppings",
        "min": 0,
        "max": max_choices,
        "options": [{"name": "Basil", "default": True}, {"name": "Oil"}, {"name": "Chili"}],
    }
    return ok(api.post("/v1/admin/menu/groups", json=body), 201)


def test_defaults_up_to_the_groups_max_are_allowed(client, tenants, auth_header) -> None:
    """A group allowing two choices may have two defaults, added as a new option or by marking
    an existing one."""
    api = owner_api(client, tenants.create(), auth_header)
    group = _toppings(api)
    oil = group["options"][1]
    marked = ok(api.patch(f"/v1/admin/menu/options/{oil['id']}", json={"default": True}))
    assert marked["default"] is True
    other = _toppings(api)
    added = api.post(
        f"/v1/admin/menu/groups/{other['id']}/options", json={"name": "Olives", "default": True}
    )
    assert ok(added, 201)["default"] is True


def test_resending_an_options_own_default_is_not_a_second_default(
    client, tenants, auth_header
) -> None:
    """An edit form sending every field re-sends `default: true` for the group's one default."""
    api = owner_api(client, tenants.create(), auth_header)
    regular = build_small_menu(api)["group"]["options"][0]  # Size allows 1; Regular is it
    changed = api.patch(
        f"/v1/admin/menu/options/{regular['id']}", json={"name": "Medium", "default": True}
    )
    assert ok(changed)["name"] == "Medium"


def test_a_group_holds_at_most_50_options_however_they_are_added(
    client, tenants, auth_header
) -> None:
    """One by one, as at creation, the 51st option is refused."""
    api = owner_api(client, tenants.create(), auth_header)
    body = {"name": "Extras", "max": 1, "options": [{"name": f"o{i}"} for i in range(50)]}
    group = ok(api.post("/v1/admin/menu/groups", json=body), 201)
    more = api.post(f"/v1/admin/menu/groups/{group['id']}/options", json={"name": "o50"})
    assert more.status_code == 409, more.text
    assert len(ok(api.get(f"/v1/admin/menu/groups/{group['id']}"))["options"]) == 50


def test_editing_or_reordering_options_moves_the_groups_etag(client, tenants, auth_header) -> None:
    """The group's body lists its options, so an If-Match taken before an option edit fails."""
    api = owner_api(client, tenants.create(), auth_header)
    group = build_small_menu(api)["group"]
    path = f"/v1/admin/menu/groups/{group['id']}"
    regular, large = group["options"]
    before = api.get(path).headers["etag"]
    ok(api.patch(f"/v1/admin/menu/options/{large['id']}", json={"price_delta": 350}))
    renamed = api.get(path)
    assert renamed.headers["etag"] != before
    assert [o["price_delta"] for o in ok(renamed)["options"]] == [0, 350]
    ok(api.post(f"{path}/options/reorder", json={"ids": [large["id"], regular["id"]]}))
    reordered = api.get(path)
    assert reordered.headers["etag"] != renamed.headers["etag"]
    stale = api.patch(path, json={"name": "Sizes"}, headers={"If-Match": renamed.headers["etag"]})
    assert stale.status_code == 412


def test_patching_max_alone_is_checked_against_the_groups_min(client, tenants, auth_header) -> None:
    """Lowering max under the stored min is a 422 naming it, not a database error."""
    api = owner_api(client, tenants.create(), auth_header)
    body = {"name": "Sauces", "min": 2, "max": 3,
            "options": [{"name": "Aioli"}, {"name": "Ketchup"}, {"name": "Mayo"}]}  # fmt: skip
    group = ok(api.post("/v1/admin/menu/groups", json=body), 201)
    response = api.patch(f"/v1/admin/menu/groups/{group['id']}", json={"max": 1})
    assert response.status_code == 422, response.text
    assert (ok(api.get(f"/v1/admin/menu/groups/{group['id']}"))["min"], 2) == (2, 2)


def test_deleting_a_group_deletes_its_options(client, tenants, auth_header) -> None:
    """Its options are gone too, not readable or editable without their group."""
    api = owner_api(client, tenants.create(), auth_header)
    group = build_small_menu(api)["group"]
    assert api.delete(f"/v1/admin/menu/groups/{group['id']}").status_code == 204
    for option in group["options"]:
        assert api.get(f"/v1/admin/menu/options/{option['id']}").status_code == 404
    large = group["options"][1]["id"]
    assert api.patch(f"/v1/admin/menu/options/{large}", json={"name": "XL"}).status_code == 404


def test_an_item_created_or_moved_with_a_rank_takes_that_place(
    client, tenants, auth_header
) -> None:
    """A rank in the body places the item, created or moved to another category."""
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)  # Margherita at rank 0 in Pizza
    pizza = built["category"]["id"]
    body = {"category_id": pizza, "name": "Calzone", "price": 1200, "rank": 0}
    assert ok(api.post("/v1/admin/menu/items", json=body), 201)["rank"] == 0
    specials = ok(api.post("/v1/admin/menu/categories", json={"name": "Specials"}), 201)
    body = {"category_id": specials["id"], "name": "Lasagne", "price": 1400, "rank": 5}
    assert ok(api.post("/v1/admin/menu/items", json=body), 201)["rank"] == 5
    moved = ok(
        api.patch(
            f"/v1/admin/menu/items/{built['item']['id']}",
            json={"category_id": specials["id"], "rank": 1},
        )
    )
    assert (moved["category_id"], moved["rank"]) == (specials["id"], 1)
    menu = ok(api.get("/v1/admin/menu"))
    names = {c["name"]: [i["name"] for i in c["items"]] for c in menu["categories"]}
    assert names == {"Pizza": ["Calzone"], "Specials": ["Margherita", "Lasagne"]}


def test_an_items_groups_keep_the_order_they_were_linked_in(client, tenants, auth_header) -> None:
    """An order and its reverse: the links keep the order sent, not the ids' order."""
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    size = built["group"]["id"]
    crust = ok(
        api.post(
            "/v1/admin/menu/groups",
            json={"name": "Crust", "min": 0, "max": 1, "options": [{"name": "Thin"}]},
        ),
        201,
    )["id"]
    path = f"/v1/admin/menu/items/{built['item']['id']}"
    for order in ([size, crust], [crust, size]):
        linked = ok(api.patch(path, json={"modifier_group_ids": order}))
        assert linked["modifier_group_ids"] == order
        assert ok(api.get(path))["modifier_group_ids"] == order


def test_a_deleted_group_cannot_be_linked_to_an_item(client, tenants, auth_header) -> None:
    """A group deleted in another tab is a 404 when an item names it."""
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    group_id = built["group"]["id"]
    assert api.delete(f"/v1/admin/menu/groups/{group_id}").status_code == 204
    linked = api.patch(
        f"/v1/admin/menu/items/{built['item']['id']}", json={"modifier_group_ids": [group_id]}
    )
    assert linked.status_code == 404, linked.text
    body = {"category_id": built["category"]["id"], "name": "Calzone", "price": 1200,
            "modifier_group_ids": [group_id]}  # fmt: skip
    assert api.post("/v1/admin/menu/items", json=body).status_code == 404
    names = [i["name"] for i in ok(api.get("/v1/admin/menu"))["categories"][0]["items"]]
    assert names == ["Margherita"]


def test_a_category_created_with_rank_0_is_ranked_first(client, tenants, auth_header) -> None:
    """An explicit rank 0 is taken, not read as "no rank sent": the category goes first."""
    api = owner_api(client, tenants.create(), auth_header)
    ok(api.post("/v1/admin/menu/categories", json={"name": "Pizza"}), 201)
    first = ok(api.post("/v1/admin/menu/categories", json={"name": "Specials", "rank": 0}), 201)
    assert first["rank"] == 0


def test_reordered_categories_come_back_in_the_new_order(client, tenants, auth_header) -> None:
    """The reorder answer lists the categories in the order just given."""
    api = owner_api(client, tenants.create(), auth_header)
    antipasti = ok(api.post("/v1/admin/menu/categories", json={"name": "Antipasti"}), 201)
    zuppe = ok(api.post("/v1/admin/menu/categories", json={"name": "Zuppe"}), 201)
    order = ok(
        api.post("/v1/admin/menu/categories/reorder", json={"ids": [zuppe["id"], antipasti["id"]]})
    )
    assert [c["name"] for c in order["categories"]] == ["Zuppe", "Antipasti"]
    assert [c["rank"] for c in order["categories"]] == [0, 1]


def test_deleting_an_empty_category_with_a_stale_version_is_refused(
    client, tenants, auth_header
) -> None:
    """Deleting an empty category from a stale read is refused (412 for If-Match, 409 for
    ?expected_version) and the category stays."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Drinks"}), 201)
    path = f"/v1/admin/menu/categories/{category['id']}"
    ok(api.patch(path, json={"name": "Soft drinks"}))  # now version 2

    assert api.delete(path, headers={"If-Match": '"1"'}).status_code == 412
    stale = api.delete(path, params={"expected_version": "1"})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert ok(api.get(path))["name"] == "Soft drinks"


def test_a_deleted_option_leaves_the_draft_menu_and_the_published_one(
    client, tenants, auth_header
) -> None:
    """A deleted option leaves the draft menu and is not published."""
    api = owner_api(client, tenants.create(), auth_header)
    built = build_small_menu(api)
    regular, large = built["group"]["options"]
    assert api.delete(f"/v1/admin/menu/options/{large['id']}").status_code == 204

    menu = ok(api.get("/v1/admin/menu"))
    assert [o["name"] for o in menu["modifier_groups"][0]["options"]] == ["Regular"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    [group] = store["categories"][0]["items"][0]["modifier_groups"]
    assert [o["id"] for o in group["options"]] == [regular["id"]]


def test_a_new_category_goes_right_after_the_live_ones_not_after_deleted_ones(
    client, tenants, auth_header
) -> None:
    """A new category is ranked right after the live ones: deleted categories leave no gap."""
    api = owner_api(client, tenants.create(), auth_header)
    ok(api.post("/v1/admin/menu/categories", json={"name": "Pizza"}), 201)
    gone = ok(api.post("/v1/admin/menu/categories", json={"name": "Seasonal"}), 201)
    assert gone["rank"] == 1
    assert api.delete(f"/v1/admin/menu/categories/{gone['id']}").status_code == 204
    added = ok(api.post("/v1/admin/menu/categories", json={"name": "Drinks"}), 201)
    assert added["rank"] == 1


def test_a_reorder_leaves_the_version_of_rows_that_kept_their_place(
    client, tenants, auth_header
) -> None:
    """A reorder moves on only the versions of rows whose rank changed, so an editor's If-Match
    on a row that kept its place still holds."""
    api = owner_api(client, tenants.create(), auth_header)
    pizza, pasta, drinks = (
        ok(api.post("/v1/admin/menu/categories", json={"name": name}), 201)
        for name in ("Pizza", "Pasta", "Drinks")
    )
    ids = [pizza["id"], drinks["id"], pasta["id"]]
    order = ok(api.post("/v1/admin/menu/categories/reorder", json={"ids": ids}))
    versions = {c["name"]: c["version"] for c in order["categories"]}
    assert versions == {"Pizza": 1, "Drinks": 2, "Pasta": 2}
    path = f"/v1/admin/menu/categories/{pizza['id']}"
    ok(api.patch(path, json={"name": "Pizzas"}, headers={"If-Match": '"1"'}))


def test_an_items_station_is_cleared_with_null(client, tenants, auth_header) -> None:
    """`"station": null` takes a dish off its kitchen station."""
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    assert item["station"] == "pizza"
    cleared = ok(api.patch(f"/v1/admin/menu/items/{item['id']}", json={"station": None}))
    assert cleared["station"] is None
    assert ok(api.get(f"/v1/admin/menu/items/{item['id']}"))["station"] is None


def test_an_item_takes_at_most_twenty_modifier_groups(client, tenants, auth_header) -> None:
    """An item takes at most twenty modifier groups: 21 is a 422, twenty passes validation."""
    api = owner_api(client, tenants.create(), auth_header)
    category = ok(api.post("/v1/admin/menu/categories", json={"name": "Pizza"}), 201)
    body = {"category_id": category["id"], "name": "Soup", "price": 500}
    too_many = [str(uuid.uuid4()) for _ in range(21)]
    paths = error_paths(
        api.post("/v1/admin/menu/items", json={**body, "modifier_group_ids": too_many})
    )
    assert paths == ["modifier_group_ids"]
    # Twenty passes validation (and then names the first id this menu does not have).
    at_most = api.post("/v1/admin/menu/items", json={**body, "modifier_group_ids": too_many[:20]})
    assert at_most.status_code == 404


def test_an_import_of_2001_items_is_refused(client, tenants, auth_header) -> None:
    """An import of one item over the 2,000 limit is refused whole."""
    api = owner_api(client, tenants.create(), auth_header)
    item = {"name": "x", "price": 1}
    document = {
        "categories": [
            {"name": "A", "items": [item] * 1001},
            {"name": "B", "items": [item] * 1000},
        ]
    }
    assert error_paths(api.post("/v1/admin/menu/import", json=document)) == ["body"]
    assert ok(api.get("/v1/admin/menu"))["categories"] == []


def test_a_group_never_offers_two_options_a_customer_cannot_tell_apart(
    client, tenants, auth_header
) -> None:
    """Not in a new group, an imported one, an added option nor a rename; case aside."""
    api = owner_api(client, tenants.create(), auth_header)
    group = {"name": "Sauce", "max": 1, "options": [{"name": "Mayo"}, {"name": "mayo"}]}
    assert error_paths(api.post("/v1/admin/menu/groups", json=group)) == ["options[1].name"]
    menu = {"categories": [{"name": "Fries", "items": [
        {"name": "Chips", "price": 300, "modifier_groups": [group]}]}]}  # fmt: skip
    assert error_paths(api.post("/v1/admin/menu/import", json=menu)) == [
        "categories[0].items[0].modifier_groups[0].options[1].name"
    ]
    built = build_small_menu(api)["group"]  # Size: Regular, Large
    options = f"/v1/admin/menu/groups/{built['id']}/options"
    added = api.post(options, json={"name": "REGULAR"})
    assert added.status_code == 409 and "'Regular'" in added.json()["detail"], added.text
    large = built["options"][1]
    renamed = api.patch(f"/v1/admin/menu/options/{large['id']}", json={"name": "regular"})
    assert renamed.status_code == 409, renamed.text
    # Its own name in another case, and a name no other option has, are fine.
    ok(api.patch(f"/v1/admin/menu/options/{large['id']}", json={"name": "LARGE"}))
    ok(api.post(options, json={"name": "Small"}), 201)
    names = [o["name"] for o in ok(api.get(f"/v1/admin/menu/groups/{built['id']}"))["options"]]
    assert names == ["Regular", "LARGE", "Small"]
