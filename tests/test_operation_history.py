"""Operations are purged from the task hub 30 days after they began, once they have ended.

The app's hourly housekeeping timer (functions/order_timers.py) runs through devhost's timer
scheduler with a durable client bound to devhost's durable engine, as the host binds it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devhost.timer_triggers import TimerScheduler
from functions import operation_history
from tests.devhost.durable_fixtures import (  # noqa: F401
    ClientLoop,
    EngineHost,
    loop_fixture,
    start,
)


@pytest.fixture
def host(loop: ClientLoop) -> Iterator[EngineHost]:
    engine_host = EngineHost(loop).start()
    yield engine_host
    engine_host.stop()


async def _run_sync(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


def _exists(host: EngineHost, instance_id: str) -> bool:
    return bool(host.loop.status(host.client, instance_id))


def test_ended_operations_older_than_the_retention_are_purged_and_others_kept(
    host: EngineHost, app_functions: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_done = start(host, "sequence", 1)
    old_running = start(host, "approval")  # waits for an event: still running
    host.wait_for(old_done)
    host.wait_for(old_running, until=("Running",))
    time.sleep(1.0)
    cut = datetime.now(UTC)
    time.sleep(1.0)
    recent_done = start(host, "sequence", 2)
    host.wait_for(recent_done)
    # "30 days" scaled down: the cut falls between the old instances and the recent one.
    monkeypatch.setattr(
        operation_history,
        "OPERATION_RETENTION_DAYS",
        (datetime.now(UTC) - cut).total_seconds() / 86400,
    )
    scheduler = TimerScheduler(
        app_functions,
        run_sync=_run_sync,
        durable_client_json=host.engine.client_binding_json,
    )

    host.run(scheduler.trigger("purge_order_housekeeping"))

    assert not _exists(host, old_done)
    assert _exists(host, old_running)  # never while it runs
    assert _exists(host, recent_done)
