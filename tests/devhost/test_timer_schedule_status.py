"""Timer schedule status as the host keeps it: which timers keep one, what a restart makes of
it (a missed occurrence runs past due once; a changed schedule starts afresh), and what the
function is handed."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from devhost.timer_triggers import ScheduleStatus, TableScheduleStatus, TimerScheduler
from tests.devhost.test_timer_triggers import (
    patched_clock,
    run,
    run_devhost_for_a_second,
    run_for,
    run_sync,
    timer_app,
)


@pytest.fixture
def store() -> TableScheduleStatus:
    return TableScheduleStatus(os.environ["AzureWebJobsStorage"])


def test_a_once_a_minute_timer_keeps_its_schedule_status(
    monkeypatch: pytest.MonkeyPatch, store: TableScheduleStatus
) -> None:
    """Only a schedule firing more than once a minute loses useMonitor: the host keeps it for
    `0 * * * * *`, so a minute missed while devhost was stopped runs past due at the next
    start."""
    calls: list[bool] = []
    functions = timer_app(f"minutely_{uuid.uuid4().hex[:8]}", "0 * * * * *", calls)
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 0, 59, 700_000, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False]  # 10:01:00 ran on time

    clock.set(datetime(2031, 3, 4, 10, 5, 30, tzinfo=UTC))  # stopped from 10:01 to 10:05:30
    run_devhost_for_a_second(functions, store)
    assert calls == [False, True]


def test_a_past_due_run_at_start_replaces_the_startup_run(
    monkeypatch: pytest.MonkeyPatch, store: TableScheduleStatus
) -> None:
    """The host's StartAsync runs a missed occurrence past due *or else* the runOnStartup run,
    never both."""
    calls: list[bool] = []
    name = f"hourly_{uuid.uuid4().hex[:8]}"
    functions = timer_app(name, "0 7 * * * *", calls, run_on_startup=True)
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 20, 0, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False]  # the startup run

    clock.set(datetime(2031, 3, 4, 11, 30, 0, tzinfo=UTC))  # 11:07 was missed
    run_devhost_for_a_second(functions, store)
    assert calls == [False, True]


def test_a_changed_schedule_starts_afresh_without_a_past_due_run(
    monkeypatch: pytest.MonkeyPatch, store: TableScheduleStatus
) -> None:
    """A status stored under another schedule is a schedule change (README: "a changed schedule
    starts afresh"), not a missed occurrence."""
    calls: list[bool] = []
    name = f"report_{uuid.uuid4().hex[:8]}"
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 20, 0, tzinfo=UTC))
    old = timer_app(name, "0 7 * * * *", calls)  # Next stored: 11:07
    run(run_for(TimerScheduler(old, run_sync=run_sync, status_store=store), 1.0))

    clock.set(datetime(2031, 3, 4, 11, 30, 0, tzinfo=UTC))
    new = timer_app(name, "0 45 * * * *", calls)  # redeployed at 11:30 for :45
    run(run_for(TimerScheduler(new, run_sync=run_sync, status_store=store), 1.0))
    assert calls == []


