"""Placing an order through the storefront API: receipts, totals, rejections, reading it back."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import execute
from tests.order_fixtures import (  # noqa: F401
    ORDERS,
    Shop,
    closed_hours,
    module_shop_fixture,
    open_shop,
    order_access,
    shop_fixture,
)


def test_an_order_is_priced_by_the_server_and_answered_with_a_receipt(shop: Shop) -> None:
    body = shop.order_body(
        shop.pizza_line("Ham", "Olives", "Mushrooms", size="Large"),  # 900 + 300 + 120
        shop.cola_line(quantity=2),  # 500
        tip=100,
    )
    response = shop.post_order(body)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["ticket_number"] == "#0001"
    assert receipt["status"] == "placed" and receipt["version"] == 1
    # 20 % exclusive tax on 1820 = 364; the tip is added untaxed.
    assert receipt["totals"] == {
        "subtotal": 1820,
        "tax": 364,
        "tip": 100,
        "total": 2284,
        "currency": "EUR",
    }
    assert response.headers["location"] == f"{ORDERS}/{receipt['id']}"
    assert receipt["links"] == {
        "self": f"{ORDERS}/{receipt['id']}",
        "negotiate": f"{ORDERS}/{receipt['id']}/negotiate",
        "cancel": f"{ORDERS}/{receipt['id']}/cancel",
    }

    view = shop.customer_view(receipt)
    assert view.status_code == 200
    order = view.json()
    assert order["status"] == "placed" and order["totals"] == receipt["totals"]
    assert order["fulfilment"] == {"type": "pickup", "name": "Ada"}
    pizza, cola = order["lines"]
    assert (pizza["name"], pizza["unit_price"], pizza["line_total"]) == ("Margherita", 1320, 1320)
    assert [m["name"] for m in pizza["modifiers"]] == ["Large", "Ham", "Olives", "Mushrooms"]
    assert (cola["quantity"], cola["line_total"]) == (2, 500)
    assert [step["status"] for step in order["history"]] == ["placed"]


def test_inclusive_tax_is_the_part_of_the_price_that_is_tax(client, tenants, auth_header) -> None:
    shop = open_shop(
        client, tenants, auth_header, settings={"tax": {"rate_bp": 1900, "inclusive": True}}
    )
    receipt = shop.place(shop.order_body(shop.pizza_line(), shop.cola_line()))  # 900 + 250
    # 1150 * 1900 / 11900 = 183.61 → 184; the customer pays the menu prices.
    assert receipt["totals"] == {
        "subtotal": 1150,
        "tax": 184,
        "tip": 0,
        "total": 1150,
        "currency": "EUR",
    }


def test_a_restaurant_in_rupiah_prices_and_sells_an_ordinary_main(
    client, tenants, auth_header
) -> None:
    # IDR has 2 decimals: Rp 1.500.000,00 is 150,000,000 minor units (about US$90), over the
    # 10,000,000 the menu once capped every currency at.
    menu = {"categories": [{"name": "Mains", "items": [
        {"name": "Iga bakar", "price": 150_000_000, "modifier_groups": [
            {"name": "Nasi", "min": 0, "max": 1,
             "options": [{"name": "Nasi uduk", "price_delta": 2_000_000}]},
        ]},
    ]}]}  # fmt: skip
    settings = {"currency": "IDR", "tax": {"rate_bp": 1100, "inclusive": True}}
    shop = open_shop(client, tenants, auth_header, settings=settings, menu=menu)
    line = {"item_id": shop.menu.items["Iga bakar"], "quantity": 3,
            "option_ids": [shop.menu.option("Iga bakar/Nasi/Nasi uduk")]}  # fmt: skip
    receipt = shop.place(shop.order_body(line, tip=1_000_000_000))
    # 3 * 152,000,000 = 456,000,000; the tax inside it 456,000,000 * 1100 / 11100, rounded.
    assert receipt["totals"] == {
        "subtotal": 456_000_000, "tax": 45_189_189, "tip": 1_000_000_000,
        "total": 1_456_000_000, "currency": "IDR",
    }  # fmt: skip
    too_much = {"categories": [{"name": "Mains", "items": [
        {"name": "Gold", "price": 1_000_000_001}]}]}  # fmt: skip
    owner = {"host": shop.host, "headers": shop.owner()}
    refused = shop.client.post("/api/v1/admin/menu/import", json=too_much, **owner)
    assert refused.json()["errors"][0]["path"] == "categories[0].items[0].price"


def test_prices_sent_by_the_client_are_refused(shop: Shop) -> None:
    line = {**shop.pizza_line(), "price": 1}
    response = shop.post_order(shop.order_body(line))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "lines[0].price"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s, b: b["lines"][0].update(quantity=0), "lines[0].quantity"),
        (lambda s, b: b["lines"][0].update(quantity=100), "lines[0].quantity"),
        (lambda s, b: b["lines"][0].update(quantity="two"), "lines[0].quantity"),
        (lambda s, b: b.update(lines=[s.cola_line()] * 51), "lines"),
        (lambda s, b: b.update(lines=[]), "lines"),
        (lambda s, b: b.update(tip=-1), "tip"),
        # Money and counts are JSON integers: "5.00" must not become a 5-cent tip.
        (lambda s, b: b.update(tip="5.00"), "tip"),
        (lambda s, b: b.update(tip="500"), "tip"),
        (lambda s, b: b.update(tip=5.0), "tip"),
        (lambda s, b: b.update(tip=True), "tip"),
        (lambda s, b: b["lines"][0].update(quantity="2"), "lines[0].quantity"),
        (lambda s, b: b["lines"][0].update(quantity=2.0), "lines[0].quantity"),
        (lambda s, b: b["lines"][0].update(quantity=True), "lines[0].quantity"),
        (lambda s, b: b["lines"][0].update(item_id=str(uuid.uuid4())), "lines[0].item_id"),
        (lambda s, b: b["lines"][0].update(item_id=s.menu.items["Calzone"]), "lines[0].item_id"),
        (lambda s, b: b["lines"][0].update(item_id="x" * 65), "lines[0].item_id"),
        (
            lambda s, b: b["lines"][0]["option_ids"].append(s.menu.option("Cola/Ice/No ice")),
            "lines[0].option_ids[1]",
        ),
        (
            lambda s, b: b["lines"][0]["option_ids"].append(
                s.menu.option("Margherita/Toppings/Truffle")
            ),
            "lines[0].option_ids[1]",
        ),
        (lambda s, b: b["lines"][0].update(option_ids=[]), "lines[0].option_ids"),
        (
            lambda s, b: b["lines"][0]["option_ids"].append(s.menu.option("Margherita/Size/Large")),
            "lines[0].option_ids",
        ),
        (lambda s, b: b["fulfilment"].pop("phone"), "fulfilment.phone"),
        (lambda s, b: b["fulfilment"].update(phone="call me"), "fulfilment.phone"),
        (lambda s, b: b["fulfilment"].update(type="delivery"), "fulfilment.type"),
        (lambda s, b: b.update(fulfilment={"type": "dine_in"}), "fulfilment.table_token"),
        (
            lambda s, b: b.update(fulfilment={"type": "dine_in", "table_token": "abc"}),
            "fulfilment.table_token",
        ),
        (lambda s, b: b.update(coupon="FREE"), "coupon"),
        (lambda s, b: b["lines"][0].update(note="no\x00cheese"), "lines[0].note"),
        (lambda s, b: b["fulfilment"].update(name="Ada\x00"), "fulfilment.name"),
    ],
)
def test_rejections_name_the_field(module_shop: Shop, change, path) -> None:
    shop = module_shop
    count = f"select count(*) as n from {shop.schema}.orders"
    before = execute(count)[0]["n"]
    body = shop.order_body(shop.pizza_line())
    change(shop, body)
    response = shop.post_order(body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert path in [error["path"] for error in response.json()["errors"]]
    assert execute(count)[0]["n"] == before


def test_a_closed_restaurant_takes_no_orders(client, tenants, auth_header) -> None:
    shop = open_shop(client, tenants, auth_header, settings={"hours": closed_hours()})
    response = shop.post_order()
    assert response.status_code == 422
    assert "closed" in response.json()["errors"][0]["message"]


def test_a_restaurant_without_a_published_menu_takes_no_orders(
    client, tenants, auth_header
) -> None:
    tenant = tenants.create()
    response = client.post(
        ORDERS,
        host=f"{tenant.slug}.stelly.test",
        json={
            "lines": [{"item_id": str(uuid.uuid4()), "quantity": 1}],
            "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+4420794600"},
        },
    )
    assert response.status_code == 422
    assert "menu" in response.json()["errors"][0]["message"]


def test_malformed_and_mistyped_requests_are_client_errors(shop: Shop) -> None:
    broken = shop.client.post(
        ORDERS, host=shop.host, body=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    text = shop.client.post(
        ORDERS, host=shop.host, body=b"hi", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    bad_key = shop.client.post(
        ORDERS, host=shop.host, headers={"Idempotency-Key": "ü" * 3}, json=shop.order_body()
    )
    assert bad_key.status_code == 400


def test_an_order_is_only_readable_with_its_access_token(
    shop: Shop, tenants, client, auth_header
) -> None:
    receipt = shop.place()
    path = f"{ORDERS}/{receipt['id']}"
    assert shop.client.get(path, host=shop.host).status_code == 404
    wrong = shop.client.get(path, host=shop.host, headers={"Authorization": "Bearer " + "x" * 43})
    assert wrong.status_code == 404
    # A staff token of this very restaurant is no order token either.
    assert shop.client.get(path, host=shop.host, headers=shop.owner()).status_code == 404
    for name in ("self", "negotiate"):
        link = receipt["links"][name]
        opened = shop.client.get(link, host=shop.host, headers=order_access(receipt))
        assert opened.status_code == 200, (link, opened.text)
    assert shop.client.get(f"{ORDERS}/not-a-uuid", host=shop.host).status_code == 404
    # The same id and token on another restaurant's host is not that order.
    other = open_shop(client, tenants, auth_header)
    foreign = other.client.get(path, host=other.host, headers=order_access(receipt))
    assert foreign.status_code == 404


@pytest.mark.parametrize("suffix", ["", "/negotiate"])
def test_an_access_token_in_the_url_is_refused_with_where_it_goes(shop: Shop, suffix: str) -> None:
    """URLs end up in Front Door's and the host's request logs, so the token is only taken from
    Authorization; a right token in the query is a 400 naming the header, not a puzzling 404,
    and it is refused even beside a right header."""
    receipt = shop.place()
    path = f"{ORDERS}/{receipt['id']}{suffix}"
    for headers in ({}, order_access(receipt)):
        response = shop.client.get(
            path, host=shop.host, headers=headers, params={"access_token": receipt["access_token"]}
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "Authorization: Bearer" in response.json()["detail"]


def test_the_placed_event_is_in_the_outbox_with_the_order(shop: Shop) -> None:
    receipt = shop.place(shop.order_body(shop.pizza_line(), shop.cola_line()))
    # Beside the opening publish's 86 list, the order wrote one event.
    rows = execute(
        f"select type, order_id, groups, data from {shop.schema}.outbox "
        "where type <> 'menu.sold_out'"
    )
    assert len(rows) == 1
    (event,) = rows
    assert event["type"] == "order.placed" and str(event["order_id"]) == receipt["id"]
    assert event["groups"] == [
        f"t.{shop.slug}.kitchen",
        f"t.{shop.slug}.station.bar",
        f"t.{shop.slug}.station.oven",
        f"o.{receipt['id']}",
    ]
    assert event["data"]["ticket_number"] == "#0001"
    assert event["data"]["lines"][0]["allergens"] == ["gluten", "milk"]
    events = execute(f"select from_status, to_status, actor from {shop.schema}.order_events")
    assert events == [{"from_status": None, "to_status": "placed", "actor": "customer"}]


def test_an_item_86d_by_the_kitchen_cannot_be_ordered_until_it_is_back(shop: Shop) -> None:
    def set_cola(available: bool) -> None:
        response = shop.client.post(
            "/api/v1/admin/menu/availability",
            host=shop.host,
            headers=shop.owner(),
            json={"items": [{"id": shop.menu.items["Cola"], "available": available}]},
        )
        assert response.status_code == 200, response.text

    body = shop.order_body(shop.cola_line())
    assert shop.post_order(body).status_code == 201
    set_cola(False)
    refused = shop.post_order(body)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"path": "lines[0].item_id", "message": "Cola is not available now"}
    ]
    set_cola(True)
    assert shop.post_order(body).status_code == 201


@pytest.mark.parametrize("phone", ["(415) 555-0100", "030/1234567", "+49 (0)30 1234567"])
def test_a_phone_written_the_usual_local_way_is_accepted(shop: Shop, phone: str) -> None:
    body = shop.order_body(shop.cola_line())
    body["fulfilment"]["phone"] = phone
    response = shop.post_order(body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "phone",
    ["12345", "call me", "+", "1234567890123456", "555-0100 ext 7", "415\n555\n0100",
     "415\u001c5550100", "415\u2028555 0100"],
)  # fmt: skip
def test_a_phone_that_is_no_number_is_refused_in_words(shop: Shop, phone: str) -> None:
    body = shop.order_body(shop.cola_line())
    body["fulfilment"]["phone"] = phone
    response = shop.post_order(body)
    assert response.status_code == 422
    assert "must be a phone number" in response.json()["detail"]


def _many_toppings_menu(count: int) -> dict:
    return {
        "categories": [
            {
                "name": "Bowls",
                "items": [
                    {
                        "name": "Build your bowl",
                        "price": 500,
                        "modifier_groups": [
                            {
                                "name": "Toppings",
                                "min": 0,
                                "max": count,
                                "free_quantity": 0,
                                "options": [
                                    {"name": f"Topping {i:02d}", "price_delta": 10}
                                    for i in range(count)
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }


def test_a_line_takes_as_many_options_as_its_groups_allow(client, tenants, auth_header) -> None:
    # The group's max is the rule (the menu allows up to 50): no smaller cap of the order's own.
    shop = open_shop(client, tenants, auth_header, menu=_many_toppings_menu(40))
    item = shop.menu.items["Build your bowl"]
    toppings = [shop.menu.option(f"Build your bowl/Toppings/Topping {i:02d}") for i in range(31)]
    body = shop.order_body({"item_id": item, "quantity": 1, "option_ids": toppings})
    response = shop.post_order(body)
    assert response.status_code == 201, response.text
    # 500 + 31 * 10, 20 % exclusive tax.
    assert response.json()["totals"]["subtotal"] == 810


def test_menu_ids_in_upper_case_are_the_same_uuids(module_shop: Shop) -> None:
    # Swift's Codable sends UUID.uuidString, upper case: the same ids, as on every other route.
    shop = module_shop
    line = shop.pizza_line("Ham")
    # The admin API reads the same id in upper case as this item.
    admin = shop.client.get(
        f"/api/v1/admin/menu/items/{line['item_id'].upper()}", host=shop.host, headers=shop.owner()
    )
    assert admin.status_code == 200, admin.text
    line["item_id"] = line["item_id"].upper()
    line["option_ids"] = [option.upper() for option in line["option_ids"]]
    response = shop.post_order(shop.order_body(line))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u2060\ufeff"])
def test_a_pickup_name_that_shows_as_nothing_is_refused(module_shop: Shop, name: str) -> None:
    # The kitchen calls this name out: one that shows as nothing is refused, as menu names are.
    shop = module_shop
    body = shop.order_body(shop.pizza_line())
    body["fulfilment"]["name"] = name
    response = shop.post_order(body)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "path,value",
    [
        ("fulfilment.name", "A\x85da"),
        ("fulfilment.name", "Ada\x9b31m"),
        ("fulfilment.name", "Ada\u2028Lovelace"),
        ("lines[0].note", "no cheese\x9b2J"),
    ],
)
def test_order_text_with_c1_controls_is_refused(module_shop: Shop, path: str, value: str) -> None:
    # C1 controls (a terminal escape's start) have no place on a ticket; nor has a line
    # separator in the one-line pickup name.
    response = module_shop.post_order(module_shop.body_with_text(path, value))
    assert response.status_code == 422, response.text
    assert path in [error["path"] for error in response.json()["errors"]]
