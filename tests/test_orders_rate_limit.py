"""Order creation is rate limited per restaurant and client address, across instances."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.config import get_settings, load_settings
from shared.orders import placement
from shared.rate_limit import client_bucket, client_ip, window_start
from tests.conftest import TEST_SETTINGS
from tests.order_fixtures import Shop, open_shop, shop_fixture  # noqa: F401


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every order of a test counts in the window it started in: a run that crossed a minute
    boundary (a loaded machine) started a fresh window halfway and let the limit's last order
    through."""
    start = window_start(datetime.now(UTC))
    monkeypatch.setattr(placement, "window_start", lambda now: start)


def test_too_many_orders_from_one_address_get_429_with_retry_after(
    shop: Shop, client, tenants, auth_header
) -> None:
    body = shop.order_body(shop.cola_line())
    for _ in range(get_settings().order_rate_limit_per_minute):
        assert shop.post_order(body, ip="203.0.113.7").status_code == 201
    limited = shop.post_order(body, ip="203.0.113.7")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["status"] == 429
    # Another customer, and the same customer at another restaurant, are not affected.
    assert shop.post_order(body, ip="203.0.113.8").status_code == 201
    other = open_shop(client, tenants, auth_header)
    assert (
        other.post_order(other.order_body(other.cola_line()), ip="203.0.113.7").status_code == 201
    )


def test_one_ipv6_network_is_one_customer(shop: Shop) -> None:
    # An IPv6 subscriber gets a whole /64 and can use a new address for every request.
    body = shop.order_body(shop.cola_line())
    for host in range(1, get_settings().order_rate_limit_per_minute + 1):
        assert shop.post_order(body, ip=f"2001:db8:5:6::{host:x}").status_code == 201
    assert shop.post_order(body, ip="2001:db8:5:6:ffff::1").status_code == 429
    assert shop.post_order(body, ip="2001:db8:5:7::1").status_code == 201


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:5:6:aaaa:bbbb:cccc:dddd", "2001:db8:5:6::/64"),
        ("2001:DB8:5:6::1", "2001:db8:5:6::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket
        ("unknown", "unknown"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_the_bucket_of_an_address(address: str, bucket: str) -> None:
    assert client_bucket(address) == bucket


def test_a_replayed_idempotent_answer_is_not_counted(shop: Shop) -> None:
    """Replays are answered from the stored response and use none of the address's limit: a
    new order after more replays than the limit is still placed."""
    body = shop.order_body(shop.cola_line())
    assert shop.post_order(body, key="k1-" + "0" * 14, ip="203.0.113.9").status_code == 201
    for _ in range(get_settings().order_rate_limit_per_minute + 5):
        assert shop.post_order(body, key="k1-" + "0" * 14, ip="203.0.113.9").status_code == 201
    fresh = shop.post_order(body, ip="203.0.113.9")
    assert fresh.status_code == 201, fresh.text


def test_rejected_orders_count_and_over_the_limit_429_wins_over_422(shop: Shop) -> None:
    limit = get_settings().order_rate_limit_per_minute
    unknown_item = {"lines": [{"item_id": str(uuid.uuid4()), "quantity": 1}]}
    invalid = {**shop.order_body(), **unknown_item}
    for _ in range(limit):
        assert shop.post_order(invalid, ip="203.0.113.10").status_code == 422
    # The invalid requests used up the window: valid and invalid alike now get 429, and a
    # limited request with a key leaves the key unused for a later retry.
    assert shop.post_order(shop.order_body(), ip="203.0.113.10").status_code == 429
    assert shop.post_order(invalid, key="later-" + "0" * 11, ip="203.0.113.10").status_code == 429
    assert shop.post_order(shop.order_body(), key="later-" + "0" * 11).status_code == 201


def test_limited_requests_take_no_ticket_number(shop: Shop) -> None:
    limit = get_settings().order_rate_limit_per_minute
    first = shop.place()
    for _ in range(limit):
        assert shop.post_order(shop.order_body(), ip="203.0.113.11").status_code == 201
    assert shop.post_order(shop.order_body(), ip="203.0.113.11").status_code == 429
    after = shop.place()
    assert int(after["ticket_number"][1:]) == int(first["ticket_number"][1:]) + limit + 1


FRONT_DOOR = load_settings(
    {
        **TEST_SETTINGS,
        "DATABASE_URL": "postgresql://x",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "FRONTDOOR_ID": "fd-123",
    }
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # Through our Front Door: the connection's address. X-Azure-ClientIP comes from the
        # client's own X-Forwarded-For, so a client could change it with every order.
        (
            {
                "X-Azure-FDID": "fd-123",
                "X-Azure-SocketIP": "198.51.100.4",
                "X-Azure-ClientIP": "203.0.113.99",
            },
            "198.51.100.4",
        ),
        # Without our Front Door's id, X-Azure-SocketIP is just a header anyone can send.
        (
            {
                "X-Azure-FDID": "other",
                "X-Azure-SocketIP": "198.51.100.4",
                "X-Forwarded-For": "10.1.1.1:5000",
            },
            "10.1.1.1",
        ),
        ({"X-Azure-SocketIP": "198.51.100.4"}, "unknown"),
        # The platform appends the peer it saw; earlier entries came from the client.
        ({"X-Forwarded-For": "1.2.3.4, 192.0.2.10:61234"}, "192.0.2.10"),
        ({"X-Forwarded-For": "[2001:db8::1]:443"}, "2001:db8::1"),
        ({"X-Forwarded-For": "2001:db8::2"}, "2001:db8::2"),
        ({}, "unknown"),
    ],
)
def test_the_client_address(headers: dict[str, str], expected: str) -> None:
    assert client_ip({k.lower(): v for k, v in headers.items()}, FRONT_DOOR) == expected
