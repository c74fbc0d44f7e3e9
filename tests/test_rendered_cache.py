"""Rendered storefront bodies: one per key and state, bounded in bytes, past minutes dropped."""

from __future__ import annotations

import copy
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta

from bench.storefront_data import menu_document
from shared.menus.storefront import StorefrontMenus
from shared.orders import current_menu
from shared.rendered_cache import RenderedCache, json_bytes
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


def test_storefront_menu_memory_stays_within_its_budget_however_many_restaurants_it_serves(
    client, tenants, auth_header
) -> None:
    # Only the renderings' budget holds menus: a parsed snapshot kept per restaurant served
    # (~0.9 MB for this menu) would grow a process with every storefront it ever answered.
    shops = [open_shop(client, tenants, auth_header, menu=menu_document()) for _ in range(12)]
    now = datetime.now(UTC)
    one, _ = StorefrontMenus().rendered(shops[0].schema, "UTC", now)  # also warms the pool
    gc.collect()
    tracemalloc.start()
    try:
        # Room for two renderings of this menu: once full, more restaurants replace older ones.
        menus = StorefrontMenus(renderings=RenderedCache(max_bytes=2 * len(one)))
        for shop in shops[:6]:
            menus.rendered(shop.schema, "UTC", now)
        gc.collect()
        after_six, _ = tracemalloc.get_traced_memory()
        for shop in shops[6:]:
            menus.rendered(shop.schema, "UTC", now)
        gc.collect()
        after_twelve, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown_mb = (after_twelve - after_six) / 1e6
    assert grown_mb < 1.0, (
        f"six more restaurants' menus held {grown_mb:.1f} MB more with a "
        f"{2 * len(one) / 1e6:.2f} MB renderings budget"
    )


def test_the_pricing_cache_keeps_menus_within_its_byte_budget(
    client, tenants, auth_header, monkeypatch
) -> None:
    # Orders price from an index of the live menu, kept per restaurant within a byte budget.
    first, second = (open_shop(client, tenants, auth_header) for _ in range(2))
    monkeypatch.setattr(current_menu, "MAX_CACHED_MENU_BYTES", 1)  # room for one menu only
    for shop in (first, second, first):
        response = shop.post_order(shop.order_body(shop.pizza_line()))
        assert response.status_code == 201, response.text
    assert len(current_menu._cache) == 1
    assert current_menu._cached_bytes == next(iter(current_menu._cache.values()))[1]


def test_a_rendering_larger_than_the_whole_budget_is_still_kept() -> None:
    """A rendering larger than the whole budget is still kept (alone), not rendered again for
    every request."""
    cache = RenderedCache(max_bytes=10)
    renders: list[int] = []
    document = {"text": "x" * 50}
    for _ in range(3):
        payload, _ = cache.get_or_render("big", 1, lambda: renders.append(1) or document)
        assert payload == json_bytes(document)
    assert renders == [1]
    assert cache.cached_bytes() == len(json_bytes(document))


def test_renderings_exactly_filling_the_budget_are_all_kept() -> None:
    """Renderings that fill the budget exactly are all kept."""
    size = len(json_bytes({"n": 1}))
    cache = RenderedCache(max_bytes=2 * size)
    renders: list[str] = []
    for key in ("a", "b", "a", "b"):
        cache.get_or_render(key, 1, lambda k=key: renders.append(k) or {"n": 1})
    assert renders == ["a", "b"]
    assert cache.cached_bytes() == 2 * size
