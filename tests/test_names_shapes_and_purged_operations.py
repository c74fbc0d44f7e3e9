"""Promises of the text rules, the look-alike name checks on every path, a purged deletion's
answer, and the API description's shapes and headers, each pinned where no test checked it."""

from __future__ import annotations

import copy
import uuid

import pytest

from tests.order_fixtures import MENU, Shop, shop_fixture  # noqa: F401 (fixtures)
from tests.platform_helpers import (
    PlatformHost,
    platform_host_fixture,  # noqa: F401  (the `host` fixture)
)
from tests.sold_out_helpers import kitchen_86
from tests.storefront_helpers import (  # noqa: F401 (fixtures)
    api_fixture,
    build_small_menu,
    error_paths,
    ok,
    rejecting_api_fixture,
)
from tests.test_openapi import resolve

# --- Text rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "control", [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
)
def test_each_embedding_override_and_isolate_control_is_refused(rejecting_api, control) -> None:
    """The refusal names all nine, U+202A to U+202E and U+2066 to U+2069, and each of them is a 422
    in a one-line name and in a note-like description."""
    refused = rejecting_api.post("/v1/admin/menu/categories", json={"name": f"Soup{control}s"})
    assert error_paths(refused) == ["name"], (hex(ord(control)), refused.text)
    assert "reorder" in refused.text
    item = {"category_id": str(uuid.uuid4()), "name": "Soup", "price": 500,
            "description": f"Hot{control} and sour"}  # fmt: skip
    refused = rejecting_api.post("/v1/admin/menu/items", json=item)
    assert error_paths(refused) == ["description"], (hex(ord(control)), refused.text)


@pytest.mark.parametrize(
    ("first", "second"),
    [("Extra cheese", "Extra  cheese"), ("Regular", "\uff32egular"), ("Large", "Lar\u200bge")],
)
def test_options_that_read_as_one_name_in_a_new_group_are_refused(
    rejecting_api, first: str, second: str
) -> None:
    """README says one name is one name as a reader sees it, single spaces, NFKC and invisible
    characters aside, so a new group offering both is a 422 at the second option's name."""
    group = {"name": "Size", "min": 0, "max": 1, "options": [{"name": first}, {"name": second}]}
    refused = rejecting_api.post("/v1/admin/menu/groups", json=group)
    assert error_paths(refused) == ["options[1].name"], refused.text


def test_linking_two_groups_that_read_as_one_name_is_refused(api) -> None:
    """The names "Size" and "SIZE", "Si<ZERO WIDTH SPACE>ze" or "<FULLWIDTH S>ize" are one picker
    on a storefront, so linking both to one item is the 422 at the second id, as the import
    refuses them."""
    menu = build_small_menu(api)  # Margherita with the group "Size"
    for look_alike in ("SIZE", "Si\u200bze", "\uff33ize"):
        group = {"name": look_alike, "min": 0, "max": 1, "options": [{"name": "Half"}]}
        twin = ok(api.post("/v1/admin/menu/groups", json=group), 201)
        refused = api.patch(
            f"/v1/admin/menu/items/{menu['item']['id']}",
            json={"modifier_group_ids": [menu["group"]["id"], twin["id"]]},
        )
        assert error_paths(refused) == ["modifier_group_ids[1]"], (look_alike, refused.text)


def test_renaming_a_group_into_a_stored_look_alike_on_its_item_is_refused(api) -> None:
    """The item already has a group stored as "<FULLWIDTH S>ize"; renaming its other group to plain
    "Size" would show two "Size" pickers, so it is a 409 and the name is unchanged."""
    menu = build_small_menu(api)
    wide = ok(api.patch(f"/v1/admin/menu/groups/{menu['group']['id']}",
                        json={"name": "\uff33ize"}))  # fmt: skip
    assert wide["name"] == "\uff33ize"
    crust = ok(api.post("/v1/admin/menu/groups", json={
        "name": "Crust", "min": 0, "max": 1, "options": [{"name": "Thin"}]}), 201)  # fmt: skip
    ok(api.patch(f"/v1/admin/menu/items/{menu['item']['id']}",
                 json={"modifier_group_ids": [menu["group"]["id"], crust["id"]]}))  # fmt: skip
    renamed = api.patch(f"/v1/admin/menu/groups/{crust['id']}", json={"name": "Size"})
    assert renamed.status_code == 409, renamed.text
    assert ok(api.get(f"/v1/admin/menu/groups/{crust['id']}"))["name"] == "Crust"


