"""devhost's durable engine as the extension behaves: retry timing, failures and replays that
reach the right orchestration, the finer options of the HTTP management API, and serving an
engine by itself.

Each test serves its own engine (own task hub) for the small app below on uvicorn and drives it
with `df.DurableOrchestrationClient` and plain HTTP, as tests/devhost/test_durable_replay.py
does.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func
import httpx
import pytest
from azure.durable_functions import OrchestrationRuntimeStatus as Status

from devhost.durable import DurableEngine
from devhost.durable.standalone import serving
from devhost.services import free_port
from tests.devhost.durable_fixture_app import BackoffRetryOptions
from tests.devhost.durable_fixtures import (  # noqa: F401
    FUNCTIONS,
    ClientLoop,
    EngineHost,
    RunCounter,
    functions_of,
    loop_fixture,
    start,
    storage,
    unique_hub,
)

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_count_run = RunCounter()  # first run vs. replays, per instance


@app.activity_trigger(input_name="value")
def rw_add_one(value: int) -> int:
    return value + 1


@app.activity_trigger(input_name="text")
def rw_fails(text: str) -> str:
    raise ValueError(f"rw_fails always fails: {text}")


@app.activity_trigger(input_name="payload")
def rw_sleep_then(payload: dict) -> str:
    time.sleep(payload["ms"] / 1000)
    return payload["value"]


@app.orchestration_trigger(context_name="context")
def rw_one_step(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("rw_add_one", context.get_input()))


@app.orchestration_trigger(context_name="context")
def rw_waits(context: df.DurableOrchestrationContext):
    return (yield context.wait_for_external_event("go"))


@app.orchestration_trigger(context_name="context")
def rw_capped_retry(context: df.DurableOrchestrationContext):
    """Backoff 100 ms x10 per attempt, capped at 150 ms, three attempts, all failing."""
    options = BackoffRetryOptions(100, 3, 10, max_ms=150)
    return (yield context.call_activity_with_retry("rw_fails", options, "capped"))


@app.orchestration_trigger(context_name="context")
def rw_single_attempt(context: df.DurableOrchestrationContext):
    """One attempt only, with a retry interval of ten minutes that must never be waited."""
    options = df.RetryOptions(600_000, 1)
    return (yield context.call_activity_with_retry("rw_fails", options, "once"))


@app.orchestration_trigger(context_name="context")
def rw_child_a(context: df.DurableOrchestrationContext):
    return "a"


@app.orchestration_trigger(context_name="context")
def rw_child_b(context: df.DurableOrchestrationContext):
    return "b"


@app.orchestration_trigger(context_name="context")
def rw_sub_changed_mid_run(context: df.DurableOrchestrationContext):
    """Calls the sub-orchestrator rw_child_a on its first run and rw_child_b on every replay."""
    first_run = _count_run(context.instance_id) == 1
    child = yield context.call_sub_orchestrator("rw_child_a" if first_run else "rw_child_b")
    more = yield context.call_activity("rw_add_one", 1)
    return [child, more]


@app.orchestration_trigger(context_name="context")
def rw_raises_bare(context: df.DurableOrchestrationContext):
    """Raises an exception whose message is empty."""
    yield context.call_activity("rw_add_one", 1)
    raise RuntimeError()


@app.orchestration_trigger(context_name="context")
def rw_failing_child(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("rw_fails", "child-boom"))


@app.orchestration_trigger(context_name="context")
def rw_parent_of_failing_child(context: df.DurableOrchestrationContext):
    return (yield context.call_sub_orchestrator("rw_failing_child", None))


@app.orchestration_trigger(context_name="context")
def rw_parent_reusing_a_running_id(context: df.DurableOrchestrationContext):
    """Starts rw_waits as a child under the id (its input) of an instance that is running."""
    return (yield context.call_sub_orchestrator("rw_waits", None, context.get_input()))


@app.orchestration_trigger(context_name="context")
def rw_outlives_its_activity(context: df.DurableOrchestrationContext):
    """Generation 0 leaves a slow activity (task 0) running and continues as new; generation 1
    calls a slower one, which is task 0 of its own execution."""
    if context.get_input() == 0:
        slow = context.call_activity("rw_sleep_then", {"ms": 1500, "value": "generation 0"})
        soon = context.create_timer(context.current_utc_datetime + timedelta(milliseconds=50))
        yield context.task_any([slow, soon])
        context.continue_as_new(1)
        return None
    return (yield context.call_activity("rw_sleep_then", {"ms": 4000, "value": "generation 1"}))


@pytest.fixture
def host(loop: ClientLoop) -> Iterator[EngineHost]:
    engine_host = EngineHost(loop, functions=functions_of(app)).start()
    yield engine_host
    engine_host.stop()


def _webhooks(host: EngineHost) -> str:
    return f"{host.base_url}/runtime/webhooks/durabletask"


def _retry_delays(history: list[dict]) -> list[float]:
    return [
        (
            datetime.fromisoformat(e["FireAt"]) - datetime.fromisoformat(e["Timestamp"])
        ).total_seconds()
        for e in history
        if e["EventType"] == "TimerCreated"
    ]


# Retries ------------------------------------------------------------------------------------


def test_retry_interval_is_capped_by_max_retry_interval(host: EngineHost) -> None:
    """maxRetryIntervalInMilliseconds caps the backoff: the second wait is 150 ms, not 1 s."""
    status = host.wait_for(start(host, "rw_capped_retry"), show_history=True)
    assert status.runtime_status == Status.Failed
    assert "rw_fails always fails: capped" in status.output
    assert _retry_delays(status.history)[:2] == pytest.approx([0.1, 0.15], abs=0.01)


def test_retries_exhausted_fail_without_waiting_another_retry_interval(host: EngineHost) -> None:
    """After the last attempt the orchestration fails at once, without waiting one more retry
    interval (here ten minutes)."""
    status = host.wait_for(start(host, "rw_single_attempt"), timeout=20)
    assert status.runtime_status == Status.Failed
    assert "rw_fails always fails: once" in status.output


# Replay and failures --------------------------------------------------------------------------


def test_a_replay_that_calls_a_different_sub_orchestrator_fails_as_non_deterministic(
    host: EngineHost,
) -> None:
    """A replay that calls another sub-orchestrator than history recorded fails as
    non-deterministic, naming both, rather than being fed rw_child_a's result for rw_child_b."""
    status = host.wait_for(start(host, "rw_sub_changed_mid_run"))
    assert status.runtime_status == Status.Failed, (status.runtime_status, status.output)
    assert "rw_child_a" in status.output and "rw_child_b" in status.output


