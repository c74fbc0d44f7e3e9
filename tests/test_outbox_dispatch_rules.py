"""How the outbox sends a restaurant's kitchen events: batches, backoff, deadlines, events the
hub refuses, sweeps across restaurants and the pending gauge.

Hubs that must misbehave on cue are small publishers of the app's EventPublisher shape (or a
real HTTP endpoint answering 400); the outbox rows are real, in Postgres.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta

import pytest

from shared.db import tenant_transaction, transaction
from shared.events import dispatch
from shared.events.dispatch import backoff_seconds, publish_pending
from shared.events.outbox import events_after
from shared.events.publisher import PublishError
from tests.test_outbox_hub_trouble import restaurant_with_events


def _clock() -> datetime:
    with transaction() as conn:
        return conn.execute("select clock_timestamp() as t").fetchone()["t"]


class Recorder:
    """An EventPublisher that keeps what the hub was given."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def publish(self, message, groups) -> None:
        self.sent.append(dict(message))


class DownHub:
    """An EventPublisher whose hub never takes an event (an outage that may pass)."""

    def publish(self, message, groups) -> None:
        raise PublishError("ServiceRequestError: connection refused")


class SlowHub:
    """An EventPublisher whose hub takes every event after delay_s."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.sent: list[str] = []

    def publish(self, message, groups) -> None:
        time.sleep(self.delay_s)
        self.sent.append(message["data"]["note"])


def test_a_backlog_longer_than_one_batch_goes_out_in_one_publish(tenants) -> None:
    """A backlog past one batch (the hub back after an outage) goes out in one call, not a
    batch per sweep."""
    notes = [f"ticket {n}" for n in range(dispatch.BATCH + 20)]
    tenant = restaurant_with_events(tenants, *notes)
    hub = Recorder()
    result = publish_pending(tenant.schema_name, tenant.slug, hub, respect_backoff=False)
    assert [m["data"]["note"] for m in hub.sent] == notes
    assert result.published == len(notes) and not result.failed


def test_backoff_doubles_from_one_second_and_stops_at_thirty() -> None:
    """README: 1, 2, 4, ... at most 30 s."""
    assert [backoff_seconds(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_seconds(40) == 30


def test_each_failed_send_waits_the_backoff_for_that_many_failures(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nth failure schedules the retry the nth backoff step ahead, capped at 30 s."""
    monkeypatch.setattr(dispatch, "RETRY_AFTER_FAILURE_S", 0.0)  # let every call try the hub
    tenant = restaurant_with_events(tenants, "stuck")
    for failures, expected in enumerate([1, 2, 4, 8, 16, 30, 30], start=1):
        before = _clock()
        result = publish_pending(tenant.schema_name, tenant.slug, DownHub(), respect_backoff=False)
        after = _clock()
        assert result.failed and result.published == 0
        with tenant_transaction(tenant.schema_name) as conn:
            row = conn.execute("select attempts, next_attempt_at from outbox").fetchone()
        assert row["attempts"] == failures
        # The failure was recorded between `before` and `after`, `expected` seconds ahead.
        wait = timedelta(seconds=expected)
        assert row["next_attempt_at"] - after <= wait <= row["next_attempt_at"] - before, failures


def test_a_sweep_deadline_stops_one_restaurants_long_backlog_too(tenants) -> None:
    """The sweep's deadline (inside host.json's functionTimeout) also stops one restaurant's
    backlog; the rest goes with the next sweep, in order."""
    tenant = restaurant_with_events(tenants, "a", "b", "c", "d", "e", "f")
    hub = SlowHub(0.5)
    result = publish_pending(
        tenant.schema_name,
        tenant.slug,
        hub,
        respect_backoff=True,
        deadline=time.monotonic() + 1.0,
    )
    assert len(hub.sent) < 6 and result.published == len(hub.sent)
    assert hub.sent == ["a", "b", "c", "d", "e", "f"][: len(hub.sent)]
    rest = Recorder()
    publish_pending(tenant.schema_name, tenant.slug, rest, respect_backoff=True)
    assert hub.sent + [m["data"]["note"] for m in rest.sent] == ["a", "b", "c", "d", "e", "f"]


