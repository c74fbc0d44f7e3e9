"""A DFApp exercising each durable feature devhost's engine supports (and one it refuses)."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# Calls per token, so an activity can fail its first attempts on purpose.
_calls: dict[str, int] = {}
_calls_lock = threading.Lock()


class BackoffRetryOptions(df.RetryOptions):
    """RetryOptions that also send a backoff coefficient (1.7's class sends only two fields)."""

    def __init__(self, first_ms: int, attempts: int, coefficient: float, max_ms: int | None = None):
        super().__init__(first_ms, attempts)
        self.coefficient = coefficient
        self.max_ms = max_ms

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["backoffCoefficient"] = self.coefficient
        if self.max_ms is not None:
            data["maxRetryIntervalInMilliseconds"] = self.max_ms
        return data


def calls(token: str) -> int:
    """How many times flaky ran for token."""
    with _calls_lock:
        return _calls.get(token, 0)


# Activities -------------------------------------------------------------------------------


@app.activity_trigger(input_name="value")
def add_one(value: int) -> int:
    return value + 1


@app.activity_trigger(input_name="payload")
def square(payload: dict) -> int:
    time.sleep(random.random() / 200)  # finish out of order
    return payload["n"] * payload["n"]


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    with _calls_lock:
        _calls[payload["token"]] = attempt = _calls.get(payload["token"], 0) + 1
    if attempt < payload["succeed_on"]:
        raise ValueError(f"flaky attempt {attempt} of {payload['token']} failed")
    return f"ok on attempt {attempt}"


@app.activity_trigger(input_name="text")
def double_text(text: str) -> str:
    return text + text


@app.activity_trigger(input_name="payload")
def sleep_then(payload: dict) -> Any:
    time.sleep(payload["ms"] / 1000)
    return payload["value"]


@app.activity_trigger(input_name="payload")
def slow_step(payload: dict) -> str:
    Path(payload["marker"]).write_text(str(time.time()))
    time.sleep(payload["seconds"])
    return f"slow:{payload['value']}"


# Orchestrators ------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    value = context.get_input()
    results = []
    for _ in range(3):
        value = yield context.call_activity("add_one", value)
        results.append(value)
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    tasks = [context.call_activity("square", {"n": n}) for n in range(count)]
    return (yield context.task_all(tasks))


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    cfg = context.get_input()
    options = BackoffRetryOptions(cfg["first_ms"], cfg["attempts"], cfg["coefficient"])
    payload = {"token": cfg["token"], "succeed_on": cfg["succeed_on"]}
    first = yield context.call_activity_with_retry("flaky", options, payload)
    # A plain call after the retries proves the ids stayed aligned with the SDK's.
    after = yield context.call_activity("add_one", 41)
    return [first, after]


@app.orchestration_trigger(context_name="context")
def big_echo(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("double_text", context.get_input()))


@app.orchestration_trigger(context_name="context")
def racing(context: df.DurableOrchestrationContext):
    slow = context.call_activity("sleep_then", {"ms": 800, "value": "slow"})
    fast = context.call_activity("sleep_then", {"ms": 10, "value": "fast"})
    winner = yield context.task_any([slow, fast])
    return winner.result


@app.orchestration_trigger(context_name="context")
def timer(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(milliseconds=context.get_input()))
    return (context.current_utc_datetime - started).total_seconds()


@app.orchestration_trigger(context_name="context")
def timeout_or_event(context: df.DurableOrchestrationContext):
    deadline = context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    event = context.wait_for_external_event("go")
    winner = yield context.task_any([deadline, event])
    if winner is event:
        deadline.cancel()
        return f"event:{event.result}"
    return "timeout"


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("flaky", context.get_input()))


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    token = context.get_input()
    plain = yield context.call_sub_orchestrator("sequence", 10)
    named = yield context.call_sub_orchestrator("sequence", 20, f"{context.instance_id}-named")
    retried = yield context.call_sub_orchestrator_with_retry(
        "flaky_child", df.RetryOptions(50, 3), {"token": token, "succeed_on": 2}
    )
    return [plain, named, retried]


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting for approval"})
    decision = yield context.wait_for_external_event("approve")
    context.set_custom_status({"stage": "approved"})
    return decision


@app.orchestration_trigger(context_name="context")
def awaits_approval(context: df.DurableOrchestrationContext):
    """A parent whose child (no id given) waits for an event."""
    return (yield context.call_sub_orchestrator("approval", None))


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    value = yield context.call_activity("add_one", context.get_input())
    if value < 3:
        context.continue_as_new(value)
        return None
    return value


@app.orchestration_trigger(context_name="context")
def uses_entity(context: df.DurableOrchestrationContext):
    return (yield context.call_entity(df.EntityId("tally", "one"), "add", 1))


@app.orchestration_trigger(context_name="context")
def crash_demo(context: df.DurableOrchestrationContext):
    cfg = context.get_input()
    first = yield context.call_activity("add_one", cfg["start"])
    context.set_custom_status("slow step")
    slow = yield context.call_activity(
        "slow_step", {"marker": cfg["marker"], "seconds": cfg["seconds"], "value": first}
    )
    last = yield context.call_activity("add_one", first + 10)
    return [first, slow, last]


# HTTP starter -------------------------------------------------------------------------------


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"], None, req.get_json() if body else None
    )
    return client.create_check_status_response(req, instance_id)
