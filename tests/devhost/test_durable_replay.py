"""The durable engine across replays and executions: non-determinism, consumed events.

Each test serves its own engine (own task hub) for the small app below on uvicorn and drives it
with `df.DurableOrchestrationClient`, as tests/devhost/test_durable_engine.py does.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.durable_functions import OrchestrationRuntimeStatus as Status

from tests.devhost.durable_fixtures import (  # noqa: F401
    ClientLoop,
    EngineHost,
    RunCounter,
    functions_of,
    loop_fixture,
    start,
)

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_count_run = RunCounter()  # first run vs. replays, per instance


@app.activity_trigger(input_name="value")
def rv_add_one(value: int) -> int:
    return value + 1


@app.activity_trigger(input_name="value")
def rv_negate(value: int) -> int:
    return -value


@app.orchestration_trigger(context_name="context")
def rv_changed_mid_run(context: df.DurableOrchestrationContext):
    """Schedules rv_add_one on its first run and rv_negate on every replay, as an orchestrator
    does whose code was changed (or that branches on the clock/random) while an instance ran."""
    first_run = _count_run(context.instance_id) == 1
    value = yield context.call_activity("rv_add_one" if first_run else "rv_negate", 5)
    more = yield context.call_activity("rv_add_one", value)
    return [value, more]


@app.orchestration_trigger(context_name="context")
def rv_two_generations(context: df.DurableOrchestrationContext):
    """Generation 0 takes one "a" event, does some work and continues as new; generation 1
    waits for a fresh "a" event."""
    generation = context.get_input()
    got = yield context.wait_for_external_event("a")
    if generation == 0:
        yield context.call_activity("rv_add_one", 1)
        context.continue_as_new(1)
        return None
    return ["second generation got", got]


@pytest.fixture
def host(loop: ClientLoop) -> Iterator[EngineHost]:
    engine_host = EngineHost(loop, functions=functions_of(app)).start()
    yield engine_host
    engine_host.stop()


def test_a_replay_that_schedules_a_different_activity_fails_as_non_deterministic(
    host: EngineHost,
) -> None:
    # Fed the recorded result of another activity, it would complete with a wrong output; the
    # host (DTFx's NonDeterministicOrchestrationException) fails it and names the mismatch.
    status = host.wait_for(start(host, "rv_changed_mid_run"))
    assert status.runtime_status == Status.Failed, (status.runtime_status, status.output)
    assert "rv_negate" in status.output and "rv_add_one" in status.output


def test_an_event_consumed_before_continue_as_new_is_not_delivered_again_after_a_restart(
    loop: ClientLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An inbox row whose deletion after its episode failed once (or was cut by a crash) must
    # not reach the next execution as a fresh event: an approval raised once, consumed twice.
    first = EngineHost(loop, functions=functions_of(app)).start()
    try:
        store = first.engine.store
        real_delete = store.delete_inbox
        failed: list[str] = []

        async def failing_once(instance_id: str, keys: list[str]) -> None:
            if not failed:  # a transient storage error, as put_instance's test injects one
                failed.append(instance_id)
                raise ConnectionError("storage went away for a moment")
            await real_delete(instance_id, keys)

        monkeypatch.setattr(store, "delete_inbox", failing_once)
        instance_id = start(first, "rv_two_generations", 0)
        first.wait_for(instance_id, until=("Running",))
        first.run(first.client.raise_event(instance_id, "a", "the only event of generation 0"))
        deadline = time.monotonic() + 15
        while True:  # generation 1 is running and waiting for its own event
            status = first.loop.status(first.client, instance_id, show_input=True)
            if status.input_ == 1 and status.runtime_status == Status.Running:
                break
            assert time.monotonic() < deadline, f"still {status.runtime_status} {status.input_}"
            time.sleep(0.05)
        assert failed == [instance_id]
    finally:
        first.stop()
    # devhost started again on the same hub
    second = EngineHost(loop, functions=functions_of(app), hub=first.hub).start()
    try:
        # (Had it taken the old event, the instance would have ended: a 410.)
        with contextlib.suppress(Exception):
            second.run(second.client.raise_event(instance_id, "a", "generation 1's own event"))
        status = second.wait_for(instance_id)
        assert status.output == ["second generation got", "generation 1's own event"]
    finally:
        second.stop()