class PartlyDownHub:
    """An EventPublisher refusing (for now) the events of the restaurants in `failing`."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.tried: list[str] = []

    def publish(self, message, groups) -> None:
        self.tried.append(message["tenant"])
        if message["tenant"] in self.failing:
            raise PublishError("HttpResponseError: (429) too many requests")


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_sweep_stops_after_three_failures_in_a_row_not_three_in_all(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restaurant that sent in between shows the hub works: two failures before it and two
    after must not end the sweep."""
    tag = uuid.uuid4().hex[:8]
    slugs = [f"{letter}{tag}" for letter in "abcde"]  # the sweep takes them in this order here
    for slug in slugs:
        restaurant_with_events(tenants, "a ticket", slug=slug)
    monkeypatch.setattr(dispatch.random, "shuffle", lambda items: items.sort(key=lambda t: t[1]))
    hub = PartlyDownHub(failing={slugs[0], slugs[1], slugs[3]})
    dispatch.publish_due_events(hub)
    assert [slug for slug in hub.tried if slug in slugs] == slugs


@pytest.mark.usefixtures("webpubsub_hub")
def test_a_restaurant_suspended_after_an_order_still_gets_that_ticket_out(tenants) -> None:
    """A ticket committed just before the restaurant was suspended still reaches the kitchen."""
    tenant = restaurant_with_events(tenants, "last order before the suspension")
    with transaction() as conn:
        conn.execute("update tenants set status = 'suspended' where slug = %s", [tenant.slug])
    hub = Recorder()
    dispatch.publish_due_events(hub)
    assert [(m["tenant"], m["data"]["note"]) for m in hub.sent if m["tenant"] == tenant.slug] == [
        (tenant.slug, "last order before the suspension")
    ]


class GatedHub:
    """An EventPublisher that holds each send of a restaurant in `gates` until its gate opens."""

    def __init__(self, gates: dict[str, threading.Event]) -> None:
        self.gates = gates
        self.entered = {slug: threading.Event() for slug in gates}

    def publish(self, message, groups) -> None:
        slug = message["tenant"]
        if slug in self.gates:
            self.entered[slug].set()
            assert self.gates[slug].wait(20)


def test_two_restaurants_notified_together_both_get_seqs_before_the_first_send(tenants) -> None:
    """Every restaurant the outbox thread was told about gets its seqs before its first send,
    so a send hanging on a stalled hub keeps no ticket out of `events?after=`."""
    first, second, third = (restaurant_with_events(tenants, "ticket") for _ in range(3))
    gates = {first.slug: threading.Event(), second.slug: threading.Event()}
    hub = GatedHub(gates)
    outbox = dispatch.OutboxDispatcher(publisher=lambda: hub)
    try:
        outbox.notify(first.schema_name, first.slug)
        assert hub.entered[first.slug].wait(10)  # the thread is busy sending the first's ticket
        outbox.notify(second.schema_name, second.slug)
        outbox.notify(third.schema_name, third.slug)
        gates[first.slug].set()
        assert hub.entered[second.slug].wait(10)  # the second's send hangs, as on a stalled hub
        with tenant_transaction(third.schema_name) as conn:
            caught_up = [(e.seq, e.data["note"]) for e in events_after(conn, 0, limit=10)]
        assert caught_up == [(1, "ticket")]
    finally:
        for gate in gates.values():
            gate.set()
        assert outbox.wait_idle(20)


class RefusingHub:
    """An EventPublisher whose hub takes every event but those noted in `refuse` (refused for
    good when `permanent`, else for now)."""

    def __init__(self, refuse: set[str], *, permanent: bool) -> None:
        self.refuse = refuse
        self.permanent = permanent

    def publish(self, message, groups) -> None:
        if message["data"].get("note") in self.refuse:
            raise PublishError("HttpResponseError: refused", permanent=self.permanent)


def _gauge(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """What the outbox reports to the `stelly.events.pending` gauge, in order."""
    reported: list[tuple[str, int]] = []
    monkeypatch.setattr(
        dispatch, "record_events_pending", lambda slug, n: reported.append((slug, n))
    )
    return reported


def test_the_pending_gauge_drops_to_zero_when_the_last_event_is_set_aside(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending gauge (an outage alert) drops to 0 when the backlog ends with an event the
    hub refused for good."""
    reported = _gauge(monkeypatch)
    tenant = restaurant_with_events(tenants, "too big")
    hub = RefusingHub({"too big"}, permanent=True)
    result = publish_pending(tenant.schema_name, tenant.slug, hub, respect_backoff=False)
    assert not result.failed
    assert [n for slug, n in reported if slug == tenant.slug][-1:] == [0]


@pytest.mark.usefixtures("webpubsub_hub")
def test_the_pending_gauge_after_a_sweep_counts_only_unsent_events(
    tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gauge counts unsent events only, not every event the restaurant ever sent."""
    reported = _gauge(monkeypatch)
    tenant = restaurant_with_events(tenants, "sent", "stuck")
    dispatch.publish_due_events(RefusingHub({"stuck"}, permanent=False))
    assert [n for slug, n in reported if slug == tenant.slug][-1:] == [1]
