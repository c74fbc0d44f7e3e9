"""What a customer's order must carry and what it may leave out, through the storefront API."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from shared import errors
from shared.orders.models import MAX_TIP, OrderIn
from shared.orders.placement import place_order
from tests.order_fixtures import MENU, Shop, module_shop_fixture, open_shop, shop_fixture  # noqa: F401
from tests.storefront_helpers import customer_api, ok


def test_an_optional_group_with_every_option_86d_leaves_the_item_orderable(shop: Shop) -> None:
    """A Cola whose optional Ice option is 86'd stays on sale without ice."""
    response = shop.client.post(
        "/api/v1/admin/menu/availability",
        host=shop.host,
        headers=shop.owner(),
        json={"options": [{"id": shop.menu.option("Cola/Ice/No ice"), "available": False}]},
    )
    assert response.status_code == 200, response.text
    menu = ok(customer_api(shop.client, shop.tenant).get("/v1/store/menu"))
    items = {item["name"]: item for c in menu["categories"] for item in c["items"]}
    assert items["Cola"]["available"] is True
    placed = shop.post_order(shop.order_body(shop.cola_line()))
    assert placed.status_code == 201, placed.text


def test_a_blank_note_is_no_note(shop: Shop) -> None:
    """A note of only spaces is no note on the ticket, not an empty one."""
    line = {**shop.cola_line(), "note": "   "}
    receipt = shop.place(shop.order_body(line))
    (viewed,) = shop.customer_view(receipt).json()["lines"]
    assert viewed["note"] is None


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s, b: b["fulfilment"].pop("name"), "fulfilment.name"),
        (lambda s, b: b["fulfilment"].update(table_token="abc"), "fulfilment.table_token"),
    ],
)
def test_pickup_needs_a_name_and_takes_no_table_code(module_shop: Shop, change, path) -> None:
    """A pickup needs the name to call out, and a table code belongs to dine-in only."""
    shop = module_shop
    body = shop.order_body(shop.cola_line())
    change(shop, body)
    response = shop.post_order(body)
    assert response.status_code == 422, response.text
    assert path in [error["path"] for error in response.json()["errors"]]


def test_a_dine_in_order_takes_no_phone_and_keeps_none(module_shop: Shop) -> None:
    """The staff bring the food to the table, so a phone on a dine-in order would be a number
    kept for 30 days with no use: it is refused, naming the field, and no order is written. The
    same order without the phone, with a name for the table, goes through and shows no phone."""
    shop = module_shop
    body = shop.dine_in_body("Window 2")
    body["fulfilment"].update(name="Ada", phone="+44 20 7946 0000")
    refused = shop.post_order(body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert [e["path"] for e in refused.json()["errors"]] == ["fulfilment.phone"]
    del body["fulfilment"]["phone"]
    receipt = shop.place(body)
    fulfilment = shop.customer_view(receipt).json()["fulfilment"]
    assert fulfilment == {"type": "dine_in", "name": "Ada", "table": "Window 2"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("fulfilment.name", "Ada\u202e"),  # the ticket number beside it would show as "2400#"
        ("fulfilment.name", "\u202dAda"),
        ("lines[0].note", "no cheese\u2066 please"),
        ("lines[0].note", "no nuts\u202b"),
    ],
)
def test_text_that_reorders_what_follows_it_is_refused(
    module_shop: Shop, path: str, value: str
) -> None:
    """A direction override or isolate left open in a name or note reorders the rest of the
    kitchen display's line; the customer is told which field and why."""
    response = module_shop.post_order(module_shop.body_with_text(path, value))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["path"] == path and "reorder" in error["message"]


def test_arabic_and_hebrew_names_with_direction_marks_are_taken(module_shop: Shop) -> None:
    """The marks (RLM, LRM, ALM) reorder nothing around them and are typed by Arabic and Hebrew
    keyboards: a name and a note with them go through as written."""
    shop = module_shop
    line = {**shop.pizza_line(), "note": "بدون بصل\u061c 2x"}
    body = shop.order_body(line)
    body["fulfilment"]["name"] = "מרים\u200f"
    receipt = shop.place(body)
    view = shop.customer_view(receipt).json()
    assert view["fulfilment"]["name"] == "מרים\u200f"
    assert view["lines"][0]["note"] == "بدون بصل\u061c 2x"


def test_line_and_fulfilment_problems_are_listed_together(module_shop: Shop) -> None:
    """One 422 names every problem: a customer fixing the line must not then meet a second
    one for the missing phone."""
    shop = module_shop
    body = shop.order_body({"item_id": shop.menu.items["Calzone"], "quantity": 1})
    body["fulfilment"].pop("phone")
    response = shop.post_order(body)
    assert response.status_code == 422, response.text
    paths = [error["path"] for error in response.json()["errors"]]
    assert "lines[0].item_id" in paths and "fulfilment.phone" in paths


def test_an_items_window_is_read_in_the_restaurants_zone_when_ordering(
    client, tenants, auth_header
) -> None:
    """Ordering reads an item's window in the restaurant's zone: a New York lunch dish is
    orderable at noon local time, not from 07:00."""
    menu = {"categories": [{"name": "Lunch", "items": [
        {"name": "Soup", "price": 500, "windows": {"mon": [["11:00", "15:00"]]}},
    ]}]}  # fmt: skip
    shop = open_shop(
        client, tenants, auth_header, settings={"timezone": "America/New_York"}, menu=menu
    )
    order = OrderIn.model_validate(
        shop.order_body({"item_id": shop.menu.items["Soup"], "quantity": 1})
    )

    def place_at(moment: str):
        return place_order(
            shop.tenant, order, idempotency_key=None, client_ip="10.0.0.1",
            now=datetime.fromisoformat(moment).astimezone(UTC),
        )  # fmt: skip

    # Monday 1 June 2026, New York on EDT (UTC-4): 12:00 local is 16:00 UTC.
    assert place_at("2026-06-01T12:00:00-04:00").status == 201
    # 10:00 local (14:00 UTC, inside the window if it were read in UTC): not yet.
    with pytest.raises(errors.ProblemError) as refused:
        place_at("2026-06-01T10:00:00-04:00")
    assert refused.value.status == 422
    assert [e.path for e in refused.value.errors] == ["lines[0].item_id"]


def test_a_tip_over_the_limit_is_refused_and_the_limit_itself_is_taken(shop: Shop) -> None:
    """The tip limit is inclusive: MAX_TIP is taken, one more is a 422 naming `tip`."""
    too_much = shop.post_order(shop.order_body(shop.pizza_line(), tip=MAX_TIP + 1))
    assert too_much.status_code == 422, too_much.text
    assert "tip" in [error["path"] for error in too_much.json()["errors"]]
    receipt = shop.place(shop.order_body(shop.pizza_line(), tip=MAX_TIP))
    assert receipt["totals"]["tip"] == MAX_TIP


def test_restaurants_at_the_same_menu_version_price_orders_from_their_own_menus(
    client, tenants, auth_header
) -> None:
    """The pricing cache is per restaurant: two restaurants both at menu version 1 each price
    a Margherita at their own price."""
    dearer = copy.deepcopy(MENU)
    dearer["categories"][0]["items"][0]["price"] = 1400
    shops = [open_shop(client, tenants, auth_header, menu=menu) for menu in (MENU, dearer)]
    totals = [shop.place(shop.order_body(shop.pizza_line()))["totals"] for shop in shops]
    assert [total["subtotal"] for total in totals] == [900, 1400]
