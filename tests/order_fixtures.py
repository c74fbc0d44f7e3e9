"""Restaurants with a published menu, order requests, and a kitchen/customer WebSocket client."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from devhost.testclient import TestClient, TestResponse
from shared.db import tenant_transaction
from shared.events.dispatch import dispatcher
from shared.instants import whole_minute_up
from shared.menus.published import latest_snapshot
from shared.tenants import TenantRecord
from tests.conftest import IDENTITY, execute
from tests.tenant_fixtures import TenantFactory

JSON_PROTOCOL = "json.webpubsub.azure.v1"
ORDERS = "/api/v1/store/orders"

# Prices in cents. Toppings: the first two listed are free, then each costs its delta.
MENU: dict[str, Any] = {
    "categories": [
        {
            "name": "Pizza",
            "items": [
                {
                    "name": "Margherita",
                    "price": 900,
                    "station": "oven",
                    "allergens": ["gluten", "milk"],
                    "modifier_groups": [
                        {
                            "name": "Size",
                            "min": 1,
                            "max": 1,
                            "options": [
                                {"name": "Regular", "price_delta": 0},
                                {"name": "Large", "price_delta": 300},
                            ],
                        },
                        {
                            "name": "Toppings",
                            "min": 0,
                            "max": 3,
                            "free_quantity": 2,
                            "options": [
                                {"name": "Ham", "price_delta": 150},
                                {"name": "Olives", "price_delta": 100},
                                {"name": "Mushrooms", "price_delta": 120},
                                {"name": "Anchovies", "price_delta": 200},
                                {"name": "Truffle", "price_delta": 500, "available": False},
                            ],
                        },
                    ],
                },
                {"name": "Calzone", "price": 1100, "station": "oven", "available": False},
            ],
        },
        {
            "name": "Drinks",
            "items": [
                {
                    "name": "Cola",
                    "price": 250,
                    "station": "bar",
                    "modifier_groups": [
                        {
                            "name": "Ice",
                            "min": 0,
                            "max": 1,
                            "options": [{"name": "No ice", "price_delta": 0}],
                        }
                    ],
                },
            ],
        },
        {"name": "Staff only", "visible": False, "items": [{"name": "Family meal", "price": 0}]},
    ]
}


def _on_sale(menu: Any) -> Any:
    """A menu document without its `available: false` flags."""
    if isinstance(menu, dict):
        return {key: _on_sale(value) for key, value in menu.items() if key != "available"}
    if isinstance(menu, list):
        return [_on_sale(value) for value in menu]
    return menu


# MENU with nothing sold out: its opening publish sends no 86 list (`menu.sold_out`), so the
# restaurant's first event is its first order's.
ON_SALE_MENU: dict[str, Any] = _on_sale(MENU)


@dataclass
class MenuIds:
    """Ids of the published menu by name: items["Cola"], options["Margherita/Toppings/Ham"]."""

    items: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    def option(self, path: str) -> str:
        return self.options[path]


@dataclass
class Shop:
    """A restaurant under test: its host, ids of its menu, and helpers to order from it."""

    client: TestClient
    tenant: TenantRecord
    menu: MenuIds
    auth: Callable[..., dict[str, str]]

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def schema(self) -> str:
        return self.tenant.schema_name

    @property
    def host(self) -> str:
        return f"{self.slug}.stelly.test"

    def last_seq(self) -> int:
        """The newest event's seq (its opening publish told the displays its 86 list): where a
        test's own events start from."""
        [row] = execute(f"select coalesce(max(seq), 0) as seq from {self.schema}.outbox")
        return row["seq"]

    def staff(self) -> dict[str, str]:
        return self.auth("staff", tenant=self.slug)

    def owner(self) -> dict[str, str]:
        return self.auth("owner", tenant=self.slug)

    def pizza_line(self, *toppings: str, size: str = "Regular", quantity: int = 1) -> dict:
        options = [self.menu.option(f"Margherita/Size/{size}")]
        options += [self.menu.option(f"Margherita/Toppings/{name}") for name in toppings]
        return {
            "item_id": self.menu.items["Margherita"],
            "quantity": quantity,
            "option_ids": options,
        }

    def cola_line(self, quantity: int = 1) -> dict:
        return {"item_id": self.menu.items["Cola"], "quantity": quantity}

    def order_body(self, *lines: dict, tip: int = 0) -> dict:
        return {
            "lines": list(lines) or [self.pizza_line()],
            "fulfilment": {"type": "pickup", "name": "Ada", "phone": "+44 20 7946 0000"},
            "tip": tip,
        }

    def body_with_text(self, path: str, value: str) -> dict:
        """A pizza pickup whose name (path `fulfilment.name`) or first line's note
        (`lines[0].note`) is value: the two texts a customer types."""
        body = self.order_body(self.pizza_line())
        if path == "fulfilment.name":
            body["fulfilment"]["name"] = value
        else:
            body["lines"][0]["note"] = value
        return body

    def dine_in_body(self, label: str) -> dict:
        """A Cola ordered to a new table labelled label, through its QR code's token."""
        table = self.client.post(
            "/api/v1/admin/tables", host=self.host, headers=self.owner(), json={"label": label}
        )
        assert table.status_code == 201, table.text
        fulfilment = {"type": "dine_in", "table_token": table.json()["qr_token"]}
        return {"lines": [self.cola_line()], "fulfilment": fulfilment}

    def post_order(
        self, body: dict | None = None, *, key: str | None = None, ip: str | None = None
    ) -> TestResponse:
        headers = {"X-Forwarded-For": ip or f"10.9.{uuid.uuid4().int % 250}.{time.time_ns() % 250}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(
            ORDERS, host=self.host, headers=headers, json=body or self.order_body()
        )

    def place(self, body: dict | None = None) -> dict:
        response = self.post_order(body)
        assert response.status_code == 201, response.text
        return response.json()

    def transition(
        self, order: dict, to: str, version: int, *, by: str | None = None, **extra: Any
    ) -> TestResponse:
        """Move order as a staff member (`by`: their token's subject, when it matters)."""
        staff = self.auth("staff", tenant=self.slug, subject=by) if by else self.staff()
        return self.client.post(
            f"/api/v1/kitchen/orders/{order['id']}/transition",
            host=self.host,
            headers=staff,
            json={"to": to, "expected_version": version, **extra},
        )

    def walk_to(self, order: dict, status: str) -> int:
        """Move a placed order to status by the shortest legal path (a cancel says why); the
        order's version then."""
        path = {
            "placed": (),
            "accepted": ("accepted",),
            "preparing": ("accepted", "preparing"),
            "ready": ("accepted", "preparing", "ready"),
            "completed": ("accepted", "preparing", "ready", "completed"),
            "cancelled": ("cancelled",),
        }[status]
        for version, to in enumerate(path, start=1):
            extra = {"reason": "Out of dough"} if to == "cancelled" else {}
            moved = self.transition(order, to, version, **extra)
            assert moved.status_code == 200, moved.text
        return len(path) + 1

    def customer_view(self, order: dict) -> TestResponse:
        return self.client.get(
            f"{ORDERS}/{order['id']}", host=self.host, headers=order_access(order)
        )


