"""devhost's durable HTTP management API answers as the Durable Functions host does.

Each test drives a real engine (own task hub, real Azurite) with the real SDK client or plain
HTTP; the extension's HttpApiHandler is the authority for status codes, shapes and paging.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import azure.durable_functions as df
import azure.functions as func
import httpx
import pytest

from devhost.durable import DurableEngine
from tests.devhost.durable_fixtures import ClientLoop, EngineHost, storage

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.activity_trigger(input_name="payload")
def http_api_sleep(payload: dict):
    time.sleep(payload["ms"] / 1000)
    return payload["value"]


@app.orchestration_trigger(context_name="context")
def http_api_fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("http_api_sleep", {"ms": 1, "value": 1})
    raise ValueError("kitchen on fire")


@app.orchestration_trigger(context_name="context")
def http_api_quick(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("http_api_sleep", {"ms": 1, "value": context.get_input()}))


@app.orchestration_trigger(context_name="context")
def http_api_waits(context: df.DurableOrchestrationContext):
    return (yield context.wait_for_external_event("go"))


FUNCTIONS = app.get_functions()


@pytest.fixture(scope="module")
def loop() -> Iterator[ClientLoop]:
    client_loop = ClientLoop()
    yield client_loop
    client_loop.close()


@pytest.fixture
def host(loop: ClientLoop) -> Iterator[EngineHost]:
    engine_host = EngineHost(loop)
    engine_host.engine = DurableEngine(FUNCTIONS, storage(), engine_host.hub, engine_host.base_url)
    engine_host.client = df.DurableOrchestrationClient(engine_host.engine.client_binding_json())
    engine_host.start()
    yield engine_host
    engine_host.stop()


def start(host: EngineHost, name: str, payload: object = None, instance_id: str | None = None):
    return host.run(host.client.start_new(name, instance_id, payload))


def rpc(host: EngineHost) -> str:
    return f"{host.base_url}/runtime/webhooks/durabletask"


def test_listing_pages_with_top_and_continuation_token(host: EngineHost) -> None:
    # Pages of `top`, each naming the next with x-ms-continuation-token, reach every instance.
    ids = [start(host, "http_api_quick", n) for n in range(5)]
    for instance_id in ids:
        host.wait_for(instance_id)
    pages: list[list[str]] = []
    headers: dict[str, str] = {}
    for _ in range(5):
        page = httpx.get(f"{rpc(host)}/instances", params={"top": "2"}, headers=headers)
        assert page.status_code == 200
        pages.append([item["instanceId"] for item in page.json()])
        token = page.headers.get("x-ms-continuation-token")
        if not token:
            break
        headers = {"x-ms-continuation-token": token}
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(i for page in pages for i in page) == sorted(ids)
    foreign = httpx.get(f"{rpc(host)}/instances", headers={"x-ms-continuation-token": "x"})
    assert foreign.status_code == 400


def test_create_and_wait_reports_a_failed_orchestration_as_failed(host: EngineHost) -> None:
    # Create-and-wait gives the output only for Completed; a failure is the status payload.
    response = httpx.post(
        f"{rpc(host)}/orchestrators/http_api_fails",
        params={"timeout": "10", "pollingInterval": "1"},
        json=None,
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, dict), body
    assert body["runtimeStatus"] == "Failed" and "kitchen on fire" in body["output"]
    strict = httpx.post(
        f"{rpc(host)}/orchestrators/http_api_fails",
        params={
            "timeout": "10",
            "pollingInterval": "1",
            "returnInternalServerErrorOnFailure": "true",
        },
        json=None,
        timeout=30,
    )
    assert strict.status_code == 500 and strict.json()["runtimeStatus"] == "Failed"


def test_purge_by_filter_requires_created_time_from(host: EngineHost) -> None:
    # Purging by filter needs createdTimeFrom (400 otherwise), so nothing is wiped by accident.
    instance_id = start(host, "http_api_quick", 1)
    host.wait_for(instance_id)
    response = httpx.delete(f"{rpc(host)}/instances", params={"runtimeStatus": "Completed"})
    assert response.status_code == 400
    assert httpx.get(f"{rpc(host)}/instances/{instance_id}").status_code == 200


def test_a_large_event_payload_is_accepted_and_delivered(host: EngineHost) -> None:
    # Larger than one table row holds: the inbox spreads it over several, as the host's
    # Azure Storage provider moves large messages to blobs.
    instance_id = start(host, "http_api_waits")
    host.wait_for(instance_id, until=("Running",))
    big = "x" * 600_000
    host.run(host.client.raise_event(instance_id, "go", big))
    status = host.wait_for(instance_id)
    assert status.output == big