def test_adding_an_option_that_reads_as_a_stored_one_is_refused(api) -> None:
    """With "Regular" and "<FULLWIDTH L>arge" stored, adding "Large" or renaming "Regular" to
    "Large" shows two "Large" to a customer: 409, nothing changed."""
    group = ok(api.post("/v1/admin/menu/groups", json={
        "name": "Size", "min": 0, "max": 1,
        "options": [{"name": "Regular"}, {"name": "\uff2carge"}]}), 201)  # fmt: skip
    added = api.post(f"/v1/admin/menu/groups/{group['id']}/options", json={"name": "Large"})
    assert added.status_code == 409, added.text
    regular = group["options"][0]
    renamed = api.patch(f"/v1/admin/menu/options/{regular['id']}", json={"name": "Large"})
    assert renamed.status_code == 409, renamed.text
    names = [o["name"] for o in ok(api.get(f"/v1/admin/menu/groups/{group['id']}"))["options"]]
    assert names == ["Regular", "\uff2carge"]


def test_an_import_carries_an_86_to_the_dish_of_a_look_alike_name(shop: Shop) -> None:
    """README says the import matches names across imports as a reader sees them. The cook 86es the
    Cola; the manager's spreadsheet spells it with a zero-width space pasted in ("Co<ZWSP>la",
    shown as "Cola"): after the import and publish the Cola is still off for customers."""
    ok(kitchen_86(shop, {"items": [{"id": shop.menu.items["Cola"], "available": False}]}))
    sheet = copy.deepcopy(MENU)
    [cola] = [i for c in sheet["categories"] for i in c["items"] if i["name"] == "Cola"]
    cola["name"] = "Co\u200bla"
    manager = {"host": shop.host, "headers": shop.owner()}
    ok(shop.client.post("/api/v1/admin/menu/import", **manager, json=sheet))
    ok(shop.client.post("/api/v1/admin/menu/publish", **manager), 201)
    menu = ok(shop.client.get("/api/v1/store/menu", host=shop.host))
    [shown] = [i for c in menu["categories"] for i in c["items"] if i["name"] == "Co\u200bla"]
    assert shown["available"] is False, shown


# --- Purged platform operations --------------------------------------------------------------


@pytest.mark.devhost
def test_a_purged_deletion_gives_no_creation_time(host: PlatformHost, tenants) -> None:
    """README says a purged deletion answers with "no creation time for a deletion", as the
    restaurant's own creation is not when its deletion began; a purged provisioning gives the
    restaurant's creation time."""
    deleted, active = tenants.create(status="deleted"), tenants.create()
    gone = host.operation(f"deprovision-{deleted.slug}")
    assert (gone["name"], gone["status"]) == ("deprovision_tenant", "completed")
    assert gone["created_at"] is None, gone
    made = host.operation(f"provision-{active.slug}")
    assert made["created_at"] is not None and made["updated_at"] is None, made


def test_the_api_description_leaves_out_the_test_only_failure_injection(document) -> None:
    """README says the published API description leaves `fail_at_step` out; a client generated from
    it must not offer a production admin a field that is refused outside development. The body's
    other fields stay described."""
    post = document["paths"]["/v1/platform/tenants"]["post"]
    schema = resolve(document, post["requestBody"]["content"]["application/json"]["schema"])
    assert {"slug", "owner_email", "display_name"} <= set(schema["properties"]), schema
    assert "fail_at_step" not in schema["properties"]
    assert "fail_at_step" not in str(document)


