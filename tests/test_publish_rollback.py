"""A publish (or an 86) that fails after writing its snapshot leaves nothing behind: orders are
never priced from a version that did not commit."""

from __future__ import annotations

import psycopg
import pytest

from shared.menus import publish
from tests.order_fixtures import (
    Shop,
    shop_fixture,  # noqa: F401 (fixtures)
)
from tests.sold_out_helpers import kitchen_86
from tests.storefront_helpers import ok


def _patch_item(shop: Shop, item: str, change: dict) -> None:
    url = f"/api/v1/admin/menu/items/{item}"
    draft = ok(shop.client.get(url, host=shop.host, headers=shop.owner()))
    headers = {**shop.owner(), "If-Match": f'"{draft["version"]}"'}
    ok(shop.client.patch(url, host=shop.host, headers=headers, json=change))


def _unwritable_outbox(*_args: object, **_kwargs: object) -> None:
    raise psycopg.OperationalError("the outbox is unwritable")


def test_a_publish_that_fails_after_its_snapshot_prices_no_order_from_it(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manager renames the 86'd Calzone and reprices the Margherita to 10.00; the publish
    fails while telling the displays (after the new snapshot was written), so it fails whole.
    The manager reprices to 11.00 and publishes again, which takes the same version number:
    orders pay 11.00, not the 10.00 of the version that never was."""
    _patch_item(shop, shop.menu.items["Calzone"], {"name": "Calzone Classica"})
    _patch_item(shop, shop.menu.items["Margherita"], {"price": 1000})
    before = ok(shop.client.get("/api/v1/store/menu", host=shop.host))["version"]
    monkeypatch.setattr(publish, "append_event", _unwritable_outbox)
    with pytest.raises(psycopg.OperationalError):
        publish.publish_menu(tenant=shop.tenant, published_by="mia")
    monkeypatch.undo()
    assert ok(shop.client.get("/api/v1/store/menu", host=shop.host))["version"] == before

    _patch_item(shop, shop.menu.items["Margherita"], {"price": 1100})
    published = shop.client.post("/api/v1/admin/menu/publish", host=shop.host,
                                 headers=shop.owner())  # fmt: skip
    assert ok(published, 201)["version"] == before + 1
    order = shop.place(shop.order_body(shop.pizza_line()))
    assert order["totals"]["subtotal"] == 1100


def test_an_86_that_fails_after_its_snapshot_takes_nothing_off_the_menu(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cook's 86 of Ham fails while telling the displays: Ham stays on sale, and the next
    publish (the same version number the failed 86 had taken) is what orders are checked
    against."""
    ham = shop.menu.option("Margherita/Toppings/Ham")
    monkeypatch.setattr(publish, "append_event", _unwritable_outbox)
    failed = kitchen_86(shop, {"options": [{"id": ham, "available": False}]})
    assert failed.status_code >= 500, failed.text
    monkeypatch.undo()

    _patch_item(shop, shop.menu.items["Margherita"], {"price": 1100})
    published = shop.client.post("/api/v1/admin/menu/publish", host=shop.host,
                                 headers=shop.owner())  # fmt: skip
    ok(published, 201)
    order = shop.place(shop.order_body(shop.pizza_line("Ham")))
    assert order["totals"]["subtotal"] == 1100  # the first two toppings are free
