"""Finding a customer's orders to forget them (GET /api/v1/admin/customer-orders):
a customer writes "forget me: I'm Zoë Müller-Łukasz, +49 151 2345 6789, I ordered a few times",
and the manager must find every order of theirs, and nobody else's."""

from __future__ import annotations

import pytest
from psycopg import sql

from shared.db import tenant_transaction
from shared.orders.contact_retention import forget_old_phone_numbers
from tests.conftest import execute
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401 (fixtures)
from tests.storefront_helpers import ok

ZOE, ZOE_PHONE = "Zoë Müller-Łukasz", "+49 151 2345 6789"


def _find(shop: Shop, headers: dict[str, str] | None = None, **params: str):
    return shop.client.get(
        "/api/v1/admin/customer-orders",
        host=shop.host,
        headers=shop.auth("manager", tenant=shop.slug) if headers is None else headers,
        params=params,
    )


def _ids(shop: Shop, **params: str) -> list[str]:
    return [order["id"] for order in ok(_find(shop, **params))["orders"]]


def _pickup(shop: Shop, name: str, phone: str = ZOE_PHONE) -> dict:
    body = shop.order_body(shop.cola_line())
    body["fulfilment"] = {"type": "pickup", "name": name, "phone": phone}
    return shop.place(body)


def _forget(shop: Shop, order: dict) -> None:
    ok(
        shop.client.delete(
            f"/api/v1/admin/orders/{order['id']}/customer", host=shop.host, headers=shop.owner()
        )
    )


def _older_than_phones_are_kept(shop: Shop, order: dict) -> None:
    """The order placed 31 days ago, and the hourly purge has cleared its phone."""
    execute(
        sql.SQL("update {}.orders set placed_at = now() - interval '31 days' where id = %s").format(
            sql.Identifier(shop.schema)
        ),
        [order["id"]],
    )
    with tenant_transaction(shop.schema) as conn:
        assert forget_old_phone_numbers(conn) >= 1


@pytest.mark.parametrize(
    ("ordered_as", "searched"),
    [
        ("Zoe Muller", "Zoë Müller"),  # typed on a phone without accents; e-mail has them
        (ZOE, "Zoe Muller"),  # the manager's keyboard has no ë or ü
        ("Hans Strauß", "Strauss"),
        ("Ayşe Yılmaz", "Ayse Yilmaz"),  # noqa: RUF001
        ("Zoë  Müller-Łukasz", "Zoë Müller"),  # two spaces typed in the order
        (ZOE, "Zoë   Müller"),
    ],
)
def test_a_name_with_or_without_its_accents_or_extra_spaces_finds_the_customer(
    shop: Shop, ordered_as: str, searched: str
) -> None:
    order = _pickup(shop, ordered_as)
    assert _ids(shop, name=searched) == [order["id"]]


@pytest.mark.parametrize(
    ("ordered_as", "searched"),
    [
        ("+49 (0)151 2345 6789", ZOE_PHONE),  # a spelling the order form itself accepts
        ("+49 (0)151 2345 6789", "0049 151 23456789"),
        (ZOE_PHONE, "+49 (0)151 2345 6789"),
    ],
)
def test_a_phone_written_with_the_trunk_zero_in_brackets_is_found(
    shop: Shop, ordered_as: str, searched: str
) -> None:
    order = _pickup(shop, "Zoë", phone=ordered_as)
    assert _ids(shop, phone=searched) == [order["id"]]


def test_name_and_phone_together_still_find_her_orders_that_no_longer_have_a_phone(
    shop: Shop,
) -> None:
    """The README's own example searches with both; what the customer wrote gives both."""
    old = _pickup(shop, ZOE)
    shop.walk_to(old, "completed")
    _older_than_phones_are_kept(shop, old)
    dine_in = shop.dine_in_body("Window 4")
    dine_in["fulfilment"]["name"] = ZOE
    at_table = shop.place(dine_in)
    recent = _pickup(shop, ZOE)
    _pickup(shop, "Zoë Schmidt", phone="+49 170 1111 2222")  # another Zoë: not her

    found = _ids(shop, name="Zoë Müller", phone=ZOE_PHONE)

    assert found == [recent["id"], at_table["id"], old["id"]]


def test_a_phone_with_an_extension_is_found_or_refused_never_silently_missed(shop: Shop) -> None:
    order = _pickup(shop, ZOE)
    answer = _find(shop, phone=f"{ZOE_PHONE} ext. 12")
    if answer.status_code == 200:
        assert [o["id"] for o in answer.json()["orders"]] == [order["id"]]
    else:
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("application/problem+json")


