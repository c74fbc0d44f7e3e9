"""History events in the shape the durable SDK replays, and their friendly status-API form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any


class EventType(IntEnum):
    """DTFx history event types (the SDK's HistoryEventType numbering)."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_RAISED = 15


# Names the real host uses in `historyEvents` of the status API.
_FRIENDLY_NAMES = {
    EventType.EXECUTION_STARTED: "ExecutionStarted",
    EventType.EXECUTION_COMPLETED: "ExecutionCompleted",
    EventType.EXECUTION_TERMINATED: "ExecutionTerminated",
    EventType.TASK_COMPLETED: "TaskCompleted",
    EventType.TASK_FAILED: "TaskFailed",
    EventType.SUB_ORCHESTRATION_COMPLETED: "SubOrchestrationInstanceCompleted",
    EventType.SUB_ORCHESTRATION_FAILED: "SubOrchestrationInstanceFailed",
    EventType.TIMER_CREATED: "TimerCreated",
    EventType.TIMER_FIRED: "TimerFired",
    EventType.EVENT_RAISED: "EventRaised",
}
# Payload fields that showHistoryOutput controls; they hold JSON text.
_OUTPUT_FIELDS = ("Input", "Result")
_SCHEDULING = {
    EventType.TASK_COMPLETED: EventType.TASK_SCHEDULED,
    EventType.TASK_FAILED: EventType.TASK_SCHEDULED,
    EventType.SUB_ORCHESTRATION_COMPLETED: EventType.SUB_ORCHESTRATION_CREATED,
    EventType.SUB_ORCHESTRATION_FAILED: EventType.SUB_ORCHESTRATION_CREATED,
}
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the SDK's DATETIME_STRING_FORMAT


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """A UTC timestamp in the SDK's history format."""
    return moment.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def parse_ts(text: str) -> datetime:
    """Parse an ISO timestamp (with Z or an offset); naive values are taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event(kind: EventType, moment: datetime, event_id: int = -1, **fields: Any) -> dict:
    """The fields every history event has."""
    return {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_ts(moment),
        **fields,
    }


def orchestrator_started(moment: datetime) -> dict:
    """Opens an episode; its timestamp becomes context.current_utc_datetime."""
    return _event(EventType.ORCHESTRATOR_STARTED, moment)


def orchestrator_completed(moment: datetime) -> dict:
    """Closes an episode."""
    return _event(EventType.ORCHESTRATOR_COMPLETED, moment)


def execution_started(moment: datetime, name: str, version: str, input_text: str | None) -> dict:
    """The first event of an execution (the SDK requires Version, even empty)."""
    return _event(EventType.EXECUTION_STARTED, moment, Name=name, Version=version, Input=input_text)


def execution_completed(moment: datetime, status: str, result: str | None) -> dict:
    """Ends an execution with Completed, Failed or ContinuedAsNew and its JSON result."""
    return _event(EventType.EXECUTION_COMPLETED, moment, OrchestrationStatus=status, Result=result)


def execution_terminated(moment: datetime, reason: str) -> dict:
    """A terminate request, as the client sent it."""
    return _event(EventType.EXECUTION_TERMINATED, moment, Input=json.dumps(reason))


def task_scheduled(moment: datetime, event_id: int, name: str, input_text: str | None) -> dict:
    """An activity was scheduled under sequence id event_id."""
    return _event(EventType.TASK_SCHEDULED, moment, event_id, Name=name, Input=input_text)


def task_completed(moment: datetime, scheduled_id: int, result: str | None) -> dict:
    """An activity returned result (JSON text)."""
    return _event(EventType.TASK_COMPLETED, moment, TaskScheduledId=scheduled_id, Result=result)


def task_failed(moment: datetime, scheduled_id: int, reason: str, details: str) -> dict:
    """An activity raised; the SDK surfaces f"{Reason} \\n {Details}"."""
    return _event(
        EventType.TASK_FAILED, moment, TaskScheduledId=scheduled_id, Reason=reason, Details=details
    )


def sub_created(
    moment: datetime, event_id: int, name: str, instance_id: str, input_text: str | None
) -> dict:
    """A sub-orchestration was started under sequence id event_id."""
    return _event(
        EventType.SUB_ORCHESTRATION_CREATED,
        moment,
        event_id,
        Name=name,
        InstanceId=instance_id,
        Input=input_text,
    )


def sub_completed(moment: datetime, scheduled_id: int, result: str | None) -> dict:
    """A sub-orchestration completed with result (JSON text)."""
    return _event(
        EventType.SUB_ORCHESTRATION_COMPLETED, moment, TaskScheduledId=scheduled_id, Result=result
    )


def sub_failed(moment: datetime, scheduled_id: int, reason: str, details: str) -> dict:
    """A sub-orchestration failed or was terminated."""
    return _event(
        EventType.SUB_ORCHESTRATION_FAILED,
        moment,
        TaskScheduledId=scheduled_id,
        Reason=reason,
        Details=details,
    )


def timer_created(moment: datetime, event_id: int, fire_at: datetime) -> dict:
    """A durable timer under sequence id event_id."""
    return _event(EventType.TIMER_CREATED, moment, event_id, FireAt=format_ts(fire_at))


def timer_fired(moment: datetime, timer_id: int, fire_at: datetime) -> dict:
    """The timer timer_id fired."""
    return _event(EventType.TIMER_FIRED, moment, TimerId=timer_id, FireAt=format_ts(fire_at))


def event_raised(moment: datetime, name: str, input_text: str | None) -> dict:
    """An external event; the SDK reads its payload from Input."""
    return _event(EventType.EVENT_RAISED, moment, Name=name, Input=input_text)


def _decoded(text: Any) -> Any:
    """JSON text as a value, for the friendly history."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def friendly_history(events: list[dict], show_output: bool) -> list[dict]:
    """The status API's historyEvents: names for types, scheduling merged into completions."""
    scheduled = {
        (ev["EventType"], ev["EventId"]): ev
        for ev in events
        if ev["EventType"] in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_CREATED)
    }
    friendly: list[dict] = []
    for ev in events:
        kind = EventType(ev["EventType"])
        name = _FRIENDLY_NAMES.get(kind)
        if name is None:
            continue
        item = {k: v for k, v in ev.items() if k not in ("EventType", "IsPlayed", "EventId")}
        item["EventType"] = name
        if kind in _SCHEDULING:
            origin = scheduled.get((int(_SCHEDULING[kind]), ev["TaskScheduledId"]))
            if origin is not None:
                item["FunctionName"] = origin["Name"]
                item["ScheduledTime"] = origin["Timestamp"]
                if "InstanceId" in origin:
                    item["InstanceId"] = origin["InstanceId"]
        if kind == EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name")
        for field in _OUTPUT_FIELDS:
            if field in item:
                if show_output:
                    item[field] = _decoded(item[field])
                else:
                    del item[field]
        friendly.append(item)
    return friendly
