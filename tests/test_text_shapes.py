"""A value of the wrong shape is told what shape it must have, never the regular expression."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.text_shapes import refusal
from tests.order_fixtures import Shop, shop_fixture  # noqa: F401
from tests.storefront_helpers import owner_api


def _patterns(document: Any) -> Iterator[str]:
    """Every pattern in the document, except route parameters' (a route that does not match is
    a 404 from routing, never a field error)."""
    if isinstance(document, dict):
        if document.get("in") == "path":
            return
        for key, value in document.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(document, list):
        for value in document:
            yield from _patterns(value)


def test_every_pattern_the_api_describes_says_what_it_wants(client) -> None:
    """A pattern added to a model or query without `shaped(...)` would answer with its regex."""
    described = set(_patterns(client.get("/api/openapi.json").json()))
    assert described, "the OpenAPI document lists no pattern at all"
    assert {pattern for pattern in described if refusal(pattern) is None} == set()


def _error(response) -> tuple[str, str]:
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    return error["path"], error["message"]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"locale": "english"}, "locale", "must be a language tag such as en, de-CH or zh-Hant-TW"),
        (
            {"contact": {"email": "ada at example"}},
            "contact.email",
            "must be an e-mail address such as ada@example.com",
        ),
        (
            {"contact": {"website": "www.example.com"}},
            "contact.website",
            "must be an http:// or https:// address without spaces or quotes",
        ),
        (
            {"hours": {"mon": [["9:30", "17:00"]]}},
            "hours.mon[0][0]",
            "must be a time such as 09:30 (00:00 to 23:59, or 24:00 to end a day)",
        ),
    ],
)
def test_settings_of_the_wrong_shape_say_what_they_must_be(
    shop: Shop, change: dict, path: str, message: str
) -> None:
    api = owner_api(shop.client, shop.tenant, shop.auth)
    current = api.get("/v1/admin/settings")
    body = {**current.json(), **change}
    etag = {"If-Match": current.headers["etag"]}
    response = api.put("/v1/admin/settings", json=body, headers=etag)
    assert _error(response) == (path, message)


def test_a_theme_colour_of_the_wrong_shape_says_what_it_must_be(shop: Shop) -> None:
    api = owner_api(shop.client, shop.tenant, shop.auth)
    current = api.get("/v1/admin/theme")
    theme = current.json()
    theme["colors"]["primary"] = "red"
    response = api.put("/v1/admin/theme", json=theme, headers={"If-Match": current.headers["etag"]})
    assert _error(response) == (
        "colors.primary",
        "must be a hex colour such as #1f2937 or #fff",
    )


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        (
            "/api/v1/kitchen/negotiate",
            {"station": "Grill!"},
            (
                "query.station",
                "must be 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter"
                " or digit",
            ),
        ),
        (
            "/api/v1/kitchen/orders",
            {"cursor": "page-2"},
            ("query.cursor", "must be the next_cursor of a page"),
        ),
    ],
)
def test_kitchen_queries_of_the_wrong_shape_say_what_they_must_be(
    shop: Shop, path: str, params: dict, error: tuple[str, str]
) -> None:
    response = shop.client.get(path, host=shop.host, headers=shop.staff(), params=params)
    assert _error(response) == error
