"""The app's orchestrators and activities, and how to call them the way the Python worker does."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from . import history

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
ENTITY_TRIGGER = "entityTrigger"
log = logging.getLogger("devhost.durable")


@dataclass(frozen=True)
class Activity:
    """An activity function and the parameter its input binds to."""

    name: str
    fn: Callable[..., Any]
    parameter: str


def _trigger_binding(function: Any) -> dict:
    """The function's trigger binding as a plain dict."""
    bindings = json.loads(function.get_function_json())["bindings"]
    trigger_type = function.get_trigger().get_binding_name()
    return next(b for b in bindings if b["type"] == trigger_type)


class FunctionRegistry:
    """Orchestrators (the SDK's `handle` wrappers) and activities of one app, by durable name."""

    def __init__(self, functions: Iterable[Any]) -> None:
        self.orchestrators: dict[str, Callable[[str], str]] = {}
        self.activities: dict[str, Activity] = {}
        for function in functions:
            kind = function.get_trigger().get_binding_name()
            # The trigger's orchestration/activity property renames the function, as in the host.
            if kind == ORCHESTRATION_TRIGGER:
                binding = _trigger_binding(function)
                name = binding.get("orchestration") or function.get_function_name()
                self.orchestrators[name] = function.get_user_function()
            elif kind == ACTIVITY_TRIGGER:
                binding = _trigger_binding(function)
                name = binding.get("activity") or function.get_function_name()
                self.activities[name] = Activity(
                    name, function.get_user_function(), binding["name"]
                )
            elif kind == ENTITY_TRIGGER:
                log.warning(
                    "durable: entity function %s is not supported by devhost; orchestrations "
                    "calling entities fail",
                    function.get_function_name(),
                )


def run_orchestrator(
    handle: Callable[[str], str], payload: dict
) -> tuple[str | None, Exception | None]:
    """One episode: call the SDK's handle with the JSON context; return its state or exception."""
    try:
        return handle(json.dumps(payload)), None
    except Exception as exc:  # the SDK reports orchestrator failures by raising
        return None, exc


def run_activity(
    activity: Activity | None, name: str, task_id: int, input_text: str | None
) -> dict:
    """Invoke an activity through the SDK's converter; return its TaskCompleted/TaskFailed event."""
    if activity is None:
        reason = (
            f"The function '{name}' doesn't exist, is disabled, or is not an activity function."
        )
        return history.task_failed(history.utcnow(), task_id, reason, "")
    try:
        value = ActivityTriggerConverter.decode(
            meta.Datum(input_text if input_text is not None else "null", "json"),
            trigger_metadata=None,
        )
        result = activity.fn(**{activity.parameter: value})
        if inspect.isawaitable(result):
            # An async activity gets a loop of its own on this worker thread.
            result = asyncio.run(_awaited(result))
        encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
        return history.task_completed(history.utcnow(), task_id, encoded)
    except Exception as exc:
        reason = f"Activity function '{name}' failed: {type(exc).__name__}: {exc}"
        details = "".join(traceback.format_exception(exc)).strip()
        return history.task_failed(history.utcnow(), task_id, reason, details)


async def _awaited(awaitable: Any) -> Any:
    """Await an awaitable (asyncio.run needs a coroutine)."""
    return await awaitable
