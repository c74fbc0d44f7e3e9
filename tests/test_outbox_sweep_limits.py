"""The outbox timer's sweep ends well inside functionTimeout whatever the hub does.

A stalled hub costs each restaurant the SDK's timeouts and a slow one every send's delay; a sweep
that tried every restaurant anyway overran host.json's functionTimeout (5 min) from ~40
restaurants on, and the host restarts a worker whose function overran it.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from shared.db import tenant_transaction
from shared.events import dispatch
from shared.events.dispatch import publish_due_events
from shared.events.outbox import append_event
from shared.events.publisher import WebPubSubPublisher
from shared.http_transport import StdlibTransport

RESTAURANTS = 5


class StalledHub:
    """A real listening socket that reads requests and never answers them."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.requests = 0
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._held.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        while True:
            try:
                data = connection.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.requests += data.count(b"POST /api/hubs/")

    def publisher(self) -> WebPubSubPublisher:
        """The app's publisher with the real SDK aimed here (timeouts shortened for the test)."""
        client = WebPubSubServiceClient.from_connection_string(
            f"Endpoint=http://127.0.0.1:{self.port};AccessKey=stalled-hub-access-key-0123456789abcdef;Version=1.0;",
            hub="kitchen",
            transport=StdlibTransport(connection_timeout=1, read_timeout=0.3),
            retry_total=0,
            use_env_settings=False,
        )
        return WebPubSubPublisher(client)

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def stalled_hub() -> Iterator[StalledHub]:
    hub = StalledHub()
    yield hub
    hub.close()


def _restaurants_with_a_ticket_unsent(tenants) -> list[str]:
    schemas = []
    for _ in range(RESTAURANTS):
        schema = tenants.create(slug=f"s{uuid.uuid4().hex[:10]}").schema_name
        with tenant_transaction(schema) as conn:
            append_event(
                conn,
                type="order.placed",
                order_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                data={"ticket_number": "#0001"},
                groups=["t.sweep.kitchen"],
            )
        schemas.append(schema)
    return schemas


def _unsent(schemas: list[str]) -> int:
    total = 0
    for schema in schemas:
        with tenant_transaction(schema) as conn:
            row = conn.execute("select count(*) as n from outbox where published_at is null")
            total += row.fetchone()["n"]
    return total


def _sweep_until_sent(schemas: list[str], attempts: int = 40) -> int:
    """Sweep with the app's own hub until the restaurants' events are out (backoff is 1 s)."""
    for _ in range(attempts):
        publish_due_events()
        if _unsent(schemas) == 0:
            return 0
        time.sleep(0.3)
    return _unsent(schemas)


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_stalled_hub_is_tried_for_three_restaurants_not_for_every_one(
    tenants, stalled_hub: StalledHub
) -> None:
    schemas = _restaurants_with_a_ticket_unsent(tenants)

    result = publish_due_events(stalled_hub.publisher())

    assert result.failed and result.published == 0
    # One hub serves every restaurant: three in a row failing stop the sweep.
    assert stalled_hub.requests == 3
    assert _unsent(schemas) == RESTAURANTS
    # Nothing is lost: once the hub answers, the next sweeps send every ticket.
    assert _sweep_until_sent(schemas) == 0


class SlowHub:
    """A hub that takes every event, each after delay_s: degraded but working."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.sent = 0

    def publish(self, message: dict, groups: list[str]) -> None:
        time.sleep(self.delay_s)
        self.sent += 1


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_slow_hub_ends_the_sweep_when_its_time_is_up_and_the_next_sweep_goes_on(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scaled down: a 0.5 s budget and 0.3 s a send instead of 120 s and a hub's worst.
    schemas = _restaurants_with_a_ticket_unsent(tenants)
    monkeypatch.setattr(dispatch, "SWEEP_BUDGET_S", 0.5, raising=False)
    hub = SlowHub(0.3)

    result = publish_due_events(hub)

    assert hub.sent == 2  # the third would have started after the budget
    assert not result.failed and result.published == 2
    assert _unsent(schemas) >= RESTAURANTS - 2
    assert _sweep_until_sent(schemas) == 0