def test_an_orchestrator_raising_without_a_message_fails_naming_the_exception(
    host: EngineHost,
) -> None:
    """An orchestrator raising an exception with an empty message fails naming its type."""
    status = host.wait_for(start(host, "rw_raises_bare"))
    assert status.runtime_status == Status.Failed
    assert "RuntimeError" in status.output


def test_a_failed_child_s_message_reaches_the_parent(host: EngineHost) -> None:
    """A failed sub-orchestration's message reaches the parent's failure."""
    status = host.wait_for(start(host, "rw_parent_of_failing_child"))
    assert status.runtime_status == Status.Failed
    assert "rw_fails always fails: child-boom" in status.output


def test_a_child_under_the_id_of_a_running_instance_fails_the_parent(host: EngineHost) -> None:
    """A sub-orchestration under the id of a running instance fails the parent, and the running
    instance is left alone."""
    waiting = f"rw-waiting-{uuid.uuid4().hex[:8]}"
    start(host, "rw_waits", None, waiting)
    host.wait_for(waiting, until=("Running",))
    parent = host.wait_for(start(host, "rw_parent_reusing_a_running_id", waiting), timeout=15)
    assert parent.runtime_status == Status.Failed
    assert "already running" in parent.output
    host.run(host.client.raise_event(waiting, "go", "still mine"))
    assert host.wait_for(waiting).output == "still mine"


def test_a_late_result_of_an_earlier_execution_is_not_delivered_to_the_next(
    host: EngineHost,
) -> None:
    """After continue-as-new, a late activity result of the earlier execution is not delivered
    to the new execution's task of the same number."""
    status = host.wait_for(start(host, "rw_outlives_its_activity", 0))
    assert status.runtime_status == Status.Completed
    assert status.output == "generation 1"


# The HTTP management API ------------------------------------------------------------------------


def test_status_shows_the_input_unless_show_input_is_false(host: EngineHost) -> None:
    """A status query shows the input unless `showInput=false` (the host's default is true)."""
    instance_id = start(host, "rw_one_step", 7)
    host.wait_for(instance_id)
    url = f"{_webhooks(host)}/instances/{instance_id}"
    assert httpx.get(url).json()["input"] == 7
    assert httpx.get(url, params={"showInput": "false"}).json()["input"] is None


def test_history_hides_inputs_and_results_without_show_history_output(host: EngineHost) -> None:
    """History hides inputs and results unless `showHistoryOutput=true`; a TaskCompleted names
    the activity it completes, as the host's history does."""
    instance_id = start(host, "rw_one_step", 7)
    host.wait_for(instance_id)
    url = f"{_webhooks(host)}/instances/{instance_id}"
    hidden = httpx.get(url, params={"showHistory": "true"}).json()["historyEvents"]
    completed = [e for e in hidden if e["EventType"] == "TaskCompleted"]
    assert len(completed) == 1
    assert completed[0]["FunctionName"] == "rw_add_one"
    assert "Result" not in completed[0]
    assert not any("Input" in e or "Result" in e for e in hidden)
    shown = httpx.get(url, params={"showHistory": "true", "showHistoryOutput": "true"}).json()
    assert [e["Result"] for e in shown["historyEvents"] if e["EventType"] == "TaskCompleted"] == [8]


