"""Timer triggers: runOnStartup, manual runs, past-due runs, bindings (schedules: test_ncrontab)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

import devhost.timer_triggers as timer_triggers
from devhost.timer_triggers import ScheduleStatus, TableScheduleStatus, TimerScheduler
from tests.devhost.trigger_fixture_app import Recorder, build_app


async def run_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Stands in for the server's thread pool."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def storage_connection() -> str:
    return os.environ["AzureWebJobsStorage"]


def scheduler_for(recorder: Recorder, **options: Any) -> TimerScheduler:
    functions = build_app("uploads-test", recorder).get_functions()
    return TimerScheduler(functions, run_sync=run_sync, **options)


def test_run_on_startup_fires_at_once() -> None:
    recorder = Recorder()
    scheduler = scheduler_for(recorder)

    async def scenario() -> None:
        task = asyncio.create_task(scheduler.run())
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(scenario())
    assert [c["past_due"] for c in recorder.of("new_year")] == [False]


def test_trigger_runs_now_and_rejects_unknown_names() -> None:
    recorder = Recorder()
    scheduler = scheduler_for(recorder)
    run(scheduler.trigger("every_five_seconds"))
    assert [c["past_due"] for c in recorder.of("every_five_seconds")] == [False]
    with pytest.raises(KeyError, match="nope"):
        run(scheduler.trigger("nope"))


def test_same_timer_never_runs_concurrently_with_itself() -> None:
    app = func.FunctionApp()
    spans: list[tuple[float, float]] = []

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
    async def slow(timer: func.TimerRequest) -> None:
        start = time.monotonic()
        await asyncio.sleep(0.2)
        spans.append((start, time.monotonic()))

    scheduler = TimerScheduler(app.get_functions(), run_sync=run_sync)

    async def scenario() -> None:
        await asyncio.gather(scheduler.trigger("slow"), scheduler.trigger("slow"))

    run(scenario())
    assert len(spans) == 2 and spans[1][0] >= spans[0][1]


def test_fires_on_schedule_and_flags_past_due_when_behind() -> None:
    app = func.FunctionApp()
    calls: list[tuple[datetime, bool]] = []

    @app.timer_trigger(schedule="* * * * * *", arg_name="tick")
    def every_second(tick: func.TimerRequest) -> None:
        calls.append((datetime.now(UTC), tick.past_due))

    scheduler = TimerScheduler(app.get_functions(), run_sync=run_sync, past_due_tolerance=0.25)

    async def scenario() -> None:
        task = asyncio.create_task(scheduler.run())
        try:
            while not calls:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # Let the scheduler pick the next occurrence and sleep.
            # Stall the event loop past the next occurrence, as a busy host would.
            time.sleep(1.5)
            while len(calls) < 2:
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(asyncio.wait_for(scenario(), 10))
    (first_at, first_late), (_, second_late) = calls[:2]
    # On time, the first run starts just after a whole second (never before it).
    assert first_at.microsecond < 500_000 and not first_late
    assert second_late


def test_unsuppliable_bindings_and_bad_schedules_fail_at_start_up() -> None:
    app = func.FunctionApp()

    @app.timer_trigger(schedule="0 0 * * * *", arg_name="timer")
    @app.blob_output(arg_name="report", path="reports/x.txt", connection="AzureWebJobsStorage")
    def hourly(timer: func.TimerRequest, report: func.Out[str]) -> None:
        report.set("x")

    with pytest.raises(ValueError, match=r"'hourly'.*'report'"):
        TimerScheduler(app.get_functions(), run_sync=run_sync)

    # A durable client is supplied only where there is a durable engine to bind it to.
    durable_app = df.DFApp()

    @durable_app.timer_trigger(schedule="0 0 * * * *", arg_name="timer")
    @durable_app.durable_client_input(client_name="client")
    async def purge(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
        del timer, client

    functions = durable_app.get_functions()  # may run once per app
    with pytest.raises(ValueError, match=r"'purge'.*'client' \(durableClient\)"):
        TimerScheduler(functions, run_sync=run_sync)
    TimerScheduler(functions, run_sync=run_sync, durable_client_json=str)

    app = func.FunctionApp()

    @app.timer_trigger(schedule="0 0 25 * * *", arg_name="timer")
    def broken(timer: func.TimerRequest) -> None:
        del timer

    with pytest.raises(ValueError, match=r"'broken'.*hour field '25'"):
        TimerScheduler(app.get_functions(), run_sync=run_sync)


def test_schedule_from_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    app = func.FunctionApp()
    calls: list[bool] = []

    @app.timer_trigger(schedule="%REPORT_SCHEDULE%", arg_name="timer")
    def nightly(timer: func.TimerRequest) -> None:
        calls.append(timer.past_due)

    functions = app.get_functions()
    monkeypatch.setenv("REPORT_SCHEDULE", "0 15 3 * * *")
    run(TimerScheduler(functions, run_sync=run_sync).trigger("nightly"))
    assert calls == [False]
    monkeypatch.setenv("REPORT_SCHEDULE", "15 3 * * * * *")
    with pytest.raises(ValueError, match=r"'nightly'.*six fields"):
        TimerScheduler(functions, run_sync=run_sync)
    monkeypatch.delenv("REPORT_SCHEDULE")
    with pytest.raises(ValueError, match="REPORT_SCHEDULE"):
        TimerScheduler(functions, run_sync=run_sync)


def test_a_run_over_function_timeout_is_logged_and_the_timer_fires_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = func.FunctionApp()
    runs: list[float] = []

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
    def stuck(timer: func.TimerRequest) -> None:
        runs.append(time.monotonic())
        time.sleep(0.5)

    scheduler = TimerScheduler(app.get_functions(), run_sync=run_sync, function_timeout_s=0.1)

    async def scenario() -> None:
        await asyncio.wait_for(scheduler.trigger("stuck"), 2)
        await asyncio.wait_for(scheduler.trigger("stuck"), 2)

    run(scenario())
    assert len(runs) == 2
    assert sum("exceeded functionTimeout" in r.getMessage() for r in caplog.records) == 2


def test_start_runs_a_timer_in_the_background() -> None:
    # The admin endpoint answers 202 at once, as the host's does, and the run goes on after.
    app = func.FunctionApp()
    finished: list[bool] = []

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
    async def nightly(timer: func.TimerRequest) -> None:
        await asyncio.sleep(0.2)
        finished.append(True)

    scheduler = TimerScheduler(app.get_functions(), run_sync=run_sync)

    async def scenario() -> None:
        scheduler.start("nightly")
        assert finished == []
        with pytest.raises(KeyError):
            scheduler.start("nope")
        await asyncio.sleep(0.4)

    run(scenario())
    assert finished == [True]


class FakeClock:
    """Wall clock shifted by an adjustable offset; devhost's sleeps stay real."""

    def __init__(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


async def run_for(scheduler: TimerScheduler, seconds: float) -> None:
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.sleep(seconds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def patched_clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> FakeClock:
    """devhost's timer clock set to `at`, for the test to move on from there."""
    clock = FakeClock(at)
    monkeypatch.setattr(timer_triggers, "_now", clock.now)
    return clock


def run_devhost_for_a_second(functions: list[Any], store: TableScheduleStatus) -> None:
    """One start of devhost's timers, a second long, keeping their schedule status in store."""
    run(run_for(TimerScheduler(functions, run_sync=run_sync, status_store=store), 1.0))


def test_an_occurrence_missed_while_devhost_was_stopped_runs_past_due_at_start(
    monkeypatch: pytest.MonkeyPatch, storage_connection: str
) -> None:
    # With useMonitor the host keeps each timer's schedule status in storage; on start, an
    # occurrence missed while it was down runs once, at once, with past_due.
    store = TableScheduleStatus(storage_connection)
    name = f"hourly_{uuid.uuid4().hex[:8]}"
    app = func.FunctionApp()
    calls: list[bool] = []

    async def hourly(timer: func.TimerRequest) -> None:
        calls.append(timer.past_due)

    hourly.__name__ = name
    app.timer_trigger(schedule="0 7 * * * *", arg_name="timer", use_monitor=True)(hourly)
    functions = app.get_functions()

    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 6, 59, 700_000, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False]  # 10:07 ran on time

    # devhost was stopped from 10:30 to 12:30: the 11:07 and 12:07 occurrences were missed.
    clock.set(datetime(2031, 3, 4, 12, 30, 0, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False, True], "no past-due run after the restart"


def test_an_occurrence_that_passed_during_a_long_run_is_run_when_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The host computes the next occurrence from a run's start (InvokeJobFunction), so one that
    # fell due during a long run fires as soon as the run ends.
    app = func.FunctionApp()
    starts: list[datetime] = []
    clock = FakeClock(datetime(2031, 3, 4, 9, 59, 59, 700_000, tzinfo=UTC))

    @app.timer_trigger(schedule="0 * * * * *", arg_name="timer")
    async def sweep(timer: func.TimerRequest) -> None:
        starts.append(clock.now())
        if len(starts) == 1:
            clock.advance(timedelta(seconds=75))  # this sweep takes 75 s: past 10:01:00

    monkeypatch.setattr(timer_triggers, "_now", clock.now)
    run(run_for(TimerScheduler(app.get_functions(), run_sync=run_sync), 1.5))

    # 10:00 ran; 10:01 fell due during that run and must run once it ended (10:01:15).
    assert len(starts) == 2, f"runs started at {[s.isoformat() for s in starts]}"


def timer_app(
    name: str, schedule: str, calls: list[bool], *, run_on_startup: bool = False
) -> list[Any]:
    """One timer function named `name` (unique per test: its status row is keyed by it) that
    records each run's past_due."""
    app = func.FunctionApp()

    async def timer_function(timer: func.TimerRequest) -> None:
        calls.append(timer.past_due)

    timer_function.__name__ = name
    # As functions/order_timers.py declares its timers: useMonitor not given.
    app.timer_trigger(schedule=schedule, arg_name="timer", run_on_startup=run_on_startup)(
        timer_function
    )
    return app.get_functions()


def test_a_sub_minute_timer_gets_no_past_due_run_when_devhost_restarts(
    monkeypatch: pytest.MonkeyPatch, storage_connection: str
) -> None:
    # The host keeps no status for a timer that fires more than once a minute (the outbox
    # sweep's `*/10 * * * * *`), useMonitor or not (TimerSchedule.ShouldDisableScheduleMonitor).
    store = TableScheduleStatus(storage_connection)
    calls: list[bool] = []
    functions = timer_app(f"sweep_{uuid.uuid4().hex[:8]}", "*/10 * * * * *", calls)
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 0, 9, 700_000, tzinfo=UTC))

    run_devhost_for_a_second(functions, store)
    assert calls == [False]  # 10:00:10 ran on time

    # devhost restarted two hours later; the next occurrence (12:00:10) is 9.5 s away.
    clock.set(datetime(2031, 3, 4, 12, 0, 0, 500_000, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [False], f"runs (past_due) after the restart: {calls[1:]}"


def test_an_occurrence_missed_before_a_timer_ever_ran_runs_past_due_at_the_next_start(
    monkeypatch: pytest.MonkeyPatch, storage_connection: str
) -> None:
    # The host records a first Next as it starts (CheckPastDueAsync with no status), so an
    # occurrence missed before the timer ever ran is made up too.
    store = TableScheduleStatus(storage_connection)
    calls: list[bool] = []
    functions = timer_app(f"hourly_{uuid.uuid4().hex[:8]}", "0 7 * * * *", calls)
    clock = patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 20, 0, tzinfo=UTC))

    # devhost runs 10:20-10:50, before the hourly 11:07 occurrence: nothing fires.
    run_devhost_for_a_second(functions, store)
    assert calls == []

    # Started again at 11:30: 11:07 was missed while it was stopped.
    clock.set(datetime(2031, 3, 4, 11, 30, 0, tzinfo=UTC))
    run_devhost_for_a_second(functions, store)
    assert calls == [True], "the occurrence missed while devhost was stopped never ran"