# --- The API description's answer shapes -----------------------------------------------------


def _shape_names() -> list[str]:
    from pydantic import BaseModel

    from shared import store_answer_shapes
    from shared.events import shapes as event_shapes
    from shared.orders import answer_shapes

    return sorted({
        name for module in (answer_shapes, store_answer_shapes, event_shapes)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, BaseModel)
        and value.__module__ == module.__name__ and not name.startswith("_")
    })  # fmt: skip


def test_every_answer_shape_is_closed_in_the_description(document) -> None:
    """shared/answer_shape.py promises every shape is closed (`additionalProperties: false`),
    which makes a field added to a view without its shape fail tests/test_openapi_answers.py."""
    schemas = document["components"]["schemas"]
    described = [name for name in _shape_names() if name in schemas]
    assert {"CustomerOrderOut", "KitchenTicketOut", "StoreConfigOut", "PlacedData"} <= set(
        described
    ), described
    open_ones = [n for n in described if schemas[n].get("additionalProperties") is not False]
    assert open_ones == []


def test_an_orders_fulfilment_type_and_status_are_the_ones_it_can_have(document) -> None:
    """A storefront generated from the description must not grow a case for a fulfilment the API
    never answers; the status is one of the state machine's, a placed event's only "placed"."""
    from shared.orders.state_machine import STATUSES

    schemas = document["components"]["schemas"]
    for name in ("CustomerFulfilmentOut", "StaffFulfilmentOut"):
        assert set(schemas[name]["properties"]["type"]["enum"]) == {"pickup", "dine_in"}, name
    for name in ("CustomerOrderOut", "KitchenTicketOut", "OrderMoveOut"):
        assert set(schemas[name]["properties"]["status"]["enum"]) == set(STATUSES), name
    placed = schemas["PlacedData"]["properties"]["status"]
    assert placed.get("const") == "placed" or placed.get("enum") == ["placed"], placed


def test_an_orders_head_and_a_ticket_page_always_carry_every_field(document) -> None:
    """Every view of an order carries `ready_by`, null until the kitchen promises a time, and a
    page of tickets its `next_cursor`, null on the last page; a client may read them without
    checking."""
    schemas = document["components"]["schemas"]
    for name in ("CustomerOrderOut", "KitchenTicketOut", "OrderMoveOut", "KitchenTicketsOut"):
        schema = schemas[name]
        assert set(schema["required"]) == set(schema["properties"]), name


def test_the_replay_header_is_described_as_the_one_value_it_takes(document) -> None:
    """README says a replay carries `Idempotent-Replayed: true`; the order's 201 declares that
    header as exactly that value, described as the mark of a replay."""
    answer = resolve(document, document["paths"]["/v1/store/orders"]["post"]["responses"]["201"])
    [name] = [n for n in answer["headers"] if n.lower() == "idempotent-replayed"]
    header = resolve(document, answer["headers"][name])
    assert header["schema"] == {"type": "string", "enum": ["true"]}, header
    assert "Idempotency-Key" in header["description"], header


# --- Messages --------------------------------------------------------------------------------


def test_a_price_delta_refusal_shows_minor_units_in_every_digit_count(rejecting_api) -> None:
    """An option's surcharge typed as 1.5 by a Tokyo or Kuwaiti manager is refused with how yen (no
    digits) and fils (three digits) are written, not only cents."""
    group = {"name": "Size", "min": 0, "max": 1,
             "options": [{"name": "Large", "price_delta": 1.5}]}  # fmt: skip
    refused = rejecting_api.post("/v1/admin/menu/groups", json=group)
    assert error_paths(refused) == ["options[0].price_delta"], refused.text
    [message] = [e["message"] for e in refused.json()["errors"]]
    assert "150 JPY is 150" in message and "1.500 KWD is 1500" in message, message
