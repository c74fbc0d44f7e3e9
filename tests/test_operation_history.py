"""Operations are purged from the task hub 30 days after they began, once they have ended.

The app's hourly housekeeping timer (functions/order_timers.py) runs through devhost's timer
scheduler with a durable client bound to devhost's durable engine, as the host binds it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest

from devhost.timer_triggers import TimerScheduler
from functions import operation_history
from tests.devhost.durable_fixtures import EngineHost, loop_fixture, start  # noqa: F401
from tests.housekeeping_helpers import engine_fixture  # noqa: F401


async def _run_sync(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


def _exists(engine: EngineHost, instance_id: str) -> bool:
    return bool(engine.loop.status(engine.client, instance_id))


def test_ended_operations_older_than_the_retention_are_purged_and_others_kept(
    engine: EngineHost, app_functions: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_done = start(engine, "sequence", 1)
    old_running = start(engine, "approval")  # waits for an event: still running
    engine.wait_for(old_done)
    engine.wait_for(old_running, until=("Running",))
    time.sleep(1.0)
    cut = datetime.now(UTC)
    time.sleep(1.0)
    recent_done = start(engine, "sequence", 2)
    engine.wait_for(recent_done)
    # "30 days" scaled down: the cut falls between the old instances and the recent one.
    monkeypatch.setattr(
        operation_history,
        "OPERATION_RETENTION_DAYS",
        (datetime.now(UTC) - cut).total_seconds() / 86400,
    )
    scheduler = TimerScheduler(
        app_functions,
        run_sync=_run_sync,
        durable_client_json=engine.engine.client_binding_json,
    )

    engine.run(scheduler.trigger("purge_order_housekeeping"))

    assert not _exists(engine, old_done)
    assert _exists(engine, old_running)  # never while it runs
    assert _exists(engine, recent_done)


def test_operations_that_failed_or_were_terminated_are_purged_too(
    engine: EngineHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed and terminated operations are purged too: a failed provisioning's input holds the
    owner's e-mail."""
    failed = start(engine, "flaky_child", {"token": uuid.uuid4().hex, "succeed_on": 99})
    terminated = start(engine, "approval")
    engine.wait_for(terminated, until=("Running",))
    engine.run(engine.client.terminate(terminated, "review"))
    assert engine.wait_for(failed).runtime_status.value == "Failed"
    assert engine.wait_for(terminated).runtime_status.value == "Terminated"
    time.sleep(1.0)
    cut = datetime.now(UTC)
    time.sleep(1.0)
    # "30 days" scaled down: the cut falls after both instances began.
    monkeypatch.setattr(
        operation_history,
        "OPERATION_RETENTION_DAYS",
        (datetime.now(UTC) - cut).total_seconds() / 86400,
    )

    assert engine.run(operation_history.purge_ended_operations(engine.client)) >= 2

    assert not engine.loop.status(engine.client, failed)
    assert not engine.loop.status(engine.client, terminated)
