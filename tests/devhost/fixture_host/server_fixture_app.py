"""A fixture Function app for devhost's end-to-end tests: one function per trigger kind."""

from __future__ import annotations

import json
import os
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
# What the non-HTTP triggers saw, read back over HTTP by the tests (same process).
SEEN: dict[str, list] = {"timer": [], "blob": [], "posted": []}
BLOB_CONTAINER = os.environ.get("FIXTURE_BLOB_CONTAINER", "fixture-uploads")


@app.route(route="echo/{id:int}/{rest?}", methods=["GET", "POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    document = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "route": dict(req.route_params),
        "header": req.headers.get("x-test"),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(
        json.dumps(document),
        status_code=207,
        headers={"x-echo": "yes"},
        mimetype="application/json",
    )


@app.route(route="text", methods=["GET"])
def text(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("héllo", mimetype="text/plain", charset="utf-8")


@app.route(route="plain", methods=["GET"])
def plain(req: func.HttpRequest) -> str:
    """The Python worker accepts a str return as the response body."""
    return "just a string"


@app.route(route="json", methods=["GET"])
def json_body(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"ok": true}', mimetype="application/json")


@app.route(route="slow", methods=["GET"])
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse("slow done")


@app.route(route="async-hello", methods=["GET"])
async def async_hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hello from async")


@app.route(route="pid", methods=["GET"])
def pid(req: func.HttpRequest) -> func.HttpResponse:
    """Which process ran the function (devhost's own, or one of its language workers)."""
    return func.HttpResponse(str(os.getpid()))


@app.route(route="fail", methods=["GET"])
def fail(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("error") == "timeout":  # its own, e.g. a socket timeout
        raise TimeoutError("the fixture's own call timed out")
    raise RuntimeError("the fixture fails on purpose")


@app.route(route="async-fail", methods=["GET"])
async def async_fail(req: func.HttpRequest) -> func.HttpResponse:
    raise TimeoutError("the fixture's own awaited call timed out")


@app.route(route="post", methods=["POST"])
def post(req: func.HttpRequest) -> func.HttpResponse:
    SEEN["posted"].append(req.get_body().decode())
    return func.HttpResponse(status_code=204)


@app.route(route="seen", methods=["GET"])
def seen(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(SEEN), mimetype="application/json")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=False)
def yearly(timer: func.TimerRequest) -> None:
    SEEN["timer"].append({"past_due": timer.past_due})


@app.blob_trigger(
    arg_name="blob", path=BLOB_CONTAINER + "/{name}", connection="AzureWebJobsStorage"
)
def on_upload(blob: func.InputStream) -> None:
    SEEN["blob"].append({"name": blob.name, "length": blob.length, "data": blob.read().decode()})


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def greet_all(context: df.DurableOrchestrationContext):
    names = context.get_input()
    greetings = yield context.task_all([context.call_activity("greet", n) for n in names])
    return greetings


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"hello {name}"