def test_status_by_instance_id_prefix(host: EngineHost) -> None:
    """`instanceIdPrefix` lists only the instances whose id starts with it."""
    tag = uuid.uuid4().hex[:8]
    wanted = start(host, "rw_one_step", 1, f"rwp-{tag}-1")
    other = start(host, "rw_one_step", 1, f"other-{tag}")
    for instance_id in (wanted, other):
        host.wait_for(instance_id)
    found = host.run(host.client.get_status_by(instance_id_prefix="rwp-"))
    assert [s.instance_id for s in found] == [wanted]


def test_the_last_full_page_has_no_continuation_token(host: EngineHost) -> None:
    """A listing that ends exactly at a page boundary names no next page."""
    ids = [start(host, "rw_one_step", n) for n in range(4)]
    for instance_id in ids:
        host.wait_for(instance_id)
    first = httpx.get(f"{_webhooks(host)}/instances", params={"top": "2"})
    token = first.headers["x-ms-continuation-token"]
    second = httpx.get(
        f"{_webhooks(host)}/instances",
        params={"top": "2"},
        headers={"x-ms-continuation-token": token},
    )
    assert len(first.json()) == len(second.json()) == 2
    assert "x-ms-continuation-token" not in second.headers
    assert sorted(s["instanceId"] for s in first.json() + second.json()) == sorted(ids)


def test_created_time_to_includes_an_instance_created_at_that_time(host: EngineHost) -> None:
    """createdTimeTo is inclusive ("at or before"), as createdTimeFrom is."""
    instance_id = start(host, "rw_one_step", 1)
    created = host.wait_for(instance_id).created_time
    found = host.run(host.client.get_status_by(created_time_from=created, created_time_to=created))
    assert [s.instance_id for s in found] == [instance_id]


def test_created_time_with_an_unencoded_plus_offset(host: EngineHost) -> None:
    """A curl user's unencoded `+00:00` arrives as a space and is still read as the offset."""
    instance_id = start(host, "rw_one_step", 1)
    host.wait_for(instance_id)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()  # ends in +00:00
    response = httpx.get(f"{_webhooks(host)}/instances?createdTimeFrom={since}")
    assert response.status_code == 200
    assert [s["instanceId"] for s in response.json()] == [instance_id]


def test_purging_by_a_status_that_is_not_terminal_deletes_nothing(host: EngineHost) -> None:
    """A purge filtered to non-terminal statuses deletes nothing (ended instances stay), and
    a purge that deleted nothing is a 404, as the host answers."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    done = start(host, "rw_one_step", 1)
    host.wait_for(done)
    response = httpx.delete(
        f"{_webhooks(host)}/instances",
        params={"createdTimeFrom": before.isoformat(), "runtimeStatus": "Running,Pending"},
    )
    assert (response.status_code, response.json()) == (404, {"instancesDeleted": 0})
    assert host.loop.status(host.client, done).runtime_status == Status.Completed


def test_restart_with_and_without_a_new_instance_id(host: EngineHost) -> None:
    """Restart runs under a new id unless `restartWithNewInstanceId=false` (the host's default
    is true)."""
    original = start(host, "rw_one_step", 5)
    host.wait_for(original)
    renewed = host.run(host.client.restart(original, restart_with_new_instance_id=True))
    assert renewed != original
    assert host.wait_for(renewed).output == 6
    same = host.run(host.client.restart(original, restart_with_new_instance_id=False))
    assert same == original
    host.wait_for(original)
    plain = httpx.post(f"{_webhooks(host)}/instances/{original}/restart")
    assert plain.status_code == 202
    assert plain.json() not in (original, renewed)
    assert host.wait_for(plain.json()).output == 6


# --- serving one engine by itself (devhost/durable/standalone.py: tests, benchmarks, crash drills)


def test_leaving_serving_stops_the_engine_s_instances_too() -> None:
    """Once serving() has exited, an instance waiting on a durable timer leaves nothing running
    on the loop: the engine stops with the server."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    engine = DurableEngine(FUNCTIONS, storage(), unique_hub(), base_url)

    async def scenario() -> list[asyncio.Task[object]]:
        async with serving(engine, port), httpx.AsyncClient(base_url=base_url) as http:
            instance_id = await engine.start_new("timer", None, "60000")  # a one-minute timer
            status_url = f"/runtime/webhooks/durabletask/instances/{instance_id}"

            async def running() -> None:
                while (await http.get(status_url)).json()["runtimeStatus"] != "Running":
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(running(), 20)
        return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

    assert asyncio.run(scenario()) == []


def test_serving_on_a_port_in_use_is_an_os_error_with_nothing_started() -> None:
    """A port already taken is an OSError the caller can catch (uvicorn alone would exit the
    process), raised before the engine starts, so nothing is left running."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        engine = DurableEngine(FUNCTIONS, storage(), unique_hub(), f"http://127.0.0.1:{port}")

        async def scenario() -> list[asyncio.Task[object]]:
            with pytest.raises(OSError):
                async with serving(engine, port):
                    pass
            return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

        assert asyncio.run(scenario()) == []
