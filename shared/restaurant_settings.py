"""A restaurant's settings (design §5): name, currency, time zone, locale, tax, hours, special
days, contact.

Stored in `public.tenants.settings` and cached with the tenant record, so reading them costs no
I/O on the request path. Orders use `is_open` and `effective_settings(...).tax`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_serializer,
)

from shared.currencies import check_currency
from shared.phone_numbers import Phone
from shared.special_days import SpecialDays, dated_windows
from shared.tax_rates import TaxRateBp
from shared.tenants import TenantRecord
from shared.text_rules import check_multi_line, check_single_line, one_line
from shared.text_shapes import EMAIL, shaped
from shared.weekly_windows import TimeZoneName, WeeklyWindows, in_windows

_WEBSITE = shaped(
    r"^https?://[^\s\"'<>]+$", "must be an http:// or https:// address without spaces or quotes"
)

BusinessName = one_line(200)
Currency = Annotated[str, AfterValidator(check_currency)]
# BCP 47 as browsers use it for Intl: language, optional script, optional region.
Locale = Annotated[
    str,
    Field(
        pattern=shaped(
            r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$",
            "must be a language tag such as en, de-CH or zh-Hant-TW",
        )
    ),
]


class Tax(BaseModel):
    """Sales tax: a rate in basis points (2000 = 20 %; to a hundredth, 887.5 = 8.875 %)
    included in prices or added on top."""

    model_config = ConfigDict(extra="forbid")

    rate_bp: TaxRateBp
    inclusive: StrictBool


class Contact(BaseModel):
    """How customers reach the restaurant; every field optional."""

    model_config = ConfigDict(extra="forbid")

    # Constraints on the str, not on the optional: pydantic words a length limit on `X | None`
    # as "items".
    email: (
        Annotated[
            str,
            StringConstraints(max_length=254, pattern=EMAIL),
            AfterValidator(check_single_line),
        ]
        | None
    ) = None
    phone: Phone | None = None
    address: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
            AfterValidator(check_multi_line),
        ]
        | None
    ) = None
    website: (
        Annotated[
            str,
            StringConstraints(max_length=300, pattern=_WEBSITE),
            AfterValidator(check_single_line),
        ]
        | None
    ) = None


class RestaurantSettings(BaseModel):
    """The settings document; `hours` null means always open (a new restaurant can test at once)."""

    model_config = ConfigDict(extra="forbid")

    business_name: BusinessName
    currency: Currency
    timezone: TimeZoneName
    locale: Locale
    tax: Tax
    hours: WeeklyWindows | None = None
    special_days: SpecialDays = []
    contact: Contact = Contact()

    @field_serializer("hours")
    def _hours_data(self, hours: WeeklyWindows | None) -> dict[str, list[list[str]]] | None:
        return hours.as_data() if hours is not None else None

    def as_data(self) -> dict[str, Any]:
        """The JSON stored in public.tenants.settings."""
        return self.model_dump(mode="json")


def default_settings(display_name: str) -> dict[str, Any]:
    """What a tenant that never saved settings is served: EUR, UTC, English, no tax, always open."""
    return {
        "business_name": display_name,
        "currency": "EUR",
        "timezone": "UTC",
        "locale": "en",
        "tax": {"rate_bp": 0, "inclusive": False},
        "hours": None,
        "special_days": [],
        "contact": {},
    }


def effective_settings(record: TenantRecord) -> RestaurantSettings:
    """The tenant's saved settings over the defaults (provisioning may store only some keys)."""
    return RestaurantSettings.model_validate(
        {**default_settings(record.display_name), **record.settings}
    )


def is_open(settings: RestaurantSettings | Mapping[str, Any], now_utc: datetime) -> bool:
    """True when the restaurant takes orders at now_utc (aware): its weekly hours, with special
    days in place of their weekdays; no hours set means always open, special days aside."""
    if isinstance(settings, RestaurantSettings):
        hours = settings.hours.as_data() if settings.hours is not None else None
        zone, special_days = settings.timezone, settings.special_days
    else:
        hours = settings.get("hours") or None
        zone, special_days = settings.get("timezone") or "UTC", settings.get("special_days") or []
    return in_windows(hours, zone, now_utc, dated=dated_windows(special_days))
