"""What README.md promises about the HTTP API, checked against the real app.

Each test quotes the README sentence it holds the app to. Passing tests pin promises no other
test covers.
"""

from __future__ import annotations

from typing import Any

from tests.order_fixtures import Shop, order_access, shop_fixture  # noqa: F401
from tests.storefront_helpers import ok, problem

TABLES = "/api/v1/admin/tables"
CATEGORIES = "/api/v1/admin/menu/categories"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.headers["cache-control"] == "no-store"
    return problem(response, status)


def _category(shop: Shop, name: str = "Specials") -> dict[str, Any]:
    created = shop.client.post(
        CATEGORIES, host=shop.host, headers=shop.owner(), json={"name": name}
    )
    return ok(created, 201)


def test_an_unknown_key_is_answered_with_the_keys_the_readme_quotes(shop: Shop) -> None:
    """README, HTTP conventions: 'an unknown key with the keys the object takes (`position: is
    not a field here; send expected_version, name, visible, rank`)'. A manager's tool that
    shows this message word for word (or a test of one) reads what the README says."""
    category = _category(shop)
    response = shop.client.patch(
        f"{CATEGORIES}/{category['id']}",
        host=shop.host,
        headers={**shop.owner(), "If-Match": '"1"'},
        json={"position": 1},
    )
    problem = _problem(response, 422)
    assert problem["errors"] == [
        {
            "path": "position",
            "message": "is not a field here; send expected_version, name, visible, rank",
        }
    ]


def test_a_cancel_with_the_token_in_the_url_is_refused_and_cancels_nothing(shop: Shop) -> None:
    """README, Tables and QR codes: order tokens 'are taken from `Authorization: Bearer` only
    ... a request carrying `?access_token=` is a `400` pointing at the header, so no order token
    sits in a request log'. The cancel is the one order route that writes: a customer's app
    that put the token in the URL is told where it goes, and the order stays placed, even with
    the right header beside it."""
    receipt = shop.place()
    path = f"/api/v1/store/orders/{receipt['id']}/cancel"
    for headers in ({}, order_access(receipt)):
        refused = shop.client.post(
            path,
            host=shop.host,
            headers=headers,
            json={},
            params={"access_token": receipt["access_token"]},
        )
        assert "Authorization: Bearer" in _problem(refused, 400)["detail"]
    view = ok(shop.customer_view(receipt))
    assert (view["status"], view["version"]) == ("placed", 1)


def test_a_table_put_replaces_it_and_an_equal_patch_is_still_a_write(shop: Shop) -> None:
    """README, Tables and QR codes: '`PUT` replaces the table, so send `seats` again or it
    becomes none; `PATCH {"label"?, "seats"?}` changes only what it sends ... (values equal to
    the current ones are a write and a new version)'. A manager renaming a table through PUT
    loses the seats they did not send; the QR code printed on the table keeps working."""
    table = ok(
        shop.client.post(
            TABLES, host=shop.host, headers=shop.owner(), json={"label": "Window 3", "seats": 4}
        ),
        201,
    )
    path = f"{TABLES}/{table['id']}"
    put = shop.client.put(
        path,
        host=shop.host,
        headers={**shop.owner(), "If-Match": '"1"'},
        json={"label": "Window 4"},
    )
    replaced = ok(put)
    assert (replaced["label"], replaced["seats"], replaced["version"]) == ("Window 4", None, 2)
    assert replaced["qr_token"] == table["qr_token"] and put.headers["etag"] == '"2"'
    same = ok(
        shop.client.patch(
            path, host=shop.host, headers={**shop.owner(), "If-Match": '"2"'}, json={"seats": None}
        )
    )
    assert (same["seats"], same["version"]) == (None, 3)
    lookup = ok(shop.client.get(f"/api/v1/store/tables/{table['qr_token']}", host=shop.host))
    assert lookup["label"] == "Window 4"


def test_a_matching_if_match_beats_a_stale_expected_version_and_a_star_does_not(
    shop: Shop,
) -> None:
    """README, Decisions/Concurrency: '`If-Match: *` matches any version, so an
    `expected_version` sent with it still counts (a matching `If-Match` naming a version wins
    over a stale `expected_version` in the body)', and a stale `expected_version` is a 409 with
    `current_version`. On a menu row, as a manager's editor sends them."""
    category = _category(shop)
    path = f"{CATEGORIES}/{category['id']}"

    star = shop.client.patch(
        path,
        host=shop.host,
        headers={**shop.owner(), "If-Match": "*"},
        json={"name": "Starters", "expected_version": 5},
    )
    assert _problem(star, 409)["current_version"] == 1

    matching = shop.client.patch(
        path,
        host=shop.host,
        headers={**shop.owner(), "If-Match": '"1"'},
        json={"name": "Starters", "expected_version": 5},
    )
    renamed = ok(matching)
    assert (renamed["name"], renamed["version"]) == ("Starters", 2)
    assert matching.headers["etag"] == '"2"'
