"""One episode, minus the I/O: the events fed to the SDK and what its answer schedules.

The SDK numbers tasks itself and the host must number them identically: every yielded task,
timer and fire-and-forget action takes the next sequence id in yield order (external events
are keyed by name). For `*_with_retry` the SDK also takes ids silently: a retryable failure takes
one for the retry timer, and that timer's firing takes one for the rescheduled task. So those
events go first in an episode, before any completion that could resume user code and make it
yield (and so number) new tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import history as h
from .actions import (
    UNSUPPORTED,
    ActionType,
    OrchestratorState,
    max_attempts,
    retry_delay_ms,
    takes_sequence_id,
)
from .history import EventType
from .state import Bookkeeping, InboxItem, Orchestration, RetryGroup, Work

_FAILURES = (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED)
_TASK_RESULTS = (
    EventType.TASK_COMPLETED,
    EventType.TASK_FAILED,
    EventType.SUB_ORCHESTRATION_COMPLETED,
    EventType.SUB_ORCHESTRATION_FAILED,
)
_ACTIVITY_CALLS = (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY)
_SUB_CALLS = (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY)
_RETRYING = (ActionType.CALL_ACTIVITY_WITH_RETRY, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY)


@dataclass
class Plan:
    """An episode being built: its new events and the work to start once it is committed."""

    events: list[dict]
    work: list[Work] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    outcome: str | None = None  # Completed, Failed or ContinuedAsNew when the execution ends
    result: str | None = None  # JSON text: output, failure message or the next input
    custom_status: str | None = None


def _target(event: dict) -> int | None:
    """The task or timer id a completion event resolves, if any."""
    kind = event["EventType"]
    if kind in _TASK_RESULTS:
        return event["TaskScheduledId"]
    if kind == EventType.TIMER_FIRED:
        return event["TimerId"]
    return None


def _allocates(books: Bookkeeping, event: dict) -> bool:
    """Whether the SDK takes a new sequence id while processing event."""
    target = _target(event)
    group_id = None if target is None else books.links.get(target)
    if group_id is None:
        return False
    if event["EventType"] in _FAILURES:
        return True
    group = books.groups[group_id]
    return event["EventType"] == EventType.TIMER_FIRED and group.attempts < max_attempts(
        group.options
    )


def _child_id(orc: Orchestration, task_id: int, explicit: str | None) -> str:
    """The instance id of a sub-orchestration started under task_id.

    As the Durable Task Framework names it: the parent's execution id and the task id. So a
    resumed parent finds the child it started before a crash, and a later execution of the same
    instance (restarted, or continued as new) never collides with a child an earlier one left
    running.
    """
    return explicit or f"{orc.execution_id}:{task_id}"


def _schedule(
    orc: Orchestration, plan: Plan, now: datetime, group: RetryGroup, task_id: int
) -> None:
    """Record a (re)scheduled activity or sub-orchestration and its work."""
    books = orc.books
    books.open.add(task_id)
    if group.kind == "activity":
        plan.events.append(h.task_scheduled(now, task_id, group.name, group.input))
        plan.work.append(Work("activity", task_id, group.name, group.input))
    else:
        child = _child_id(orc, task_id, group.instance_id)
        plan.events.append(h.sub_created(now, task_id, group.name, child, group.input))
        plan.work.append(Work("sub", task_id, group.name, group.input, child))


def begin(orc: Orchestration, items: list[InboxItem], now: datetime) -> Plan:
    """Open an episode with the inbox, retry bookkeeping first so ids match the SDK's."""
    books, record = orc.books, orc.record
    plan = Plan([h.orchestrator_started(now)])
    if orc.episodes == 0:
        plan.events.append(h.execution_started(now, record.name, record.version, record.input))
    allocating: list[tuple[dict, int]] = []
    rest: list[dict] = []
    for item in items:
        target = _target(item.event)
        if target is not None:
            if target not in books.open:
                continue  # a duplicate, or work of a cancelled timer: the SDK must not see it
            books.open.discard(target)
            books.timers.pop(target, None)
        if _allocates(books, item.event):
            allocating.append((item.event, target))
        else:
            rest.append(item.event)
    for event, target in allocating:
        plan.events.append(event)
        group_id = books.links[target]
        group = books.groups[group_id]
        new_id = books.seq
        books.seq += 1
        books.links[new_id] = group_id
        if event["EventType"] in _FAILURES:
            # The SDK waits for one more timer after the last attempt before it fails the task.
            final = group.attempts >= max_attempts(group.options)
            delay = 0.0 if final else retry_delay_ms(group.options, group.attempts)
            fire_at = now + timedelta(milliseconds=delay)
            plan.events.append(h.timer_created(now, new_id, fire_at))
            if final:
                rest.append(h.timer_fired(now, new_id, fire_at))
            else:
                books.open.add(new_id)
                plan.work.append(Work("timer", new_id, fire_at=fire_at))
        else:
            group.attempts += 1
            _schedule(orc, plan, now, group, new_id)
    plan.events.extend(rest)
    return plan


