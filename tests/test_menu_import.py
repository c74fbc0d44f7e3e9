"""Bulk import: hundreds of items in one transaction, all or nothing, replacing the draft."""

from __future__ import annotations

import json

from bench.storefront_data import menu_document, seed_menu
from tests.conftest import add_refusal, execute
from tests.storefront_helpers import build_small_menu, customer_api, error_paths, ok, owner_api


def _unshared(document: dict) -> dict:
    """A copy whose items no longer share group dicts (deepcopy would keep the sharing)."""
    return json.loads(json.dumps(document))


def _live_count(schema: str, table: str) -> int:
    rows = execute(f"select count(*) as n from {schema}.{table} where deleted_at is null")
    return rows[0]["n"]


def test_import_of_500_items_lands_in_one_request(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    document = menu_document(items=500, groups=30)
    counts = ok(api.post("/v1/admin/menu/import", json=document))
    assert counts == {
        "categories": 8, "items": 500, "modifier_groups": 30,
        "options": sum(4 + i % 5 for i in range(30)), "replaced_items": 0, "photos_kept": 0,
        "sold_out_kept": 0,
    }  # fmt: skip
    menu = ok(api.get("/v1/admin/menu"))
    items = [item for category in menu["categories"] for item in category["items"]]
    assert len(items) == 500
    first = menu["categories"][0]["items"][0]
    assert (first["name"], first["price"], first["station"]) == ("Dish 1", 450, "grill")
    assert len(first["modifier_group_ids"]) == 2
    # Identical group definitions became one shared group.
    assert len(menu["modifier_groups"]) == 30
    uses = [g for item in items for g in item["modifier_group_ids"]]
    assert {g["id"] for g in menu["modifier_groups"]} == set(uses)
    assert min(uses.count(g["id"]) for g in menu["modifier_groups"]) > 1


def test_one_bad_item_rejects_the_whole_import(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    document = _unshared(menu_document(items=500, groups=30))
    document["categories"][3]["items"][41]["price"] = -5
    document["categories"][5]["items"][7]["allergens"] = ["shellfish"]
    paths = error_paths(api.post("/v1/admin/menu/import", json=document))
    assert paths == ["categories[3].items[41].price", "categories[5].items[7].allergens[0]"]
    # Validated whole before anything is written: the earlier draft is still the whole menu.
    schema = api.tenant.schema_name
    assert _live_count(schema, "menu_items") == 1
    assert execute(f"select count(*) as n from {schema}.menu_items")[0]["n"] == 1


def test_an_import_that_fails_while_writing_leaves_the_earlier_draft_whole(
    client, tenants, auth_header
) -> None:
    """One transaction: when the database refuses one of the new items after the old draft was
    retired (here a CHECK added to this restaurant's schema), nothing of the import stays and
    the earlier draft is still the whole menu."""
    api = owner_api(client, tenants.create(), auth_header)
    build_small_menu(api)
    add_refusal(api.tenant.schema_name, "menu_items", "price <> 4242")
    document = {"categories": [{"name": "Bowls", "items": [
        {"name": "Poke", "price": 1290}, {"name": "Refused", "price": 4242},
    ]}]}  # fmt: skip
    response = api.post("/v1/admin/menu/import", json=document)
    assert response.status_code == 409, response.text  # a CHECK the schema has: a conflict
    menu = ok(api.get("/v1/admin/menu"))
    assert [(c["name"], [i["name"] for i in c["items"]]) for c in menu["categories"]] == [
        ("Pizza", ["Margherita"])
    ]
    assert [g["name"] for g in menu["modifier_groups"]] == ["Size"]


def test_nested_group_rules_name_their_path(client, tenants, auth_header) -> None:
    api = owner_api(client, tenants.create(), auth_header)
    document = _unshared(menu_document(items=20, groups=5))
    document["categories"][2]["items"][1]["modifier_groups"][0]["max"] = 99
    paths = error_paths(api.post("/v1/admin/menu/import", json=document))
    assert paths == ["categories[2].items[1].modifier_groups[0].max"]
    twice = menu_document(items=1, groups=1)
    group = twice["categories"][0]["items"][0]["modifier_groups"][0]
    twice["categories"][0]["items"][0]["modifier_groups"] = [group, group]
    paths = error_paths(api.post("/v1/admin/menu/import", json=twice))
    assert paths == ["categories[0].items[0].modifier_groups[1].name"]
    too_many = {"categories": [{"name": "A", "items": [{"name": "x", "price": 1}] * 1001}] * 2}
    assert error_paths(api.post("/v1/admin/menu/import", json=too_many)) == ["body"]


def test_import_replaces_the_draft_but_not_the_published_menu(client, tenants, auth_header) -> None:
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    build_small_menu(api)
    ok(api.post("/v1/admin/menu/publish"), 201)
    document = {
        "categories": [
            {
                "name": "Bowls",
                "items": [
                    {
                        "name": "Poke",
                        "price": 1290,
                        "allergens": ["fish", "soy", "sesame"],
                        "dietary": ["gluten_free"],
                        "windows": {"mon": [["11:00", "15:00"]]},
                        "modifier_groups": [
                            {
                                "name": "Base",
                                "min": 1,
                                "max": 1,
                                "options": [{"name": "Rice", "default": True}, {"name": "Salad"}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    counts = ok(api.post("/v1/admin/menu/import", json=document))
    assert counts["replaced_items"] == 1
    menu = ok(api.get("/v1/admin/menu"))
    assert [c["name"] for c in menu["categories"]] == ["Bowls"]
    poke = menu["categories"][0]["items"][0]
    assert poke["windows"] == {"mon": [["11:00", "15:00"]]}
    assert [g["name"] for g in menu["modifier_groups"]] == ["Base"]
    assert menu["modifier_groups"][0]["options"][0]["default"] is True
    # Customers still see the published menu until the next publish.
    store = ok(customer_api(client, tenant).get("/v1/store/menu"))
    assert [i["name"] for c in store["categories"] for i in c["items"]] == ["Margherita"]


def test_seed_menu_builds_the_benchmark_menu_through_the_api(client, tenants, identity) -> None:
    tenant = tenants.create()
    token = identity.mint(role="owner", tenant=tenant.slug)
    seeded = seed_menu(client, host=f"{tenant.slug}.stelly.test", token=token)
    assert seeded["import"]["items"] == 120
    assert seeded["import"]["modifier_groups"] == 30
    assert seeded["publish"]["version"] == 1
    store = ok(customer_api(client, tenant).get("/v1/store/menu"))
    assert sum(len(c["items"]) for c in store["categories"]) == 120


def _give_photo(api, item_id: str, folder: str) -> dict:
    """A finished photo on a draft item, as the image pipeline leaves it."""
    image = {"renditions": [{"width": 320, "url": f"http://127.0.0.1/assets/{folder}/320.webp"}]}
    execute(
        f"update {api.tenant.schema_name}.menu_items set image = %s::jsonb, image_status = 'ready'"
        " where id = %s",
        [json.dumps(image), item_id],
    )
    return image


def _item(api, category_id: str, name: str, price: int = 500) -> dict:
    body = {"category_id": category_id, "name": name, "price": price}
    return ok(api.post("/v1/admin/menu/items", json=body), 201)


def test_an_import_gives_same_named_dishes_their_photos_in_menu_order(
    client, tenants, auth_header
) -> None:
    """README: when a category lists one name several times, the first keeps the first's photo
    and so on."""
    api = owner_api(client, tenants.create(), auth_header)
    specials = ok(api.post("/v1/admin/menu/categories", json={"name": "Specials"}), 201)
    first = _give_photo(api, _item(api, specials["id"], "Soup of the day")["id"], "tomato")
    second = _give_photo(api, _item(api, specials["id"], "Soup of the day")["id"], "leek")
    document = {"categories": [{"name": "Specials", "items": [
        {"name": "Soup of the day", "price": 550}, {"name": "Soup of the day", "price": 650},
    ]}]}  # fmt: skip
    counts = ok(api.post("/v1/admin/menu/import", json=document))
    assert (counts["replaced_items"], counts["photos_kept"]) == (2, 2)
    items = ok(api.get("/v1/admin/menu"))["categories"][0]["items"]
    assert [(i["price"], i["image"]) for i in items] == [(550, first), (650, second)]


def test_a_deleted_dish_lends_its_photo_to_no_imported_one(client, tenants, auth_header) -> None:
    """A dish the manager deleted is not one the import replaces: a new dish of its name starts
    without a photo."""
    api = owner_api(client, tenants.create(), auth_header)
    item = build_small_menu(api)["item"]
    _give_photo(api, item["id"], "old-margherita")
    assert api.delete(f"/v1/admin/menu/items/{item['id']}").status_code == 204
    document = {"categories": [{"name": "Pizza", "items": [{"name": "Margherita", "price": 990}]}]}
    counts = ok(api.post("/v1/admin/menu/import", json=document))
    assert (counts["replaced_items"], counts["photos_kept"]) == (0, 0)
    imported = ok(api.get("/v1/admin/menu"))["categories"][0]["items"][0]
    assert (imported["image"], imported["image_status"]) == (None, "none")


def test_an_import_keeps_the_documents_order_and_visibility(client, tenants, auth_header) -> None:
    """Categories, items and options keep the document's order, and a hidden category stays
    hidden."""
    api = owner_api(client, tenants.create(), auth_header)
    document = {"categories": [
        {"name": "Staff meals", "visible": False, "items": [{"name": "Family meal", "price": 0}]},
        {"name": "Mains", "items": [
            {"name": "Zucchini fritti", "price": 700},
            {"name": "Arancini", "price": 800, "modifier_groups": [
                {"name": "Side", "min": 1, "max": 1,
                 "options": [{"name": "Salad"}, {"name": "Fries"}]},
            ]},
        ]},
    ]}  # fmt: skip
    ok(api.post("/v1/admin/menu/import", json=document))
    menu = ok(api.get("/v1/admin/menu"))
    assert [(c["name"], c["visible"]) for c in menu["categories"]] == [
        ("Staff meals", False),
        ("Mains", True),
    ]
    assert [i["name"] for i in menu["categories"][1]["items"]] == ["Zucchini fritti", "Arancini"]
    assert [o["name"] for o in menu["modifier_groups"][0]["options"]] == ["Salad", "Fries"]
    ok(api.post("/v1/admin/menu/publish"), 201)
    store = ok(customer_api(client, api.tenant).get("/v1/store/menu"))
    assert [c["name"] for c in store["categories"]] == ["Mains"]


def test_an_import_retires_the_old_groups_options(client, tenants, auth_header) -> None:
    """The replaced groups' options go with them."""
    api = owner_api(client, tenants.create(), auth_header)
    regular = build_small_menu(api)["group"]["options"][0]
    document = {"categories": [{"name": "Bowls", "items": [{"name": "Poke", "price": 1290}]}]}
    ok(api.post("/v1/admin/menu/import", json=document))
    assert api.get(f"/v1/admin/menu/options/{regular['id']}").status_code == 404
    renamed = api.patch(f"/v1/admin/menu/options/{regular['id']}", json={"name": "X"})
    assert renamed.status_code == 404


def test_an_option_only_the_storefront_still_has_can_be_86d(client, tenants, auth_header) -> None:
    """After an import replaced the draft, the live menu's options are still sold and must still
    be 86-able."""
    tenant = tenants.create()
    api = owner_api(client, tenant, auth_header)
    large = build_small_menu(api)["group"]["options"][1]
    ok(api.post("/v1/admin/menu/publish"), 201)
    document = {"categories": [{"name": "Bowls", "items": [{"name": "Poke", "price": 1290}]}]}
    ok(api.post("/v1/admin/menu/import", json=document))
    response = api.post(
        "/v1/admin/menu/availability", json={"options": [{"id": large["id"], "available": False}]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["options"] == [
        {"id": large["id"], "available": False, "sold_out_until": None, "version": None}
    ]
    store = ok(customer_api(client, tenant).get("/v1/store/menu"))
    options = store["categories"][0]["items"][0]["modifier_groups"][0]["options"]
    assert [o["available"] for o in options] == [True, False]