def test_a_manual_run_does_not_move_the_stored_schedule(
    monkeypatch: pytest.MonkeyPatch, store: TableScheduleStatus
) -> None:
    """`POST /admin/functions/{name}` leaves the schedule alone, so an interval timer's 10:10
    occurrence, missed while devhost was stopped, still runs past due."""
    calls: list[bool] = []
    name = f"every10_{uuid.uuid4().hex[:8]}"
    functions = timer_app(name, "00:10:00", calls)
    ran = datetime(2031, 3, 4, 10, 0, 0, tzinfo=UTC)
    store.put(name, ScheduleStatus(ran, datetime(2031, 3, 4, 10, 10, 0, tzinfo=UTC), ran))
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 5, 0, tzinfo=UTC))
    run(TimerScheduler(functions, run_sync=run_sync, status_store=store).trigger(name))
    assert calls == [False]

    clock.set(datetime(2031, 3, 4, 10, 12, 0, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False, True]


def test_a_durable_client_binding_on_a_timer_is_handed_the_client() -> None:
    """A timer with a `durableClient` input (the hourly housekeeping purges operations) is handed
    the client, as an HTTP function is."""
    app = func.FunctionApp()
    seen: list[str] = []

    @app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")
    @app.generic_input_binding(arg_name="client", type="durableClient")
    def purge_history(timer: func.TimerRequest, client: str) -> None:
        seen.append(client)

    scheduler = TimerScheduler(
        app.get_functions(), run_sync=run_sync, durable_client_json=lambda: '{"taskHubName": "h"}'
    )
    run(scheduler.trigger("purge_history"))
    assert seen == ['{"taskHubName": "h"}']


def test_the_function_is_handed_the_last_run_from_the_stored_status(
    monkeypatch: pytest.MonkeyPatch, store: TableScheduleStatus
) -> None:
    """The TimerRequest's schedule_status carries the previous run (here 10:07, read back from
    the stored status after a restart), as the host hands it over."""
    seen: list[Any] = []
    name = f"hourly_{uuid.uuid4().hex[:8]}"
    app = func.FunctionApp()

    async def hourly(timer: func.TimerRequest) -> None:
        seen.append(timer.schedule_status)

    hourly.__name__ = name
    app.timer_trigger(schedule="0 7 * * * *", arg_name="timer")(hourly)
    ran = datetime(2031, 3, 4, 10, 7, 0, tzinfo=UTC)
    store.put(name, ScheduleStatus(ran, datetime(2031, 3, 4, 11, 7, 0, tzinfo=UTC), ran))
    patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 30, 0, tzinfo=UTC))
    scheduler = TimerScheduler(app.get_functions(), run_sync=run_sync, status_store=store)

    async def scenario() -> None:
        task = asyncio.create_task(scheduler.run())
        try:
            await asyncio.sleep(0.5)  # the stored status has been read
            await scheduler.trigger(name)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    assert [status["Last"] for status in seen] == [ran.isoformat()]
    assert seen[0]["Next"] == datetime(2031, 3, 4, 11, 7, 0, tzinfo=UTC).isoformat()


def test_a_timer_without_schedule_monitoring_gets_no_schedule_status() -> None:
    """A timer firing more than once a minute keeps no status, so the host hands it none (`{}`
    once the Python worker has read the host's null ScheduleStatus), not a Last/Next it would
    never keep."""
    app = func.FunctionApp()
    seen: list[Any] = []

    @app.timer_trigger(schedule="*/10 * * * * *", arg_name="timer")
    def sweep(timer: func.TimerRequest) -> None:
        seen.append(timer.schedule_status)

    run(TimerScheduler(app.get_functions(), run_sync=run_sync).trigger("sweep"))
    assert seen == [{}]


def test_a_timer_firing_every_second_of_one_minute_an_hour_keeps_its_schedule_status(
    monkeypatch: pytest.MonkeyPatch, store: TableScheduleStatus
) -> None:
    """The host turns useMonitor off only for schedules whose fields from the minute up are all
    `*` (TimerSchedule.ShouldDisableScheduleMonitor): `* 30 * * * *` fires 60 times in a row,
    once an hour, and keeps its status, so an hour missed while devhost was stopped runs past
    due at the next start."""
    calls: list[bool] = []
    functions = timer_app(f"half_past_{uuid.uuid4().hex[:8]}", "* 30 * * * *", calls)
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 29, 59, 700_000, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False]  # 10:30:00 ran on time

    clock.set(datetime(2031, 3, 4, 12, 0, 0, tzinfo=UTC))  # stopped over 10:30:01 to 11:30:59
    run_devhost_for_a_second(functions, store)
    assert calls == [False, True]