# Pinned


def test_case_and_accents_aside_the_name_is_found(shop: Shop) -> None:
    first, second = _pickup(shop, ZOE), _pickup(shop, "zoë müller-łukasz")
    martin = _pickup(shop, "Zoe Martin", phone="+33 6 12 34 56 78")
    both = [second["id"], first["id"]]  # newest first
    for searched in ("ZOË MÜLLER", "müller-ŁUKASZ", " Zoë Müller "):
        assert _ids(shop, name=searched) == both, searched
    # A first name alone, accents aside, lists every Zoe: the manager picks by the rest.
    assert _ids(shop, name="Zoe\u0308") == [martin["id"], *both]


@pytest.mark.parametrize("searched", ["%", "_", "\\", "100%"])
def test_like_wildcards_in_a_name_are_plain_characters(shop: Shop, searched: str) -> None:
    odd = _pickup(shop, "100% Real_Name\\x")
    _pickup(shop, ZOE)
    assert _ids(shop, name=searched) == [odd["id"]]


def test_a_phone_in_any_spelling_finds_it_and_another_number_does_not(shop: Shop) -> None:
    order = _pickup(shop, ZOE)
    _pickup(shop, "Lena Weiß", phone="+49 151 2345 6780")  # one digit apart
    uk = _pickup(shop, "Tom Hill", phone="+44 151 2345 6789")  # same number, another country
    for spelling in (ZOE_PHONE, "0049 151 23456789", "+49-151-2345/6789"):
        assert _ids(shop, phone=spelling) == [order["id"]], spelling
    # A national spelling names no country: both are listed, the manager picks by the phone.
    assert _ids(shop, phone="0151 23456789") == [uk["id"], order["id"]]
    assert order["id"] not in _ids(shop, phone="+44 151 2345 6789")


def test_an_order_older_than_30_days_is_found_by_name_and_not_by_its_gone_phone(
    shop: Shop,
) -> None:
    old = _pickup(shop, ZOE)
    shop.walk_to(old, "completed")
    _older_than_phones_are_kept(shop, old)
    assert _ids(shop, name="Müller-Łukasz") == [old["id"]]
    assert _ids(shop, phone=ZOE_PHONE) == []


def test_a_forgotten_order_matches_no_name_and_no_phone(shop: Shop) -> None:
    forgotten = _pickup(shop, ZOE)
    shop.walk_to(forgotten, "completed")
    _forget(shop, forgotten)
    other = _pickup(shop, "Ana Silva", phone="+351 912 345 678")
    assert _ids(shop, name="a") == [other["id"]]
    assert _ids(shop, phone=ZOE_PHONE) == []


def test_past_100_the_answer_says_truncated_and_forgetting_brings_up_the_rest(
    shop: Shop,
) -> None:
    orders = [_pickup(shop, ZOE) for _ in range(101)]
    for order in orders:
        shop.walk_to(order, "cancelled")
    first = ok(_find(shop, phone=ZOE_PHONE))
    assert first["truncated"] is True
    assert [o["id"] for o in first["orders"]] == [o["id"] for o in reversed(orders[1:])]
    for order in first["orders"]:
        _forget(shop, order)
    rest = ok(_find(shop, phone=ZOE_PHONE))
    assert ([o["id"] for o in rest["orders"]], rest["truncated"]) == ([orders[0]["id"]], False)


def test_only_this_restaurants_owner_or_manager_searches(
    shop: Shop, tenants, client, auth_header
) -> None:
    _pickup(shop, ZOE)
    other = tenants.create()
    for headers, status in (
        (shop.staff(), 403),
        (auth_header("manager", tenant=other.slug), 403),
        ({}, 401),
    ):
        refused = _find(shop, headers=headers, name="Zoë")
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "Zoë" not in refused.text
    elsewhere = client.get(
        "/api/v1/admin/customer-orders",
        host=f"{other.slug}.stelly.test",
        headers=auth_header("manager", tenant=other.slug),
        params={"name": "Zoë"},
    )
    assert ok(elsewhere) == {"orders": [], "truncated": False}


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"phone": "+00 12 345"}, "query.phone"),  # 5 digits once the zeros go
        ({"name": "Zoë\x00"}, "query.name"),
        ({"name": "x" * 121}, "query.name"),
        ({"phone": "1" * 41}, "query.phone"),
    ],
)
def test_a_bad_search_is_a_422_problem_naming_the_field(
    shop: Shop, params: dict, path: str
) -> None:
    refused = _find(shop, **params)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["path"] for e in refused.json()["errors"]] == [path]
