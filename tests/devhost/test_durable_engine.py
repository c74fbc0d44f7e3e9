"""devhost's durable engine through the real SDK client, against a real Azurite.

Each test serves its own engine (own task hub) on uvicorn and drives it with
`df.DurableOrchestrationClient` and plain HTTP, as a function app and curl would.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.functions as func
import httpx
import pytest
from azure.durable_functions import OrchestrationRuntimeStatus as Status

from devhost.services import free_port
from tests.devhost import durable_fixture_app
from tests.devhost.durable_fixtures import (  # noqa: F401
    FUNCTIONS,
    ClientLoop,
    EngineHost,
    EngineProcess,
    loop_fixture,
    start,
    unique_hub,
)


@pytest.fixture
def host(loop: ClientLoop) -> Iterator[EngineHost]:
    engine_host = EngineHost(loop).start()
    yield engine_host
    engine_host.stop()


def test_sequence_of_three_activities(host: EngineHost) -> None:
    status = host.wait_for(start(host, "sequence", 1))
    assert status.runtime_status == Status.Completed
    assert status.output == [2, 3, 4]
    assert status.created_time <= status.last_updated_time


def test_fan_out_fan_in_of_100_activities_keeps_yield_order(host: EngineHost) -> None:
    status = host.wait_for(start(host, "fan_out", 100))
    assert status.runtime_status == Status.Completed
    assert status.output == [n * n for n in range(100)]


def test_retry_with_exponential_backoff_succeeds_on_third_attempt(host: EngineHost) -> None:
    token = uuid.uuid4().hex
    config = {"token": token, "first_ms": 100, "coefficient": 2, "attempts": 5, "succeed_on": 3}
    began = time.monotonic()
    status = host.wait_for(start(host, "retrying", config), show_history=True)
    assert status.runtime_status == Status.Completed
    assert status.output == ["ok on attempt 3", 42]
    assert durable_fixture_app.calls(token) == 3
    assert time.monotonic() - began >= 0.3
    retry_timers = [e for e in status.history if e["EventType"] == "TimerCreated"]
    delays = [
        (
            datetime.fromisoformat(e["FireAt"]) - datetime.fromisoformat(e["Timestamp"])
        ).total_seconds()
        for e in retry_timers
    ]
    assert delays == pytest.approx([0.1, 0.2], abs=0.01)


def test_retry_exhausted_fails_orchestration_with_activity_message(host: EngineHost) -> None:
    token = uuid.uuid4().hex
    config = {"token": token, "first_ms": 20, "coefficient": 1, "attempts": 2, "succeed_on": 9}
    status = host.wait_for(start(host, "retrying", config))
    assert status.runtime_status == Status.Failed
    assert f"flaky attempt 2 of {token} failed" in status.output
    assert durable_fixture_app.calls(token) == 2


def test_payloads_beyond_table_property_limits_are_chunked(host: EngineHost) -> None:
    text = "é€" * 40_000  # 80,000 characters: over the 32K-unit property limit as UTF-16
    instance_id = start(host, "big_echo", text)
    host.wait_for(instance_id)
    # Ended instances are read back from the tables, not from memory.
    status = host.loop.status(
        host.client, instance_id, show_input=True, show_history=True, show_history_output=True
    )
    assert status.input_ == text
    assert status.output == text + text
    assert [e["Result"] for e in status.history if e["EventType"] == "TaskCompleted"] == [
        text + text
    ]


def test_task_any_returns_first_finisher(host: EngineHost) -> None:
    began = time.monotonic()
    status = host.wait_for(start(host, "racing"))
    assert status.output == "fast"
    assert time.monotonic() - began < 0.8


def test_durable_timer_fires_at_its_time(host: EngineHost) -> None:
    began = time.monotonic()
    status = host.wait_for(start(host, "timer", 400))
    assert status.runtime_status == Status.Completed
    assert status.output >= 0.4  # context.current_utc_datetime moved past fireAt
    assert time.monotonic() - began >= 0.4


def test_cancelled_timer_does_not_hold_the_instance(host: EngineHost) -> None:
    instance_id = start(host, "timeout_or_event")
    host.wait_for(instance_id, until=("Running",))
    host.run(host.client.raise_event(instance_id, "go", "now"))
    status = host.wait_for(instance_id, timeout=5)
    assert status.output == "event:now"


def test_sub_orchestrations_plain_named_and_with_retry(host: EngineHost) -> None:
    token = uuid.uuid4().hex
    instance_id = start(host, "parent", token)
    status = host.wait_for(instance_id)
    assert status.runtime_status == Status.Completed
    assert status.output == [[11, 12, 13], [21, 22, 23], "ok on attempt 2"]
    named = host.wait_for(f"{instance_id}-named")
    assert named.output == [21, 22, 23]
    assert durable_fixture_app.calls(token) == 2  # the first child failed and was retried


def test_external_event_and_custom_status_while_running(host: EngineHost) -> None:
    instance_id = start(host, "approval")
    deadline = time.monotonic() + 10
    while host.loop.status(host.client, instance_id).custom_status is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    status_url = f"{host.base_url}/runtime/webhooks/durabletask/instances/{instance_id}"
    running = httpx.get(status_url)
    assert running.status_code == 202
    assert running.json()["customStatus"] == {"stage": "waiting for approval"}
    assert running.json()["runtimeStatus"] == "Running"
    host.run(host.client.raise_event(instance_id, "approve", {"by": "ana"}))
    status = host.wait_for(instance_id)
    assert status.output == {"by": "ana"}
    assert status.custom_status == {"stage": "approved"}
    assert httpx.get(status_url).status_code == 200
    with pytest.raises(Exception, match="is gone"):
        host.run(host.client.raise_event(instance_id, "approve", 1))
    with pytest.raises(Exception, match="No instance"):
        host.run(host.client.raise_event("no-such-instance", "approve", 1))


def test_continue_as_new_restarts_with_new_input(host: EngineHost) -> None:
    status = host.wait_for(start(host, "counter", 0), show_history=True, show_history_output=True)
    assert status.runtime_status == Status.Completed
    assert status.output == 3
    started = [e for e in status.history if e["EventType"] == "ExecutionStarted"]
    assert [e["Input"] for e in started] == [2]  # only the last execution's history remains


def test_terminate(host: EngineHost) -> None:
    instance_id = start(host, "approval")
    host.wait_for(instance_id, until=("Running",))
    host.run(host.client.terminate(instance_id, "no longer needed"))
    status = host.wait_for(instance_id)
    assert status.runtime_status == Status.Terminated
    assert status.output == "no longer needed"
    host.run(host.client.terminate(instance_id, "again"))  # 410: already ended, not an error


def test_starting_a_running_id_is_refused_and_an_ended_id_restarts(host: EngineHost) -> None:
    # The host's default overridableExistingInstanceStates (NonRunningStates): 409 while the
    # instance runs, which the SDK raises; a new run once it has ended.
    instance_id = f"fixed-{uuid.uuid4().hex[:8]}"
    assert start(host, "approval", "first", instance_id) == instance_id
    with pytest.raises(Exception, match="already exists"):
        start(host, "approval", "second", instance_id)
    running = host.wait_for(instance_id, until=("Running",), show_input=True)
    assert running.input_ == "first"
    host.run(host.client.terminate(instance_id, "done"))
    host.wait_for(instance_id)
    assert start(host, "approval", "third", instance_id) == instance_id
    restarted = host.wait_for(instance_id, until=("Running",), show_input=True)
    assert restarted.input_ == "third"
    host.run(host.client.raise_event(instance_id, "approve", "yes"))
    assert host.wait_for(instance_id).output == "yes"


def test_a_restarted_parent_starts_its_own_child_beside_the_old_one(host: EngineHost) -> None:
    """Children without an id are named after the parent's execution, as the real host does, so
    a child the terminated run left behind (terminate does not reach children) is no clash."""
    parent = f"parent-{uuid.uuid4().hex[:8]}"
    start(host, "awaits_approval", None, parent)
    first_child = waiting_children(host, parent, 1)[0]
    host.run(host.client.terminate(parent, "started again"))
    host.wait_for(parent)
    start(host, "awaits_approval", None, parent)
    children = waiting_children(host, parent, 2)
    assert first_child in children
    assert host.wait_for(parent, until=("Running",)).runtime_status == Status.Running


def waiting_children(host: EngineHost, parent: str, count: int) -> list[str]:
    """Ids of `count` running `approval` children, failing at once if the parent fails."""
    deadline = time.monotonic() + 30
    while True:
        everything = host.run(host.client.get_status_all())
        failed = [
            s.output
            for s in everything
            if s.instance_id == parent and s.runtime_status == Status.Failed
        ]
        assert not failed, failed
        children = [
            s.instance_id
            for s in everything
            if s.name == "approval" and s.runtime_status == Status.Running
        ]
        if len(children) >= count:
            return children
        assert time.monotonic() < deadline, f"{count} children of {parent} never ran"
        time.sleep(0.05)


@pytest.mark.parametrize("ending", ["Completed", "Terminated"])
def test_a_storage_error_after_the_end_is_committed_is_retried(
    host: EngineHost, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """The final instance-row write fails once (Azurite cannot be made to fail at exactly that
    write, so the real store's method raises before it runs); the engine writes it again."""
    store = host.engine.store
    real_put = store.put_instance
    failed: list[str] = []

    async def failing_once(record):
        if record.status == ending and not failed:
            failed.append(record.instance_id)
            raise ConnectionError("storage went away for a moment")
        await real_put(record)

    monkeypatch.setattr(store, "put_instance", failing_once)
    instance_id = f"ending-{uuid.uuid4().hex[:8]}"
    start(host, "approval", None, instance_id)
    host.wait_for(instance_id, until=("Running",))
    if ending == "Completed":
        host.run(host.client.raise_event(instance_id, "approve", "yes"))
    else:
        host.run(host.client.terminate(instance_id, "stop"))
    deadline = time.monotonic() + 10
    while True:  # the row in storage, not the status the engine holds in memory
        row = host.run(store.get_instance(instance_id))
        if row is not None and row.status == ending:
            break
        assert time.monotonic() < deadline, f"the row still says {row and row.status}"
        time.sleep(0.05)
    assert failed == [instance_id]
    # And the id can be started again: the old execution is released.
    start(host, "approval", "again", instance_id)
    assert host.wait_for(instance_id, until=("Running",), show_input=True).input_ == "again"


def test_entities_fail_clearly(host: EngineHost) -> None:
    status = host.wait_for(start(host, "uses_entity"))
    assert status.runtime_status == Status.Failed
    assert "not supported by devhost" in status.output


def test_unknown_orchestrator_is_rejected(host: EngineHost) -> None:
    with pytest.raises(Exception, match="doesn't exist"):
        start(host, "no_such_orchestrator")


def test_check_status_urls_work_with_plain_http(host: EngineHost) -> None:
    starter = next(f for f in FUNCTIONS if f.get_function_name() == "http_start")
    request = func.HttpRequest(
        method="POST",
        url=f"{host.base_url}/api/start/approval",
        headers={},
        params={},
        route_params={"name": "approval"},
        body=b"",
    )
    binding = host.engine.client_binding_json()
    response = host.run(starter.get_user_function()(req=request, client=binding))
    assert response.status_code == 202
    links = json.loads(response.get_body())
    assert response.headers["Location"] == links["statusQueryGetUri"]
    status_url = links["statusQueryGetUri"] + "&code=anything"  # extra parameters are accepted
    assert httpx.get(status_url).status_code in (200, 202)
    event_url = links["sendEventPostUri"].replace("{eventName}", "approve")
    assert httpx.post(event_url, json={"via": "curl"}).status_code == 202
    host.wait_for(links["id"])
    done = httpx.get(status_url, params={"showHistory": "true", "showHistoryOutput": "true"})
    assert done.status_code == 200
    assert done.json()["output"] == {"via": "curl"}
    assert [e["EventType"] for e in done.json()["historyEvents"]][-2:] == [
        "EventRaised",
        "ExecutionCompleted",
    ]
    assert httpx.post(links["terminatePostUri"].replace("{text}", "late")).status_code == 410
    assert httpx.delete(links["purgeHistoryDeleteUri"]).json() == {"instancesDeleted": 1}
    assert httpx.get(status_url).status_code == 404


def test_status_queries_and_purge(host: EngineHost) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    done = [start(host, "sequence", n) for n in range(3)]
    waiting = start(host, "approval")
    for instance_id in done:
        host.wait_for(instance_id)
    host.wait_for(waiting, until=("Running",))
    everything = host.run(host.client.get_status_all())
    assert {s.instance_id for s in everything} == {*done, waiting}
    completed = host.run(host.client.get_status_by(runtime_status=[Status.Completed]))
    assert {s.instance_id for s in completed} == set(done)
    later = host.run(host.client.get_status_by(created_time_from=datetime.now(UTC)))
    assert later == []
    assert host.run(host.client.purge_instance_history(done[0])).instances_deleted == 1
    assert not host.loop.status(host.client, done[0])
    with pytest.raises(Exception, match="412"):  # as the host: a running instance is kept
        host.run(host.client.purge_instance_history(waiting))
    purged = host.run(
        host.client.purge_instance_history_by(
            created_time_from=before, runtime_status=[Status.Completed]
        )
    )
    assert purged.instances_deleted == 2
    remaining = host.run(host.client.get_status_all())
    assert [s.instance_id for s in remaining] == [waiting]


def test_crash_mid_activity_then_resume_completes_with_same_result(
    loop: ClientLoop, tmp_path: Path
) -> None:
    hub, port = unique_hub(), free_port()
    marker = tmp_path / "slow-step-started"
    first = EngineProcess(hub, port, tmp_path / "engine.log")
    try:
        config = {"start": 1, "marker": str(marker), "seconds": 1.5}
        instance_id = loop.run(first.client.start_new("crash_demo", None, config), 30)
        timer_id = loop.run(first.client.start_new("timer", None, 2500), 30)
        approval_id = loop.run(first.client.start_new("approval", None, None), 30)
        loop.wait_for(first.client, approval_id, until=("Running",))
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert time.monotonic() < deadline, "the slow activity never started"
            time.sleep(0.02)
        # Acknowledged (202) means persisted, even if the process dies before acting on it.
        loop.run(first.client.raise_event(approval_id, "approve", "before the crash"), 30)
    finally:
        first.kill()
    marker.unlink()
    second = EngineProcess(hub, port, tmp_path / "engine.log")
    try:
        status = loop.wait_for(second.client, instance_id)
        assert status.runtime_status == Status.Completed
        assert status.output == [2, "slow:2", 13]
        assert marker.exists()  # at-least-once: the activity cut short ran again
        timer = loop.wait_for(second.client, timer_id)
        assert timer.runtime_status == Status.Completed
        assert timer.output >= 2.5  # the persisted timer fired after the restart
        assert loop.wait_for(second.client, approval_id).output == "before the crash"
    finally:
        second.kill()


# The durable HTTP API answers as the extension's HttpApiHandler does. ------------------------


def _webhooks(host: EngineHost) -> str:
    return f"{host.base_url}/runtime/webhooks/durabletask"


def test_listing_pages_with_top_and_continuation_token(host: EngineHost) -> None:
    # Pages of `top`, each naming the next with x-ms-continuation-token, reach every instance.
    ids = [start(host, "sequence", n) for n in range(5)]
    for instance_id in ids:
        host.wait_for(instance_id)
    pages: list[list[str]] = []
    headers: dict[str, str] = {}
    for _ in range(5):
        page = httpx.get(f"{_webhooks(host)}/instances", params={"top": "2"}, headers=headers)
        assert page.status_code == 200
        pages.append([item["instanceId"] for item in page.json()])
        token = page.headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(i for page in pages for i in page) == sorted(ids)
    foreign = httpx.get(f"{_webhooks(host)}/instances", headers={"x-ms-continuation-token": "x"})
    assert foreign.status_code == 400


def test_create_and_wait_gives_the_output_only_for_completed(host: EngineHost) -> None:
    # A failure is the status payload (500 with returnInternalServerErrorOnFailure), never its
    # error text posing as the output.
    failing = {"first_ms": 20, "coefficient": 1, "attempts": 1, "succeed_on": 9}
    wait = {"timeout": "10", "pollingInterval": "1"}
    for strict, code in ((False, 200), (True, 500)):
        params = {**wait, "returnInternalServerErrorOnFailure": str(strict).lower()}
        response = httpx.post(
            f"{_webhooks(host)}/orchestrators/retrying",
            params=params,
            json={**failing, "token": uuid.uuid4().hex},
            timeout=30,
        )
        assert response.status_code == code
        assert response.json()["runtimeStatus"] == "Failed"
    done = httpx.post(f"{_webhooks(host)}/orchestrators/sequence", params=wait, json=1, timeout=30)
    assert (done.status_code, done.json()) == (200, [2, 3, 4])


def test_purge_by_filter_requires_created_time_from(host: EngineHost) -> None:
    # As the host: 400 without createdTimeFrom, so nothing is wiped by accident.
    instance_id = start(host, "sequence", 1)
    host.wait_for(instance_id)
    response = httpx.delete(f"{_webhooks(host)}/instances", params={"runtimeStatus": "Completed"})
    assert response.status_code == 400
    assert httpx.get(f"{_webhooks(host)}/instances/{instance_id}").status_code == 200


def test_an_event_larger_than_a_table_row_is_delivered(host: EngineHost) -> None:
    # The inbox spreads it over several rows, as the host's storage provider moves large
    # messages to blobs.
    instance_id = start(host, "approval")
    host.wait_for(instance_id, until=("Running",))
    big = "x" * 600_000
    host.run(host.client.raise_event(instance_id, "approve", big))
    assert host.wait_for(instance_id).output == big
