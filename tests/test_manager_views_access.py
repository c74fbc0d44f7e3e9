"""Who reads the manager's day, an order's full record and the menu versions, and what crafted
paging parameters get: the role table of the README, from every kind of caller."""

from __future__ import annotations

import pytest

from tests.order_fixtures import Shop, module_shop_fixture, order_access  # noqa: F401
from tests.storefront_helpers import error_paths

ORDERS = "/api/v1/admin/orders"
VERSIONS = "/api/v1/admin/menu/versions"
PROBLEM = "application/problem+json"


def _manager_paths(shop: Shop) -> list[str]:
    order = shop.place()
    return [ORDERS, f"{ORDERS}/{order['id']}", VERSIONS, f"{VERSIONS}/1"]


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ("anonymous", 401),
        ("customer", 401),  # an order's access token: it opens the customer's view only
        ("staff", 403),
        ("platform_admin", 403),
        ("platform_admin_with_tenant", 403),
        ("owner_without_tenant", 403),
        ("manager", 200),
    ],
)
def test_the_managers_views_answer_each_caller_as_the_role_table_says(
    module_shop: Shop, auth_header, caller: str, status: int
) -> None:
    """401 with a Bearer challenge without a staff token, 403 for a role or restaurant that is
    not the manager's, and no order data in any refusal."""
    shop = module_shop
    order = shop.place()
    headers = {
        "anonymous": {},
        "customer": order_access(order),
        "staff": shop.staff(),
        "platform_admin": auth_header("platform_admin"),
        "platform_admin_with_tenant": auth_header("platform_admin", tenant=shop.slug),
        "owner_without_tenant": auth_header("owner"),
        "manager": shop.auth("manager", tenant=shop.slug),
    }[caller]
    for path in _manager_paths(shop):
        response = shop.client.get(path, host=shop.host, headers=headers)
        assert response.status_code == status, (path, response.text[:300])
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer"), path
        if status != 200:
            assert response.content_type == PROBLEM
            assert order["id"] not in response.text and "Ada" not in response.text


def test_an_orders_own_access_token_does_not_open_the_managers_record_of_it(
    module_shop: Shop,
) -> None:
    """The token opens the customer's view of its order, not the manager's record of the same
    order (prices, history, who moved it)."""
    shop = module_shop
    order = shop.place()
    response = shop.client.get(
        f"{ORDERS}/{order['id']}", host=shop.host, headers=order_access(order)
    )
    assert response.status_code == 401, response.text[:300]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.content_type == PROBLEM
    # The problem's `instance` quotes the URL asked for (the order id with it): no data beyond.
    assert "Ada" not in response.text and '"total' not in response.text


@pytest.mark.parametrize("host", ["stelly.test", "api.stelly.test"])
def test_a_restaurants_manager_routes_on_the_platform_host_serve_no_restaurant(
    module_shop: Shop, auth_header, host: str
) -> None:
    """The platform host is no restaurant: the manager's views are a 404 there for a platform
    admin and for a restaurant's own owner alike, naming none of its data."""
    shop = module_shop
    for headers in (auth_header("platform_admin"), shop.owner()):
        for path in _manager_paths(shop):
            response = shop.client.get(path, host=host, headers=headers)
            assert response.status_code == 404, (path, response.text[:300])
            assert response.content_type == PROBLEM
            assert shop.slug not in response.text and "Ada" not in response.text


def test_a_day_at_either_end_of_the_calendar_is_an_empty_day_not_an_error(
    module_shop: Shop,
) -> None:
    """Postgres's and Python's date ranges differ: year 1 and 9999 are empty days, a
    five-digit year a 422 naming query.date."""
    shop = module_shop
    for day in ("0001-01-01", "9999-12-31"):
        response = shop.client.get(
            ORDERS, host=shop.host, headers=shop.owner(), params={"date": day, "cursor": 2**31 - 1}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["date"], body["orders"], body["summary"]["orders"]) == (day, [], 0)
    far = shop.client.get(
        ORDERS, host=shop.host, headers=shop.owner(), params={"date": "99999-01-01"}
    )
    assert error_paths(far) == ["query.date"]


def test_a_cursor_from_another_list_is_refused_naming_it(module_shop: Shop) -> None:
    """The kitchen's next_cursor (`micros.number.id`) on the manager's day or the versions list
    is a 422 at query.cursor, never a page. (The reverse is in test_kitchen_ticket_pages.py.)"""
    shop = module_shop
    for _ in range(2):
        shop.place()
    kitchen = shop.client.get(
        "/api/v1/kitchen/orders", host=shop.host, headers=shop.staff(), params={"limit": 1}
    )
    assert kitchen.status_code == 200, kitchen.text
    ticket_cursor = kitchen.json()["next_cursor"]
    assert ticket_cursor and "." in ticket_cursor
    for path in (ORDERS, VERSIONS):
        wrong = shop.client.get(
            path, host=shop.host, headers=shop.owner(), params={"cursor": ticket_cursor}
        )
        assert error_paths(wrong) == ["query.cursor"], path


def test_a_version_number_in_another_scripts_digits_is_no_route(module_shop: Shop) -> None:
    """`{version:int}` takes ASCII digits, as Azure's route constraint does: Python's `\\d`
    and `int()` would read ARABIC-INDIC DIGIT ONE as version 1."""
    response = module_shop.client.get(
        f"{VERSIONS}/\u0661", host=module_shop.host, headers=module_shop.owner()
    )
    assert response.status_code == 404, response.text[:200]
