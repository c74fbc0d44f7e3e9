"""Refusals a person can act on: a restaurant manager (admin app), a customer (storefront) or an
integrating developer is told what is wrong, where, and what to do, in JSON's words rather than
pydantic's (functions/validation_messages.py)."""

from __future__ import annotations

from typing import Any

import pytest

from devhost.testclient import TestClient, TestResponse
from shared.orders.models import MAX_LINES
from tests.conftest import IDENTITY
from tests.order_fixtures import Shop, module_shop_fixture  # noqa: F401
from tests.storefront_helpers import problem

PYDANTIC_PHRASES = (
    "Input should be",
    "Extra inputs are not permitted",
    "after validation",
    "instance of",
    "String should have",
    "Tuple should",
    "Value error",
)


def _message(response: TestResponse, path: str, status: int = 422) -> str:
    """The errors[].message for path (the one a client shows next to that field)."""
    body = problem(response, status)
    found = [e["message"] for e in body.get("errors", []) if e["path"] == path]
    assert found, body
    return found[0]


def _no_pydantic(message: str) -> None:
    leaked = [phrase for phrase in PYDANTIC_PHRASES if phrase in message]
    assert not leaked, f"pydantic's wording reaches the user: {message!r}"


def _admin(shop: Shop, method: str, url: str, body: Any = None, **headers: str) -> TestResponse:
    return shop.client.request(
        method, "/api" + url, host=shop.host, headers={**shop.owner(), **headers}, json=body
    )


def _new_item(shop: Shop) -> dict[str, Any]:
    menu = _admin(shop, "GET", "/v1/admin/menu").json()
    created = _admin(
        shop,
        "POST",
        "/v1/admin/menu/items",
        {"category_id": menu["categories"][0]["id"], "name": "Review fries", "price": 300},
    )
    assert created.status_code == 201, created.text
    return created.json()


# A manager marks a dish sold out the way the row reads (`"available": true` is in every
# item and option the admin API returns): the refusal must send them to the 86 endpoint.
@pytest.mark.parametrize("kind", ["items", "options"])
def test_patching_available_points_to_the_availability_endpoint(
    client: TestClient, module_shop: Shop, kind: str
) -> None:
    if kind == "items":
        row_id = _new_item(module_shop)["id"]
    else:
        group = _admin(
            module_shop,
            "POST",
            "/v1/admin/menu/groups",
            {"name": "Review sauce", "min": 0, "max": 1, "options": [{"name": "Mayo"}]},
        ).json()
        row_id = group["options"][0]["id"]
    response = _admin(module_shop, "PATCH", f"/v1/admin/menu/{kind}/{row_id}", {"available": False})
    message = _message(response, "available")
    assert "/availability" in message, message


# Money is integer minor units. "9.50" or 9.5 is the most likely first mistake of a manager
# (and of a storefront sending a tip); "a valid integer" does not say 950.
@pytest.mark.parametrize(
    ("where", "value"),
    [("price", 9.5), ("price", "9.50"), ("tip", 1.5)],
    ids=["9.5", "'9.50'", "tip"],
)
def test_money_that_is_not_an_integer_says_minor_units(
    client: TestClient, module_shop: Shop, where: str, value: Any
) -> None:
    if where == "price":
        menu = _admin(module_shop, "GET", "/v1/admin/menu").json()
        body = {"category_id": menu["categories"][0]["id"], "name": "Review chips", "price": value}
        response = _admin(module_shop, "POST", "/v1/admin/menu/items", body)
    else:
        response = module_shop.post_order({**module_shop.order_body(), "tip": value})
    message = _message(response, where)
    assert "minor unit" in message or "cents" in message, message


# Opening hours and item windows: a day's window is a JSON pair. "a valid tuple" is Python.
@pytest.mark.parametrize(
    "window", [["09:00-17:00"], [["09:00", "12:00", "17:00"]]], ids=["string", "three-times"]
)
def test_an_hours_window_of_the_wrong_shape_shows_the_pair(
    client: TestClient, module_shop: Shop, window: list
) -> None:
    item = _new_item(module_shop)
    response = _admin(
        module_shop, "PATCH", f"/v1/admin/menu/items/{item['id']}", {"windows": {"mon": window}}
    )
    message = _message(response, "windows.mon[0]")
    _no_pydantic(message)
    assert '["09:00", "17:00"]' in message, message


