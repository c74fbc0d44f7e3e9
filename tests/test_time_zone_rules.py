"""Time zone rules come from the tzdata the app pins, not from the machine it runs on.

zoneinfo reads the system's files first; this machine's (Debian's 2025b) and a host image's may
lag IANA, and 2026f moved British Columbia to year-round UTC-7 from 1 November 2026.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

import functions.store
import shared.orders.placement
from tests.order_fixtures import open_shop
from tests.storefront_helpers import customer_api, ok

# Tuesday 1 December 2026, 19:30 UTC. The tzdata the app pins (requirements.txt: tzdata==2026.6,
# IANA 2026f) has British Columbia on year-round UTC-7 from 1 November 2026
# ("-8 C PDT 2026 N 1 2" / "-7 - MST"): it is 12:30 in Vancouver. The machine's own zoneinfo
# (Debian's 2025b) still says PST, UTC-8: 11:30.
WINTER_AFTERNOON = datetime(2026, 12, 1, 19, 30, tzinfo=UTC)
VANCOUVER_HOURS = {"tue": [["12:00", "22:00"]]}


def shipped_zone(name: str) -> ZoneInfo:
    """name's rules from the tzdata package the app pins, not from the machine."""
    path = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with path.open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


class _Clock(datetime):
    """datetime whose now() is the instant under test."""

    instant = WINTER_AFTERNOON

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return cls.instant if tz is None else cls.instant.astimezone(tz)


@pytest.fixture
def vancouver_shop(client, tenants, auth_header, monkeypatch):
    # The premise: by the rules the app ships, the restaurant is inside its hours.
    local = WINTER_AFTERNOON.astimezone(shipped_zone("America/Vancouver"))
    assert local.strftime("%a %H:%M UTC%z") == "Tue 12:30 UTC-0700"
    monkeypatch.setattr(functions.store, "datetime", _Clock)
    monkeypatch.setattr(shared.orders.placement, "datetime", _Clock)
    return open_shop(
        client, tenants, auth_header,
        settings={"timezone": "America/Vancouver", "currency": "CAD", "hours": VANCOUVER_HOURS},
    )  # fmt: skip


def test_vancouver_storefront_is_open_during_its_hours_by_the_shipped_tzdata(
    client, vancouver_shop
) -> None:
    # 12:30 local by 2026f: open (by 2025b it would be 11:30, closed).
    config = ok(customer_api(client, vancouver_shop.tenant).get("/v1/store/config"))
    assert config["timezone"] == "America/Vancouver"
    assert config["open_now"] is True


def test_vancouver_order_during_its_hours_is_accepted(vancouver_shop) -> None:
    # Hours 12:00-22:00: accepted at 12:30 Vancouver time by the pinned rules.
    response = vancouver_shop.post_order()
    assert response.status_code == 201, response.text
