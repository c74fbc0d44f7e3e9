"""Timer triggers for devhost: each `timerTrigger` fired at its schedule's occurrences.

Schedules are read by devhost/ncrontab.py; a `%Setting%` schedule is read from that app setting.
The host runs one invocation of a timer function at a time. It computes the next occurrence from
the run's start (TimerListener.InvokeJobFunction), so an occurrence that fell due during a long
run fires as soon as the run ends, and only the first of several such. With `useMonitor` (the
default, turned off for schedules that fire more than once a minute) it keeps each timer's
schedule status (Last, Next, LastUpdated) in storage from its first start: on start, a Next that
has passed (the app was stopped) fires once at once with `IsPastDue`, a Next still ahead is
where the schedule resumes, and a status the schedule would not compute is a schedule change.
devhost does the same, keeping the status in an Azurite table (`TableScheduleStatus`,
`devhosttimerstatus`), and also sets `past_due` on a scheduled run that starts more than a
second late.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest

from devhost.host_config import resolve_app_settings
from devhost.ncrontab import CronSchedule, IntervalSchedule, Schedule, parse_schedule
from devhost.timeouts import FunctionTimedOut, within_function_timeout

log = logging.getLogger(__name__)

RunSync = Callable[..., Awaitable[Any]]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Timer:
    function: str
    param: str
    user_function: Callable[..., Any]
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool
    client_param: str | None = None  # a durableClient input binding's parameter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: datetime | None = None
    next: datetime | None = None


@dataclass(frozen=True)
class ScheduleStatus:
    last: datetime
    next: datetime
    last_updated: datetime


class TableScheduleStatus:
    """Each timer's schedule status in an Azurite table, as the host's StorageScheduleMonitor
    keeps it in blobs: what lets a restart notice an occurrence missed while it was stopped."""

    TABLE = "devhosttimerstatus"

    def __init__(self, storage_connection: str) -> None:
        from azure.data.tables import TableServiceClient

        self._service = TableServiceClient.from_connection_string(storage_connection)
        self._table = self._service.get_table_client(self.TABLE)
        self._created = False

    def get(self, function: str) -> ScheduleStatus | None:
        from azure.core.exceptions import ResourceNotFoundError

        if not self._created:  # on first use: devhost may start before Azurite answers
            self._service.create_table_if_not_exists(self.TABLE)
            self._created = True
        try:
            row = self._table.get_entity("timers", function)
        except ResourceNotFoundError:
            return None
        return ScheduleStatus(
            *(datetime.fromisoformat(row[key]) for key in ("Last", "Next", "LastUpdated"))
        )

    def put(self, function: str, status: ScheduleStatus) -> None:
        self._table.upsert_entity({
            "PartitionKey": "timers", "RowKey": function, "Last": status.last.isoformat(),
            "Next": status.next.isoformat(), "LastUpdated": status.last_updated.isoformat(),
        })  # fmt: skip


_NEVER = datetime.min.replace(tzinfo=UTC)  # the host's `default(DateTime)` for Last


def _frequent(schedule: Schedule) -> bool:
    """Fires more than once a minute by the host's own test: such a timer keeps no schedule
    status, even with useMonitor, so it is never past due (TimerSchedule.
    ShouldDisableScheduleMonitor). For NCRONTAB the host looks only at schedules whose fields
    from the minute up are all `*`: `* 30 * * * *` fires every second of one minute an hour,
    and keeps its status."""
    if isinstance(schedule, IntervalSchedule):
        return schedule.interval < timedelta(minutes=1)
    assert isinstance(schedule, CronSchedule)
    return schedule.matches_every_minute() and len(schedule.seconds) > 1


def _resolve_schedule(function: str, expression: str) -> Schedule:
    """Resolve a `%Setting%` schedule from the app settings, then parse it."""
    expression = resolve_app_settings(function, "schedule", expression)
    try:
        return parse_schedule(expression)
    except ValueError as exc:
        raise ValueError(f"function {function!r}: {exc}") from None


class TimerScheduler:
    """Fires every `timerTrigger` function at its schedule's occurrences, one run at a time each."""

    def __init__(
        self,
        functions: Iterable[Any],
        *,
        run_sync: RunSync,
        past_due_tolerance: float = 1.0,
        function_timeout_s: float | None = None,
        status_store: TableScheduleStatus | None = None,
        durable_client_json: Callable[[], str] | None = None,
    ) -> None:
        self._run_sync = run_sync
        self._durable_client_json = durable_client_json
        self._status_store = status_store
        self._timeout = function_timeout_s
        self._manual_runs: set[asyncio.Task[None]] = set()
        self._tolerance = timedelta(seconds=past_due_tolerance)
        self._timers: dict[str, _Timer] = {}
        for builder in functions:
            if builder.get_trigger().get_binding_name() != "timerTrigger":
                continue
            name = builder.get_function_name()
            bindings = json.loads(builder.get_function_json())["bindings"]
            trigger = next(b for b in bindings if b["type"] == "timerTrigger")
            client = self._client_binding(name, [b for b in bindings if b is not trigger])
            supplied = {trigger["name"], client}
            user_function = builder.get_user_function()
            for parameter in inspect.signature(user_function).parameters.values():
                if parameter.name not in supplied and parameter.default is parameter.empty:
                    raise ValueError(
                        f"function {name!r}: devhost cannot supply parameter {parameter.name!r}"
                    )
            schedule = _resolve_schedule(name, trigger["schedule"])
            self._timers[name] = _Timer(
                function=name,
                param=trigger["name"],
                user_function=user_function,
                schedule=schedule,
                run_on_startup=bool(trigger.get("runOnStartup", False)),
                use_monitor=bool(trigger.get("useMonitor", True)) and not _frequent(schedule),
                client_param=client,
            )

    def _client_binding(self, function: str, others: list[dict[str, Any]]) -> str | None:
        """The durable client input's parameter, if any: the one other binding devhost supplies
        (a timer that purges or starts orchestrations)."""
        client = None
        for binding in others:
            if binding["type"] != "durableClient" or self._durable_client_json is None:
                raise ValueError(
                    f"function {function!r}: devhost cannot supply binding {binding['name']!r}"
                    f" ({binding['type']})"
                )
            client = binding["name"]
        return client

    async def run(self) -> None:
        """Run every timer until cancelled (returns at once when there are no timers)."""
        try:
            async with asyncio.TaskGroup() as group:
                for timer in self._timers.values():
                    group.create_task(self._loop(timer))
        finally:
            for task in self._manual_runs:
                task.cancel()

    def _named(self, function_name: str) -> _Timer:
        if function_name not in self._timers:
            raise KeyError(f"no timer function named {function_name!r}")
        return self._timers[function_name]

    async def trigger(self, function_name: str) -> None:
        """Fire one timer now and wait for it (KeyError for an unknown name)."""
        await self._fire(self._named(function_name), due=None)

    def start(self, function_name: str) -> None:
        """Fire one timer now in the background, as the host's `POST /admin/functions/{name}`."""
        task = asyncio.create_task(self._fire(self._named(function_name), due=None))
        self._manual_runs.add(task)  # a reference until it is done
        task.add_done_callback(self._manual_runs.discard)

    async def _loop(self, timer: _Timer) -> None:
        now = _now()
        stored = await self._stored_status(timer, now)
        if stored is None:
            timer.next = timer.schedule.next_after(now)
            # As the host's monitor: a first status at start, so an occurrence missed before the
            # timer ever ran is made up at the next start too.
            await self._save_status(timer, ScheduleStatus(_NEVER, timer.next, now))
        else:
            timer.last = None if stored.last == _NEVER else stored.last
            timer.next = stored.next  # an interval resumes where it was, not a whole one later
        if stored is not None and now > stored.next:
            # Missed while devhost was stopped: once, at once, as the host's CheckPastDueAsync.
            await self._fire(timer, due=stored.next, past_due=True)
        elif timer.run_on_startup:
            await self._fire(timer, due=None, scheduled=True)
        while True:
            due = timer.next
            # asyncio may wake a little early; firing before `due` would fire it twice. A `due`
            # that passed during the last run fires at once.
            while (delay := (due - _now()).total_seconds()) > 0:
                await asyncio.sleep(delay)
            await self._fire(timer, due=due)

    async def _stored_status(self, timer: _Timer, now: datetime) -> ScheduleStatus | None:
        """The status stored before, unless the schedule has changed since (or none is kept)."""
        if self._status_store is None or not timer.use_monitor:
            return None
        try:
            stored = await self._run_sync(self._status_store.get, timer.function)
        except Exception as error:  # Azurite down: start as the host does without a status.
            log.warning("timer %s: schedule status not read: %s", timer.function, error)
            return None
        if stored is None:
            return None
        # The host treats a Next its schedule would not compute from Last (from LastUpdated
        # for a timer that never ran) as a schedule change: no past-due run, a fresh status.
        since = stored.last_updated if stored.last == _NEVER else stored.last
        if timer.schedule.next_after(since) != stored.next:
            return None
        return stored

    async def _fire(
        self,
        timer: _Timer,
        due: datetime | None,
        *,
        past_due: bool | None = None,
        scheduled: bool | None = None,
    ) -> None:
        """Invoke under the timer's lock; failures are logged, as the host does, not raised.

        Scheduled runs (`due` given, or a startup run) move the schedule on from the run's start,
        as the host does; a manual run (the admin endpoint) leaves it alone.
        """
        scheduled = due is not None if scheduled is None else scheduled
        async with timer.lock:
            started = _now()
            if past_due is None:
                past_due = due is not None and started - due > self._tolerance
            status = None
            if timer.use_monitor:  # as the host hands it over: the status before this run
                last = timer.last or _NEVER
                status = {
                    "Last": last.isoformat(),
                    "Next": (timer.next or timer.schedule.next_after(started)).isoformat(),
                    "LastUpdated": last.isoformat(),
                }
            request = TimerRequest(
                past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True}
            )
            reason = "manual or startup run" if due is None else f"timer due at {due.isoformat()}"
            log.info(
                "Executing 'Functions.%s' (Reason='%s', past due: %s)",
                timer.function, reason, past_due,
            )  # fmt: skip
            try:
                await within_function_timeout(self._invoke(timer, request), self._timeout)
            except FunctionTimedOut as timed_out:
                log.error("'Functions.%s' failed: %s", timer.function, timed_out)
            except Exception:
                log.exception("'Functions.%s' failed", timer.function)
            if scheduled:
                await self._advance(timer, started, early=due is not None and due > started)

    async def _advance(self, timer: _Timer, started: datetime, *, early: bool) -> None:
        # A run that woke before its due time counts from the due time, or Next would repeat.
        adjusted = timer.next if early and timer.next is not None else started
        timer.last, timer.next = adjusted, timer.schedule.next_after(adjusted)
        await self._save_status(timer, ScheduleStatus(timer.last, timer.next, adjusted))

    async def _save_status(self, timer: _Timer, status: ScheduleStatus) -> None:
        if self._status_store is None or not timer.use_monitor:
            return
        try:
            await self._run_sync(self._status_store.put, timer.function, status)
        except Exception as error:  # Azurite down: the schedule goes on, unrecorded.
            log.warning("timer %s: schedule status not saved: %s", timer.function, error)

    async def _invoke(self, timer: _Timer, request: TimerRequest) -> None:
        arguments: dict[str, Any] = {timer.param: request}
        if timer.client_param is not None:
            assert self._durable_client_json is not None  # checked when the timer was read
            arguments[timer.client_param] = self._durable_client_json()
        if inspect.iscoroutinefunction(timer.user_function):
            await timer.user_function(**arguments)
        else:
            await self._run_sync(timer.user_function, **arguments)
