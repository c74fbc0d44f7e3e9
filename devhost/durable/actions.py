"""The orchestrator's answer: flattening its cumulative actions and reading its state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

# What the SDK appends to an orchestrator's exception message before the state JSON.
_STATE_MARKER = "\n\n$OutOfProcData$:"


class ActionType(IntEnum):
    """The SDK's ActionType numbering."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


# Actions devhost refuses, with the message the orchestration fails with.
UNSUPPORTED = {
    ActionType.CALL_ENTITY: "Durable entities are not supported by devhost (call_entity).",
    ActionType.SIGNAL_ENTITY: "Durable entities are not supported by devhost (signal_entity).",
    ActionType.CALL_HTTP: "Durable HTTP (call_http) is not supported by devhost.",
}
# Actions that take the next sequence id, as the SDK's _add_to_open_tasks and
# _record_fire_and_forget_action allocate them; external events are keyed by name instead.
_SEQUENCED = frozenset(ActionType) - {
    ActionType.WAIT_FOR_EXTERNAL_EVENT,
    ActionType.WHEN_ANY,
    ActionType.WHEN_ALL,
}


def takes_sequence_id(action: dict) -> bool:
    """Whether the SDK gave this action the next sequence number."""
    return action["actionType"] in _SEQUENCED


def flatten(actions: list) -> list[dict]:
    """Atomic actions in yield order, from schema 1 (list of lists) or 2 ([[...]] + compounds)."""
    flat: list[dict] = []

    def visit(item: Any) -> None:
        """Collect atomic actions depth-first, in order."""
        if isinstance(item, list):
            for child in item:
                visit(child)
        elif item["actionType"] in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            for child in item["compoundActions"]:
                visit(child)
        else:
            flat.append(item)

    visit(actions)
    return flat


@dataclass
class OrchestratorState:
    """What one orchestrator call returned."""

    is_done: bool
    actions: list[dict]
    output: Any = None
    error: str | None = None
    custom_status: Any = None


def read_state(returned: str | None, raised: BaseException | None) -> OrchestratorState:
    """Decode the handle's return value, or the state carried by its exception."""
    if raised is not None:
        message = str(raised)
        head, marker, tail = message.partition(_STATE_MARKER)
        if not marker:
            return OrchestratorState(False, [], error=message or type(raised).__name__)
        state = json.loads(tail)
        return OrchestratorState(
            False,
            flatten(state.get("actions", [])),
            error=state.get("error") or head,
            custom_status=state.get("customStatus"),
        )
    state = json.loads(returned or "{}")
    return OrchestratorState(
        bool(state.get("isDone")),
        flatten(state.get("actions", [])),
        output=state.get("output"),
        error=state.get("error"),
        custom_status=state.get("customStatus"),
    )


def retry_delay_ms(options: dict, failed_attempts: int) -> float:
    """Backoff before attempt failed_attempts + 1: first * coefficient^(n-1), capped."""
    first = float(options.get("firstRetryIntervalInMilliseconds", 1000))
    coefficient = float(options.get("backoffCoefficient", 1) or 1)
    delay = first * coefficient ** max(failed_attempts - 1, 0)
    cap = options.get("maxRetryIntervalInMilliseconds")
    return min(delay, float(cap)) if cap else delay


def max_attempts(options: dict) -> int:
    """maxNumberOfAttempts, at least one."""
    return max(int(options.get("maxNumberOfAttempts", 1)), 1)
