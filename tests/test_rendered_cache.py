"""Rendered storefront bodies: one per key and state, bounded in bytes, past minutes dropped."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from shared.menus.storefront import StorefrontMenus
from shared.rendered_cache import RenderedCache
from tests.order_fixtures import MENU, open_shop


def test_a_new_variant_replaces_the_keys_old_one() -> None:
    cache = RenderedCache()
    renders: list[int] = []

    def render(minute: int):
        renders.append(minute)
        return {"minute": minute}

    for minute in range(120):
        payload, _ = cache.get_or_render("tenant", (1, minute), lambda m=minute: render(m))
        assert payload == f'{{"minute":{minute}}}'.encode()
    cache.get_or_render("tenant", (1, 119), lambda: render(-1))  # the current one is kept
    assert renders == list(range(120))
    assert cache.cached_bytes() == len(b'{"minute":119}')


def test_renderings_stay_within_their_byte_budget() -> None:
    cache = RenderedCache(max_bytes=1_000)
    for tenant in range(20):
        cache.get_or_render(tenant, 1, lambda: {"text": "x" * 190})  # ~200 bytes each
    assert cache.cached_bytes() <= 1_000
    renders: list[int] = []
    cache.get_or_render(19, 1, lambda: renders.append(19))  # the newest are kept
    cache.get_or_render(0, 1, lambda: renders.append(0) or {"text": "again"})  # the oldest not
    assert renders == [0]


def test_a_menu_with_windows_keeps_one_rendering_through_the_minutes(
    client, tenants, auth_header
) -> None:
    # With a window the menu is rendered per minute; a past minute is never asked for again.
    menu = copy.deepcopy(MENU)
    menu["categories"][0]["items"][0]["windows"] = {"mon": [["11:00", "15:00"]]}
    shop = open_shop(client, tenants, auth_header, menu=menu)
    renderings = RenderedCache()
    menus = StorefrontMenus(renderings=renderings)
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    sizes = {len(menus.rendered(shop.schema, "UTC", start + timedelta(minutes=m))[0])
             for m in range(120)}  # fmt: skip
    assert renderings.cached_bytes() <= max(sizes)
