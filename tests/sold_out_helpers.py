"""Helpers for the sold-out tests: what an 86 writes, and the kitchen's 86 call."""

from __future__ import annotations

import copy
from typing import Any

from devhost.testclient import TestResponse
from tests.conftest import execute
from tests.order_fixtures import MENU, Shop
from tests.storefront_helpers import error_paths, ok

ADMIN = "/api/v1/admin/menu/availability"
KITCHEN = "/api/v1/kitchen/availability"


def written_state(shop: Shop) -> tuple[Any, ...]:
    """Everything an 86 writes: the draft, the live snapshots and the outbox."""
    return (
        ok(shop.client.get("/api/v1/admin/menu", host=shop.host, headers=shop.owner())),
        execute(f"select version, etag from {shop.schema}.menu_versions order by 1"),
        execute(f"select id, type, groups, data from {shop.schema}.outbox order by position"),
    )


def sold_out_events(shop: Shop) -> list[dict[str, Any]]:
    """The `menu.sold_out` events since the shop opened, as the outbox holds them (a display's
    catch-up page lists an event only once the sequencer has given it its seq, a moment after
    the commit). The opening publish told the displays its 86 list (the test menu comes with
    the Calzone and the Truffle 86'd): that first event is checked and left out."""
    opening, *since = execute(
        f"select groups, data from {shop.schema}.outbox where type = 'menu.sold_out' "
        "order by position"
    )
    assert names(opening["data"]) == ["Calzone", "Truffle"]
    return since


def kitchen_86(shop: Shop, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
    return shop.client.post(
        KITCHEN, host=shop.host, headers=shop.staff() if headers is None else headers, json=body
    )


def refused_at(response: TestResponse, path: str) -> dict[str, Any]:
    """A small, well-formed 422 problem naming exactly path, with no control characters."""
    assert error_paths(response) == [path]
    assert len(response.body) < 2048
    assert not any(ord(c) < 0x20 for c in response.text)
    assert "Traceback" not in response.text and "psycopg" not in response.text
    return response.json()


def names(listed: dict[str, Any]) -> list[str]:
    """The names on an 86 list, items then options."""
    return [entry["name"] for entry in listed["items"] + listed["options"]]


def sheet_with_basil(pizza_delta: int, cola_delta: int) -> dict[str, Any]:
    """The test menu as a manager's sheet, with an "Extras" group of one option, Basil, on the
    Margherita and on the Cola at those prices (equal prices: identical groups)."""
    sheet = copy.deepcopy(MENU)
    for category, dish, delta in ((0, "Margherita", pizza_delta), (1, "Cola", cola_delta)):
        [item] = [i for i in sheet["categories"][category]["items"] if i["name"] == dish]
        item["modifier_groups"].append(
            {"name": "Extras", "min": 0, "max": 1,
             "options": [{"name": "Basil", "price_delta": delta}]}
        )  # fmt: skip
    return sheet
