"""Timer triggers for devhost: NCRONTAB schedules read the way the Functions host reads them.

The host parses `schedule` with NCrontab including seconds: six fields
`{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a value, a range `a-b`, a list
`a,b`, or a step `*/n`, `a-b/n`, `a/n` (a to the field's maximum). Months and days of the week
also take names, matched as NCrontab does: case-insensitive prefixes of the English names (`Jan`,
`MON`, `Friday`). Day-of-week is 0-6 with 0 = Sunday. A date must match both the day and the
day-of-week fields (NCrontab ANDs them, unlike Vixie cron). Schedules that are not NCRONTAB are
tried as a .NET TimeSpan (`00:05:00`, `1.00:00:00`), a fixed interval the host allows outside the
Consumption plan. A `%Setting%` schedule is read from that app setting. Times are UTC (the host's
default when WEBSITE_TIME_ZONE is not set).

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
import calendar
import inspect
import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest

from devhost.timeouts import FunctionTimedOut, within_function_timeout

log = logging.getLogger(__name__)

RunSync = Callable[..., Awaitable[Any]]

_MONTHS = tuple(calendar.month_name[1:])
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# (name, lowest, highest, value names) for the six NCRONTAB fields, in order.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d+):(\d+)(?::(\d+))?")
_SETTING = re.compile(r"%([^%]+)%")


def _utc(moment: datetime) -> datetime:
    """Aware UTC; naive datetimes are taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Schedule(ABC):
    """When a timer fires."""

    expression: str

    @abstractmethod
    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment`, as an aware UTC datetime."""


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A six-field NCRONTAB schedule, each field expanded to the set of values it allows."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    def next_after(self, moment: datetime) -> datetime:
        """Step by the coarsest unit that does not match; parse_schedule ensured a match exists."""
        t = _utc(moment).replace(microsecond=0) + timedelta(seconds=1)
        while True:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif t.day not in self.days or t.isoweekday() % 7 not in self.days_of_week:
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
            elif t.second not in self.seconds:
                t += timedelta(seconds=1)
            else:
                return t


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """A TimeSpan schedule: a fixed interval from the previous occurrence."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        """`moment` plus the interval."""
        return _utc(moment) + self.interval


def _parse_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.isdigit():
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}-{high}")
        return value
    for index, name in enumerate(names):
        if text and name.lower().startswith(text.lower()):
            return low + index
    known = f" or a name ({', '.join(n[:3] for n in names)})" if names else ""
    raise ValueError(f"{text!r} is not a number {low}-{high}{known}")


def _parse_field(text: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """Expand one field: comma-separated `*`, values, ranges, each with an optional `/step`."""
    values: set[int] = set()
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if slash and step < 1:
            raise ValueError(f"step {step_text!r} must be a positive number")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = (
                _parse_value(first, low, high, names),
                _parse_value(last, low, high, names),
            )
            if start > end:
                raise ValueError(f"range {body!r} runs backwards")
        else:
            start = _parse_value(body, low, high, names)
            end = high if slash else start
        values.update(range(start, end + 1, step or 1))
    return frozenset(values)


def _parse_timespan(expression: str) -> IntervalSchedule | None:
    """A .NET TimeSpan `[d.]hh:mm[:ss]`, or None when the text is not one."""
    found = _TIMESPAN.fullmatch(expression)
    if found is None:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"invalid TimeSpan schedule {expression!r}: a component is out of range")
    interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not interval:
        raise ValueError(f"invalid TimeSpan schedule {expression!r}: the interval is zero")
    return IntervalSchedule(expression, interval)


def parse_schedule(expression: str) -> Schedule:
    """Parse an NCRONTAB expression or a TimeSpan; ValueError names the bad field.

    Six fields start with the second; five, as the host reads them (CronSchedule.HasSeconds),
    are a classic cron line that fires at second 0.
    """
    interval = _parse_timespan(expression.strip())
    if interval is not None:
        return interval
    parts = expression.split()
    if len(parts) == len(_FIELDS) - 1:
        parts = ["0", *parts]
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"invalid schedule {expression!r}: NCRONTAB needs six fields "
            f"{{second}} {{minute}} {{hour}} {{day}} {{month}} {{day-of-week}} (or five, without"
            f" the second), got {len(parts)}"
        )
    sets = []
    for text, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        try:
            sets.append(_parse_field(text, low, high, names))
        except ValueError as exc:
            raise ValueError(
                f"invalid schedule {expression!r}: {name} field {text!r}: {exc}"
            ) from None
    schedule = CronSchedule(expression, *sets)
    # Without this, next_after would search forever for e.g. 30 February.
    if not any(day <= calendar.monthrange(2024, m)[1] for m in schedule.months for day in sets[3]):
        raise ValueError(
            f"invalid schedule {expression!r}: day field {parts[3]!r} never occurs in the "
            f"months of month field {parts[4]!r}"
        )
    return schedule


@dataclass
class _Timer:
    function: str
    param: str
    user_function: Callable[..., Any]
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool
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
    """Fires more than once a minute: the host then keeps no schedule status, even with
    useMonitor (TimerSchedule.ShouldDisableScheduleMonitor), so such a timer is never past due."""
    first = schedule.next_after(_now())
    return schedule.next_after(first) - first < timedelta(minutes=1)


def _resolve_schedule(function: str, expression: str) -> Schedule:
    """Resolve a `%Setting%` schedule from the app settings, then parse it."""
    setting = _SETTING.fullmatch(expression)
    if setting is not None:
        value = os.environ.get(setting.group(1))
        if not value:
            raise ValueError(f"function {function!r}: schedule setting {expression!r} is not set")
        expression = value
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
    ) -> None:
        self._run_sync = run_sync
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
            for other in bindings:
                if other is not trigger:
                    raise ValueError(
                        f"function {name!r}: devhost cannot supply binding {other['name']!r}"
                        f" ({other['type']})"
                    )
            user_function = builder.get_user_function()
            for parameter in inspect.signature(user_function).parameters.values():
                if parameter.name != trigger["name"] and parameter.default is parameter.empty:
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
            )

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
        if inspect.iscoroutinefunction(timer.user_function):
            await timer.user_function(**{timer.param: request})
        else:
            await self._run_sync(timer.user_function, **{timer.param: request})