def sdk_payload(orc: Orchestration, new_events: list[dict]) -> dict:
    """The orchestrationTrigger context the SDK's handle expects."""
    return {
        "history": orc.history + new_events,
        "input": orc.record.input,
        "instanceId": orc.instance_id,
        "isReplaying": bool(orc.history),
        "parentInstanceId": orc.record.parent_instance_id,
        "upperSchemaVersion": 2,
    }


def _fail(orc: Orchestration, plan: Plan, message: str) -> None:
    """End the execution as Failed with the host's message format."""
    plan.outcome = "Failed"
    plan.result = json.dumps(f"Orchestrator function '{orc.record.name}' failed: {message}")


def signature(action: dict) -> str:
    """What the history records of an action, as DTFx compares it on replay (type and name)."""
    kind = action["actionType"]
    if kind in _ACTIVITY_CALLS:
        return f"activity {action['functionName']!r}"
    if kind in _SUB_CALLS:
        return f"sub-orchestration {action['functionName']!r}"
    if kind == ActionType.CREATE_TIMER:
        return "timer"
    return f"action {int(kind)}"


def _replay_mismatch(books: Bookkeeping, actions: list[dict]) -> str | None:
    """The host's NonDeterministicOrchestrationException: a replay that yields another action
    where the history recorded one (code changed under a running instance, or branching on the
    clock or random) would otherwise get that action's recorded result."""
    for index, recorded in enumerate(books.signatures[: len(actions)]):
        replayed = signature(actions[index])
        if replayed != recorded:
            return (
                f"Non-Deterministic workflow detected: action {index} of the history is "
                f"{recorded}, but the replay scheduled {replayed}"
            )
    return None


def finish(orc: Orchestration, plan: Plan, state: OrchestratorState, now: datetime) -> Plan:
    """Turn the SDK's new actions into history and work; settle the outcome."""
    books = orc.books
    plan.custom_status = None if state.custom_status is None else json.dumps(state.custom_status)
    if state.error is not None:
        _fail(orc, plan, state.error)
    elif (mismatch := _replay_mismatch(books, state.actions)) is not None:
        _fail(orc, plan, mismatch)
    next_input: str | None = None
    continues = False
    for index in range(books.action_count, len(state.actions)):
        action = state.actions[index]
        kind = action["actionType"]
        if kind in UNSUPPORTED:
            _fail(orc, plan, UNSUPPORTED[kind])
        if plan.outcome is not None:
            break  # a failing episode schedules nothing
        if len(books.signatures) == index:  # (episodes stored before signatures have none)
            books.signatures.append(signature(action))
        task_id = books.seq
        if takes_sequence_id(action):
            books.seq += 1
        if kind in _ACTIVITY_CALLS or kind in _SUB_CALLS:
            group = RetryGroup(
                "activity" if kind in _ACTIVITY_CALLS else "sub",
                action["functionName"],
                action.get("input"),
                action.get("retryOptions", {}),
                action.get("instanceId"),
            )
            if kind in _RETRYING:
                books.groups[task_id] = group
                books.links[task_id] = task_id
            _schedule(orc, plan, now, group, task_id)
        elif kind == ActionType.CREATE_TIMER:
            fire_at = h.parse_ts(action["fireAt"])
            plan.events.append(h.timer_created(now, task_id, fire_at))
            if action.get("isCanceled"):
                books.cancelled.add(task_id)
            else:
                books.timers[task_id] = index
                books.open.add(task_id)
                plan.work.append(Work("timer", task_id, fire_at=fire_at))
        elif kind == ActionType.CONTINUE_AS_NEW:
            continues, next_input = True, action.get("input")
    books.action_count = max(books.action_count, len(state.actions))
    # A timer cancelled after creation (task_any lost by it) must not keep the instance alive.
    for timer_id, index in list(books.timers.items()):
        if index < len(state.actions) and state.actions[index].get("isCanceled"):
            del books.timers[timer_id]
            books.open.discard(timer_id)
            books.cancelled.add(timer_id)
            plan.cancelled.append(timer_id)
    if plan.outcome is None and state.is_done:
        if continues:
            plan.outcome, plan.result = "ContinuedAsNew", next_input
        else:
            plan.outcome, plan.result = "Completed", json.dumps(state.output)
    if plan.outcome is not None:
        plan.events.append(h.execution_completed(now, plan.outcome, plan.result))
        plan.work.clear()
    plan.events.append(h.orchestrator_completed(now))
    return plan
