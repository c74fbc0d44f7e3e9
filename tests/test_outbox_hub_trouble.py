"""The outbox when the hub misbehaves: stalled, slow, or refusing an event for good.

A stalled hub costs each restaurant the SDK's timeouts and a slow one every send's delay; a sweep
that tried every restaurant anyway overran host.json's functionTimeout (5 min) from ~40
restaurants on, and the host restarts a worker whose function overran it. An event the hub
refuses for good (over its message size limit) must not hold back the restaurant's later ones.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from shared.config import get_settings
from shared.db import tenant_transaction
from shared.events import dispatch, publisher
from shared.events.dispatch import dispatcher, publish_due_events, publish_pending
from shared.events.outbox import append_event, events_after
from shared.events.publisher import WebPubSubPublisher
from shared.http_transport import StdlibTransport
from tests.order_fixtures import ON_SALE_MENU, open_shop
from tests.test_orders_outbox import _add_unsent_event

RESTAURANTS = 5


def publisher_at(port: int, read_timeout: float = 0.3) -> WebPubSubPublisher:
    """The app's publisher with the real SDK aimed at port (timeouts shortened for the test)."""
    client = WebPubSubServiceClient.from_connection_string(
        f"Endpoint=http://127.0.0.1:{port};AccessKey=test-hub-access-key-0123456789abcdef;Version=1.0;",
        hub="kitchen",
        transport=StdlibTransport(connection_timeout=1, read_timeout=read_timeout),
        retry_total=0,
        use_env_settings=False,
    )
    return WebPubSubPublisher(client)


class RawHub:
    """A real listening socket; each connection goes to the subclass's `_serve` on a thread."""

    def __init__(self, receive_buffer: int | None = None) -> None:
        self._listener = socket.socket()
        if receive_buffer is not None:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._held.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


