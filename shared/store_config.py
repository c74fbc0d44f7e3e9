"""`GET /api/v1/store/config`: what a storefront needs before it draws anything.

Built from the cached tenant record (theme and settings travel with it through the in-process
cache and the directory) and the live menu's currency (storefront_menus re-checks the version at
most once a second); the rendering is cached per (tenant, profile version, currency, minute), the
minute only when opening hours or special days make "open now" vary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.currencies import CURRENCY_EXPONENTS
from shared.ordering_pause import pause_in_force
from shared.orders.tickets import business_date
from shared.rendered_cache import RenderedCache
from shared.restaurant_settings import effective_settings, is_open
from shared.special_days import upcoming
from shared.tenants import TenantRecord
from shared.theming import resolved_asset_urls, storefront_theme

_renderings = RenderedCache()


def render_store_config(
    record: TenantRecord, now_utc: datetime, *, menu_currency: str | None = None
) -> dict[str, Any]:
    """Name, theme tokens (asset URLs absolute), money and locale, hours, special days from
    today on, open now (hours and any pause), the pause, contact.

    The currency is the live menu's (menu_currency) when one is published: its prices are minor
    units of that currency, and orders are charged in it. A currency changed in the settings
    reaches customers with the next publish, together with the prices it needs.
    """
    settings = effective_settings(record)
    currency = menu_currency or settings.currency
    pause = pause_in_force(record.ordering_pause, now_utc)
    return {
        "name": settings.business_name,
        "theme": resolved_asset_urls(storefront_theme(record.theme)),
        "currency": currency,
        "currency_exponent": CURRENCY_EXPONENTS[currency],
        "locale": settings.locale,
        "timezone": settings.timezone,
        "tax": settings.tax.model_dump(),
        "hours": settings.hours.as_data() if settings.hours is not None else None,
        "special_days": upcoming(settings.special_days, business_date(now_utc, settings.timezone)),
        "open_now": pause is None and is_open(settings, now_utc),
        "paused": pause.for_customers() if pause is not None else None,
        "contact": settings.contact.model_dump(exclude_none=True),
    }


def store_config_bytes(
    record: TenantRecord, now_utc: datetime, *, menu_currency: str | None = None
) -> tuple[bytes, str]:
    """(JSON bytes, strong ETag) of the tenant's store config at now_utc, cached."""
    timed = record.settings.get("hours") or record.settings.get("special_days")
    minute = int(now_utc.timestamp() // 60) if timed or record.ordering_pause else None
    # Every profile write bumps the version; display_name and a pause are the other inputs.
    variant = (record.version, record.display_name, record.ordering_pause, menu_currency, minute)
    return _renderings.get_or_render(
        record.id,
        variant,
        lambda: render_store_config(record, now_utc, menu_currency=menu_currency),
    )