# Tax is in basis points: 20.5 (%) or 200000 must be answered with the unit and an example.
@pytest.mark.parametrize("rate", [20.5, 200000], ids=["percent", "too-big"])
def test_a_tax_rate_refusal_says_basis_points(
    client: TestClient, module_shop: Shop, rate: float
) -> None:
    current = _admin(module_shop, "GET", "/v1/admin/settings")
    body = {**current.json(), "tax": {"rate_bp": rate, "inclusive": False}}
    response = _admin(
        module_shop, "PUT", "/v1/admin/settings", body, **{"If-Match": current.headers["etag"]}
    )
    message = _message(response, "tax.rate_bp")
    assert "basis point" in message, message


# A storefront shows errors[].message to the customer: no Python class names.
@pytest.mark.parametrize(
    ("change", "path"),
    [({"fulfilment": None}, "fulfilment"), ({"lines": [None]}, "lines[0]")],
    ids=["fulfilment-null", "line-null"],
)
def test_an_object_of_the_wrong_type_names_no_python_class(
    client: TestClient, module_shop: Shop, change: dict, path: str
) -> None:
    response = module_shop.post_order({**module_shop.order_body(), **change})
    message = _message(response, path)
    assert "FulfilmentIn" not in message and "OrderLineIn" not in message, message
    assert "object" in message, message


# An unknown key is nearly always a misspelt or guessed one (`position` for `rank`): say
# which keys the body takes.
def test_an_unknown_field_names_the_fields_allowed(client: TestClient, module_shop: Shop) -> None:
    response = _admin(
        module_shop, "POST", "/v1/admin/menu/categories", {"name": "Review", "position": 2}
    )
    message = _message(response, "position")
    _no_pydantic(message)
    assert "rank" in message and "visible" in message, message


# The customer's own mistakes at checkout, in words a customer reads.
@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"lines": []}, "lines"),
        (
            {"fulfilment": {"type": "pickup", "name": "", "phone": "+44 20 7946 0000"}},
            "fulfilment.name",
        ),
    ],
    ids=["no-lines", "empty-name"],
)
def test_checkout_refusals_read_as_plain_words(
    client: TestClient, module_shop: Shop, change: dict, path: str
) -> None:
    response = module_shop.post_order({**module_shop.order_body(), **change})
    message = _message(response, path)
    _no_pydantic(message)


# The manager's day: ?date= is the business date, and the answer must show its format.
# Unix seconds and datetimes (which pydantic's `date` would take) are refused too: whoever sent
# one meant something else.
@pytest.mark.parametrize(
    "day",
    [
        "yesterday",
        "24/11/2026",
        "2026-13-01",
        "2026-06-01T10:00:00",
        "2026-06-01T00:00:00Z",
        "1717200000",
        "99999-01-01",
    ],
)
def test_a_bad_business_date_shows_the_format(
    client: TestClient, module_shop: Shop, day: str
) -> None:
    response = module_shop.client.get(
        "/api/v1/admin/orders",
        host=module_shop.host,
        headers=module_shop.owner(),
        params={"date": day},
    )
    message = _message(response, "query.date")
    assert "YYYY-MM-DD" in message, message


# A token with no `tenant` claim (a provider not yet set up to send it) is told it names no
# restaurant, not that it names another one: the developer would look for the wrong bug.
def test_a_token_without_a_tenant_claim_is_told_so(client: TestClient, module_shop: Shop) -> None:
    token = IDENTITY.mint(role="owner", tenant=None)
    response = module_shop.client.get(
        "/api/v1/admin/menu", host=module_shop.host, headers={"Authorization": f"Bearer {token}"}
    )
    detail = problem(response, 403)["detail"]
    assert "tenant" in detail and "different restaurant" not in detail, detail


# An unknown query parameter is refused on the kitchen's lists as on every other, naming the
# parameters the route takes: `?since=57` for `?after=57` would otherwise replay every event.
@pytest.mark.parametrize(
    ("url", "params", "message"),
    [
        ("/v1/kitchen/events", {"since": "57"}, "is not a field here; send after, limit, station"),
        ("/v1/kitchen/orders", {"page": "2"}, "is not a field here; send status, limit, cursor"),
    ],
    ids=["events-since", "orders-page"],
)
def test_an_unknown_query_parameter_names_the_parameters_the_route_takes(
    client: TestClient, module_shop: Shop, url: str, params: dict, message: str
) -> None:
    response = module_shop.client.get(
        "/api" + url, host=module_shop.host, headers=module_shop.staff(), params=params
    )
    name = next(iter(params))
    assert _message(response, f"query.{name}") == message


def test_an_orders_access_token_on_a_staff_call_is_told_what_it_opens(
    client: TestClient, module_shop: Shop
) -> None:
    """Not a JWT: a developer who sent the receipt's token to a staff route learns why."""
    order = module_shop.place()
    response = module_shop.client.get(
        "/api/v1/kitchen/orders",
        host=module_shop.host,
        headers={"Authorization": f"Bearer {order['access_token']}"},
    )
    detail = problem(response, 401)["detail"]
    assert "an order's access token opens only that order" in detail, detail