class StalledHub(RawHub):
    """Reads requests and never answers them."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self._lock = threading.Lock()

    def _serve(self, connection: socket.socket) -> None:
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
        return publisher_at(self.port)


@pytest.fixture
def stalled_hub() -> Iterator[StalledHub]:
    hub = StalledHub()
    yield hub
    hub.close()


def _restaurants_with_a_ticket_unsent(tenants) -> list[str]:
    schemas = [
        tenants.create(slug=f"s{uuid.uuid4().hex[:10]}").schema_name for _ in range(RESTAURANTS)
    ]
    for schema in schemas:
        _add_unsent_event(schema)
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


class RefusingEndpoint:
    """A real HTTP endpoint standing in for the hub's REST API: a send `refusal(body)` names a
    status for (e.g. 413 over a size limit) gets that status, any other 202 and is kept."""

    def __init__(self, refusal: Callable[[bytes], int | None]) -> None:
        taken: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = refusal(body)
                if status is None:
                    taken.append(body)
                self.send_response(status or 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.taken = taken
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def restaurant_with_events(tenants, *notes: str, slug: str | None = None):
    """A restaurant whose outbox holds one unsent event per note, in that order (one commit)."""
    tenant = tenants.create(slug=slug)
    with tenant_transaction(tenant.schema_name) as conn:
        for note in notes:
            append_event(
                conn,
                type="order.placed",
                order_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                data={"note": note},
                groups=[f"t.{tenant.slug}.kitchen"],
            )
    return tenant


@pytest.mark.parametrize("status", [413, 400])  # over the size limit; never to be taken
def test_an_event_the_hub_refuses_for_good_does_not_hold_back_the_next_ones(
    tenants, status: int
) -> None:
    tenant = restaurant_with_events(tenants, "before", "x" * 5000, "after")
    hub = RefusingEndpoint(lambda body: status if len(body) > 2000 else None)
    try:
        result = publish_pending(
            tenant.schema_name, tenant.slug, publisher_at(hub.port), respect_backoff=False
        )
    finally:
        hub.close()

    assert [json.loads(body)["data"]["note"] for body in hub.taken] == ["before", "after"]
    assert not result.failed
    assert _unsent([tenant.schema_name]) == 0
    # Displays see seq 3 after seq 1 and catch up: the refused event is still served there.
    with tenant_transaction(tenant.schema_name) as conn:
        caught_up = [len(e.data["note"]) for e in events_after(conn, 1, limit=10)]
    assert caught_up == [5000, 5]
    with tenant_transaction(tenant.schema_name) as conn:
        (row,) = conn.execute("select last_error from outbox where seq = 2").fetchall()
    assert row["last_error"].startswith("undeliverable:")


# The service's message size limit, and an event over it: bigger than loopback holds in flight
# (tcp_wmem max 4 MB), so the body is still being sent when the answer comes, as a 1 MB one is
# on a real network.
LIMIT = 1024 * 1024
BIG = 6 * 1024 * 1024


class EarlyRefusingHub(RawHub):
    """Takes sends up to LIMIT bytes (202); answers a bigger one 413 from its Content-Length,
    before reading the body, and closes the connection, as RFC 9110 allows."""

    def __init__(self) -> None:
        super().__init__(receive_buffer=4096)
        self.taken: list[bytes] = []

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if length > LIMIT:
                connection.sendall(
                    b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
                return  # closes with the body unread
            while len(body) < length:
                body += connection.recv(65536)
            self.taken.append(body)
            connection.sendall(
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )


@pytest.fixture
def early_refusing_hub() -> Iterator[EarlyRefusingHub]:
    hub = EarlyRefusingHub()
    yield hub
    hub.close()


def test_an_event_the_hub_refuses_with_an_early_413_does_not_hold_back_the_next_ones(
    tenants, early_refusing_hub: EarlyRefusingHub
) -> None:
    # RFC 9110 lets a server answer 413 from Content-Length and close with the body unread; the
    # transport reads that answer (as urllib3 does) instead of reporting a reset connection,
    # which the outbox would have retried for good, every later event behind it.
    tenant = restaurant_with_events(tenants, "before", "x" * BIG, "after")

    result = publish_pending(
        tenant.schema_name,
        tenant.slug,
        publisher_at(early_refusing_hub.port, read_timeout=5),
        respect_backoff=False,
    )

    with tenant_transaction(tenant.schema_name) as conn:
        big = conn.execute("select last_error from outbox where seq = 2").fetchone()
    taken = [json.loads(body)["data"]["note"] for body in early_refusing_hub.taken]
    assert taken == ["before", "after"], f"hub took {taken}; the big event: {big['last_error']}"
    assert not result.failed
    assert _unsent([tenant.schema_name]) == 0


@pytest.fixture
def app_on_a_stalled_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StalledHub]:
    """WEBPUBSUB_CONNECTION names a hub that accepts connections and never answers."""
    hub = StalledHub()
    monkeypatch.setenv(
        "WEBPUBSUB_CONNECTION",
        f"Endpoint=http://127.0.0.1:{hub.port};AccessKey=stalled-hub-access-key-0123456789;"
        "Version=1.0;",
    )
    get_settings.cache_clear()
    publisher.service_client.cache_clear()
    yield hub
    hub.close()
    assert dispatcher.wait_idle(30)
    monkeypatch.undo()
    get_settings.cache_clear()
    publisher.service_client.cache_clear()


def test_a_stalled_hub_does_not_hold_back_other_restaurants_catch_up(
    client, tenants, auth_header, app_on_a_stalled_hub
) -> None:
    """With a hub that accepts connections and never answers, every notified restaurant's
    events get their seqs before the outbox thread's first send, so `events?after=` (the
    kitchen's catch-up while the hub is out) shows the ticket at once, not after one stalled
    send (5 s) for every restaurant before it."""
    # Menus with nothing sold out: an opening publish's 86 list would be a send before dinner.
    shops = [open_shop(client, tenants, auth_header, menu=ON_SALE_MENU) for _ in range(5)]
    for shop in shops:  # an order in each, as at dinner time
        assert shop.post_order().status_code == 201
    last = shops[-1]
    seen: list = []
    deadline = time.monotonic() + 10  # generous: seqs are assigned without the hub
    while not seen and time.monotonic() < deadline:
        answer = last.client.get(
            "/api/v1/kitchen/events", host=last.host, headers=last.staff(), params={"after": 0}
        )
        assert answer.status_code == 200, answer.text
        seen = answer.json()["events"]
        time.sleep(0.5)
    assert [event["type"] for event in seen] == ["order.placed"], "the kitchen never saw it"