def test_an_interval_timer_keeps_its_stored_next_occurrence_across_a_restart(
    monkeypatch: pytest.MonkeyPatch, storage_connection: str
) -> None:
    # The host resumes from the stored Next (TimerListener.StartTimer(ScheduleStatus.Next)):
    # counted from the restart, each restart would postpone it by a whole interval.
    store = TableScheduleStatus(storage_connection)
    name = f"every10_{uuid.uuid4().hex[:8]}"
    calls: list[bool] = []
    functions = timer_app(name, "00:10:00", calls)
    # What devhost stored after this timer's 10:00 run (_advance): Last 10:00, Next 10:10.
    ran = datetime(2031, 3, 4, 10, 0, 0, tzinfo=UTC)
    store.put(name, ScheduleStatus(ran, datetime(2031, 3, 4, 10, 10, 0, tzinfo=UTC), ran))

    # devhost is restarted at 10:09:59.5; the stored Next (10:10:00) is half a second away.
    patched_clock(monkeypatch, datetime(2031, 3, 4, 10, 9, 59, 500_000, tzinfo=UTC))
    run(run_for(TimerScheduler(functions, run_sync=run_sync, status_store=store), 1.5))
    assert calls == [False], "the 10:10 occurrence did not run (moved to 10:19:59.5)"