def test_an_order_without_lines_is_told_it_needs_one_item(
    client: TestClient, module_shop: Shop
) -> None:
    response = module_shop.post_order({**module_shop.order_body(), "lines": []})
    assert _message(response, "lines") == "must have at least 1 item"


def test_an_order_with_too_many_lines_is_told_the_most_it_may_have(
    client: TestClient, module_shop: Shop
) -> None:
    lines = [module_shop.cola_line()] * (MAX_LINES + 1)
    response = module_shop.post_order({**module_shop.order_body(), "lines": lines})
    assert _message(response, "lines") == f"must have at most {MAX_LINES} items"


def test_a_negative_price_says_the_least_it_may_be_in_minor_units(
    client: TestClient, module_shop: Shop
) -> None:
    menu = _admin(module_shop, "GET", "/v1/admin/menu").json()
    body = {"category_id": menu["categories"][0]["id"], "name": "Review refund", "price": -100}
    message = _message(_admin(module_shop, "POST", "/v1/admin/menu/items", body), "price")
    assert message.startswith("must be at least 0"), message
    assert "minor units" in message, message


def test_an_options_price_delta_that_is_not_an_integer_says_minor_units(
    client: TestClient, module_shop: Shop
) -> None:
    body = {"name": "Review extras", "min": 0, "max": 1,
            "options": [{"name": "Cheese", "price_delta": 1.5}]}  # fmt: skip
    response = _admin(module_shop, "POST", "/v1/admin/menu/groups", body)
    message = _message(response, "options[0].price_delta")
    assert "minor units" in message and "150" in message, message


def test_an_upload_size_that_is_not_an_integer_says_bytes(
    client: TestClient, module_shop: Shop
) -> None:
    body = {"content_type": "image/jpeg", "size": 2.5}
    response = _admin(module_shop, "POST", "/v1/admin/branding/logo/image-upload", body)
    message = _message(response, "size")
    assert "bytes" in message, message


def test_an_unknown_key_in_an_order_line_names_the_lines_fields(
    client: TestClient, module_shop: Shop
) -> None:
    line = {**module_shop.cola_line(), "qty": 2}
    response = module_shop.post_order({**module_shop.order_body(), "lines": [line]})
    message = _message(response, "lines[0].qty")
    assert message == "is not a field here; send item_id, quantity, option_ids, note", message


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/admin/orders", "limit"),
        ("/api/v1/admin/orders", "cursor"),
        ("/api/v1/admin/menu/versions", "limit"),
        ("/api/v1/admin/menu/versions", "cursor"),
    ],
)
def test_a_page_parameter_of_thousands_of_digits_is_told_so_in_plain_words(
    module_shop: Shop, path: str, name: str
) -> None:
    """More digits than pydantic reads (4,300): not its "Unable to parse input string"."""
    response = module_shop.client.get(
        path, host=module_shop.host, headers=module_shop.owner(), params={name: "9" * 5000}
    )
    message = _message(response, f"query.{name}")
    assert message == "must be a whole number of at most 4300 digits", message


def test_a_refusal_quoting_control_characters_and_markup_stays_well_formed(
    module_shop: Shop,
) -> None:
    """An unknown query parameter named with markup, an ANSI escape and a line break comes back
    as escaped JSON text: no raw control character for a terminal or log viewer to act on, and
    no header of the sender's making."""
    name = '<img src=x onerror="alert(1)">\x1b[31m\r\nX-Injected: 1'
    response = module_shop.client.get(
        "/api/v1/admin/orders",
        host=module_shop.host,
        headers=module_shop.owner(),
        params={name: "1"},
    )
    body = problem(response, 422)
    assert response.headers["cache-control"] == "no-store"
    assert "x-injected" not in {key.lower() for key in response.headers}
    assert not any(ord(c) < 0x20 for c in response.text), response.text
    assert [e["path"] for e in body["errors"]] == [f"query.{name}"]


def test_a_business_date_that_is_no_day_of_the_calendar_is_told_so(module_shop: Shop) -> None:
    """Well-formed but impossible: told so, with the format, not only the format."""
    response = module_shop.client.get(
        "/api/v1/admin/orders",
        host=module_shop.host,
        headers=module_shop.owner(),
        params={"date": "2026-02-30"},
    )
    assert _message(response, "query.date") == (
        "2026-02-30 is not a day of the calendar; send one such as 2026-11-24 (YYYY-MM-DD)"
    )