def outbox_events(shop: Shop, order: dict) -> list[dict]:
    """The order's events as the outbox holds them (type, data, groups), in order: what the
    displays and the customer's page are sent."""
    return execute(
        f"select type, data, groups from {shop.schema}.outbox where order_id = %s "
        "order by position",
        [order["id"]],
    )


def promised_between(before: datetime, after: datetime, minutes: int) -> set[str]:
    """The ready_by a kitchen promising `minutes` between before and after can have given."""
    return {whole_minute_up(at + timedelta(minutes=minutes)).isoformat() for at in (before, after)}


def order_access(order: dict) -> dict[str, str]:
    """The header a customer's app opens its order with: the receipt's access token."""
    return {"Authorization": f"Bearer {order['access_token']}"}


def publish_menu(
    client: TestClient, tenant: TenantRecord, owner: dict[str, str], menu: dict[str, Any]
) -> MenuIds:
    """Import and publish menu through the admin API; ids read back from the snapshot."""
    host = f"{tenant.slug}.stelly.test"
    imported = client.post("/api/v1/admin/menu/import", host=host, headers=owner, json=menu)
    assert imported.status_code == 200, imported.text
    published = client.post("/api/v1/admin/menu/publish", host=host, headers=owner)
    assert published.status_code == 201, published.text
    with tenant_transaction(tenant.schema_name) as conn:
        snapshot = latest_snapshot(conn)
    assert snapshot is not None
    ids = MenuIds()
    for category in snapshot["categories"]:
        for item in category["items"]:
            ids.items[item["name"]] = item["id"]
            for group in item["modifier_groups"]:
                for option in group["options"]:
                    ids.options[f"{item['name']}/{group['name']}/{option['name']}"] = option["id"]
    return ids


def open_shop(
    client: TestClient,
    tenants: TenantFactory,
    auth_header: Callable[..., dict[str, str]],
    *,
    settings: dict[str, Any] | None = None,
    menu: dict[str, Any] = MENU,
) -> Shop:
    """A new active restaurant (EUR, UTC, 20 % exclusive tax unless settings say otherwise)."""
    base = {
        "business_name": "Test Pizzeria",
        "currency": "EUR",
        "timezone": "UTC",
        "locale": "en",
        "tax": {"rate_bp": 2000, "inclusive": False},
    }
    tenant = tenants.create(settings={**base, **(settings or {})})
    ids = publish_menu(client, tenant, auth_header("owner", tenant=tenant.slug), menu)
    # The publish told the displays its 86 list: sent before a test's display connects.
    settle()
    return Shop(client, tenant, ids, auth_header)


@pytest.fixture(name="shop")
def shop_fixture(client: TestClient, tenants: TenantFactory, auth_header) -> Shop:
    """A restaurant with the test menu; import `shop_fixture` to use `shop` in a module."""
    return open_shop(client, tenants, auth_header)


def _mint(role: str, tenant: str | None = None, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {IDENTITY.mint(role=role, tenant=tenant, **claims)}"}


@pytest.fixture(scope="module", name="module_shop")
def module_shop_fixture(client: TestClient, migrated_public: None) -> Iterator[Shop]:
    """One restaurant for a whole module, for tests that only add orders of their own."""
    factory = TenantFactory()
    yield open_shop(client, factory, _mint)
    factory.cleanup()


def closed_hours(now: datetime | None = None) -> dict[str, list[list[str]]]:
    """Opening hours (UTC) whose only window is one minute, six hours from now."""
    opens = (now or datetime.now(UTC)) + timedelta(hours=6)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[opens.weekday()]
    start = opens.strftime("%H:%M")
    end = "24:00" if start == "23:59" else (opens + timedelta(minutes=1)).strftime("%H:%M")
    return {day: [[start, end]]}


class LiveClient:
    """A Web PubSub client on the JSON subprotocol that collects the events it receives."""

    def __init__(self, url: str) -> None:
        self._stack = contextlib.ExitStack()
        self.socket: ClientConnection = self._stack.enter_context(
            connect(url, subprotocols=[JSON_PROTOCOL], open_timeout=5)
        )
        connected = json.loads(self.socket.recv(timeout=5))
        assert connected["event"] == "connected", connected
        self._ack = 0

    def events(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The next count events (message data), in arrival order."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"got {len(found)} of {count} events: {found}"
            frame = json.loads(self.socket.recv(timeout=remaining))
            if frame.get("type") == "message":
                found.append(frame["data"])
        return found

    def nothing_more(self, wait_s: float = 0.5) -> list[dict[str, Any]]:
        """Events that arrive within wait_s (expected: none)."""
        extra = []
        deadline = time.monotonic() + wait_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(self.socket.recv(timeout=remaining))
            except TimeoutError:
                break
            if frame.get("type") == "message":
                extra.append(frame["data"])
        return extra

    def join(self, group: str) -> dict[str, Any]:
        """Ask to join group; the hub's ack (`success` false + error when forbidden)."""
        self._ack += 1
        self.socket.send(json.dumps({"type": "joinGroup", "group": group, "ackId": self._ack}))
        deadline = time.monotonic() + 5
        while True:
            frame = json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if frame.get("type") == "ack" and frame.get("ackId") == self._ack:
                return frame

    def close(self) -> None:
        self._stack.close()


Clients = Callable[[str], LiveClient]  # what `live_clients` hands a test: open one on a URL
RELIABLE = "json.reliable.webpubsub.azure.v1"  # sequence ids, acks and reconnection


@pytest.fixture(name="live_clients")
def live_clients_fixture() -> Iterator[Clients]:
    """live_clients(url) → a connected LiveClient, closed after the test."""
    opened: list[LiveClient] = []

    def open_client(url: str) -> LiveClient:
        opened.append(LiveClient(url))
        return opened[-1]

    yield open_client
    for live in opened:
        live.close()


def settle() -> None:
    """Wait until the post-commit publisher has nothing left to do."""
    assert dispatcher.wait_idle(10), "the outbox dispatcher did not settle"
