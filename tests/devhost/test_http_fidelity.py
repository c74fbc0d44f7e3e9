"""devhost's HTTP front against the Functions host and the Python worker, where they differ
from plain HTTP: what works locally must not behave otherwise on Azure (sources in comments)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devhost.testclient import TestClient
from tests.devhost.devhost_process import DevhostProcess, raw_exchange, serving_devhost
from tests.tenant_fixtures import TenantFactory

APP = """
import json, time
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
SEEN = []


@app.route(route="ready", methods=["GET"])
def ready(req):
    return func.HttpResponse("ok")


@app.route(route="echo", methods=["GET", "POST"])
def echo(req):
    document = {"params": dict(req.params), "body": req.get_body().decode("latin-1")}
    return func.HttpResponse(json.dumps(document), mimetype="application/json")


@app.route(route="two-headers", methods=["GET"])
def two_headers(req):
    response = func.HttpResponse("x")
    response.headers.add("Vary", "Origin")
    response.headers.add("Vary", "Accept-Encoding")
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


@app.route(route="no-content-with-body", methods=["GET"])
def no_content_with_body(req):
    return func.HttpResponse("oops", status_code=204)


@app.route(route="sleep", methods=["GET"])
def sleep(req):
    time.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse("slept")


@app.route(route="record", methods=["POST"])
def record(req):
    SEEN.append(req.get_body().decode())
    return func.HttpResponse(status_code=201)


@app.route(route="seen", methods=["GET"])
def seen(req):
    return func.HttpResponse(json.dumps(SEEN), mimetype="application/json")
"""


def _app_dir(root: Path, function_timeout: str) -> Path:
    app_dir = root / "app"
    app_dir.mkdir(parents=True)
    (app_dir / "fidelity_app.py").write_text(APP)
    (app_dir / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "functionTimeout": function_timeout,
                "extensions": {"http": {"routePrefix": "api"}},
            }
        )
    )
    return app_dir


@pytest.fixture(scope="module")
def devhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    root = tmp_path_factory.mktemp("http-fidelity")
    with serving_devhost(
        root / "data",
        app="fidelity_app:app",
        app_dir=_app_dir(root, "00:00:05"),
        ready_path="/api/ready",
    ) as process:
        yield process


def _head_block(response: bytes) -> list[bytes]:
    return response.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")


# --- empty query values


def test_an_empty_query_value_is_not_handed_to_the_function(devhost: DevhostProcess) -> None:
    # The host leaves out a query key whose value is empty (ToRpcHttp: `if
    # (!string.IsNullOrEmpty(value)) http.Query.Add(...)`; the Python worker does not declare
    # UseNullableValueDictionaryForHttp).
    body = httpx.get(devhost.base_url + "/api/echo?after=&limit=5&flag", timeout=10).json()
    assert body["params"] == {"limit": "5"}
    # A repeated key's values are joined with "," skipping empty ones (StringValues.ToString()).
    body = httpx.get(devhost.base_url + "/api/echo?a=&a=0&b=1&b=2&c=&c=", timeout=10).json()
    assert body["params"] == {"a": "0", "b": "1,2"}


def test_kitchen_catch_up_with_an_empty_after_answers_as_on_azure(
    client: TestClient, tenants: TenantFactory, auth_header: Callable[..., dict[str, str]]
) -> None:
    # On Azure the empty `after` never reaches the function: the display gets its events from
    # the start, locally too (the test client shares devhost's query mapping).
    tenant = tenants.create()
    response = client.get(
        "/api/v1/kitchen/events",
        host=f"{tenant.slug}.stelly.test",
        headers=auth_header("staff", tenant=tenant.slug),
        params={"after": ""},
    )
    assert response.status_code == 200, response.text


# --- chunked request bodies


def test_a_chunked_request_body_is_not_handed_to_the_function(devhost: DevhostProcess) -> None:
    # The host reads a body only when `request.ContentLength > 0` (ToRpcHttp): on Azure a
    # function gets b"" for a chunked one (reported for the Node and PowerShell workers too).
    request = (
        b"POST /api/echo HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n"
        b"connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    received = raw_exchange(devhost, request)
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    assert json.loads(received.split(b"\r\n\r\n", 1)[1])["body"] == ""


# --- requests llhttp reads otherwise than Kestrel (devhost/kestrel_parsing.py)


def _two_answers(received: bytes) -> list[tuple[bytes, bytes]]:
    """(status code, body) of each response in received (ones without a chunked body)."""
    answers = []
    for response in received.split(b"HTTP/1.1 ")[1:]:
        head, _, body = response.partition(b"\r\n\r\n")
        answers.append((head[:3], body))
    return answers


def test_a_body_sent_with_an_upgrade_offer_reaches_the_function(devhost: DevhostProcess) -> None:
    # `curl --http2` and Java's HttpClient offer h2c to http:// URLs; Kestrel ignores the offer
    # on a request with a body (Http1MessageBody.For) and reads the request pipelined after it.
    offer = (
        b"POST /api/echo HTTP/1.1\r\nhost: a\r\nconnection: Upgrade, HTTP2-Settings\r\n"
        b"upgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\ncontent-length: 5\r\n\r\n"
    )
    after = b"GET /api/ready HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    expected = [(b"200", json.dumps({"params": {}, "body": "hello"}).encode()), (b"200", b"ok")]
    assert _two_answers(raw_exchange(devhost, offer + b"hello" + after)) == expected
    # The body in a later read than its headers: the same.
    with socket.create_connection(("127.0.0.1", devhost.port), timeout=10) as conn:
        conn.sendall(offer + b"he")
        time.sleep(0.2)
        conn.sendall(b"llo" + after)
        assert _two_answers(conn.makefile("rb").read()) == expected
    # A chunked body is read past (the host hands a function none), in pieces too.
    chunked = offer.replace(b"content-length: 5", b"transfer-encoding: chunked")
    body = b"5\r\nhello\r\n0\r\n\r\n"
    expected[0] = (b"200", json.dumps({"params": {}, "body": ""}).encode())
    assert _two_answers(raw_exchange(devhost, chunked + body + after)) == expected
    with socket.create_connection(("127.0.0.1", devhost.port), timeout=10) as conn:
        conn.sendall(chunked + body[:4])
        time.sleep(0.2)
        conn.sendall(body[4:] + after)
        assert _two_answers(conn.makefile("rb").read()) == expected


def test_a_lower_case_method_runs_the_function_as_on_the_host(devhost: DevhostProcess) -> None:
    # fetch() sends `patch` or `Patch` as written; Kestrel takes any method token, the host's routes
    # match methods ignoring case. A method llhttp does not know is a problem+json 400.
    for method in (b"post", b"Post"):
        request = method + (
            b" /api/echo HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi"
        )
        received = raw_exchange(devhost, request)
        assert received.startswith(b"HTTP/1.1 200"), received[:200]
        assert json.loads(received.split(b"\r\n\r\n", 1)[1])["body"] == "hi"
    refused = raw_exchange(devhost, b"brew /api/echo HTTP/1.1\r\nhost: a\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 400"), refused[:200]
    assert b"content-type: application/problem+json" in refused.lower()
    assert json.loads(refused.split(b"\r\n\r\n", 1)[1])["status"] == 400


# --- a 204's body on the wire


def test_a_204_with_a_body_does_not_corrupt_the_next_response(devhost: DevhostProcess) -> None:
    # A 204 has no content (RFC 9110 §15.3.5) and Kestrel sends none: written anyway, a kept-alive
    # client would read it as the start of the next response.
    first = b"GET /api/no-content-with-body HTTP/1.1\r\nhost: a\r\n\r\n"
    second = b"GET /api/ready HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    received = raw_exchange(devhost, first + second)
    assert received.startswith(b"HTTP/1.1 204"), received[:200]
    after_first_head = received.split(b"\r\n\r\n", 1)[1]
    assert after_first_head.startswith(b"HTTP/1.1 200"), after_first_head[:80]


# --- repeated response headers


def test_a_repeated_response_header_reaches_the_wire_as_on_azure(devhost: DevhostProcess) -> None:
    # The worker's HttpResponseConverter (azure/functions/http.py) turns the headers into a dict:
    # only the last `Vary` arrives on Azure; every Set-Cookie survives, as the worker's cookies.
    received = raw_exchange(
        devhost, b"GET /api/two-headers HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    )
    head = _head_block(received)
    assert [line for line in head if line.startswith(b"vary:")] == [b"vary: accept-encoding"]
    assert len([line for line in head if line.startswith(b"set-cookie:")]) == 2


# --- a call that timed out while queued


@pytest.fixture
def one_thread_devhost(tmp_path: Path) -> Iterator[DevhostProcess]:
    with serving_devhost(
        tmp_path / "data",
        app="fidelity_app:app",
        app_dir=_app_dir(tmp_path, "00:00:01"),
        ready_path="/api/ready",
        extra_env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"},
    ) as process:
        yield process


def test_a_call_that_timed_out_while_queued_never_runs(one_thread_devhost: DevhostProcess) -> None:
    # A call still waiting for a thread when functionTimeout passes gets its 504 and never runs:
    # on the host a timeout recycles the Python worker (azure-functions-host#8720), and running
    # it later would write after the client was told it failed.
    base = one_thread_devhost.base_url
    slow = threading.Thread(
        target=lambda: httpx.get(base + "/api/sleep?s=1.8", timeout=10), daemon=True
    )
    slow.start()
    time.sleep(0.3)  # the only pool thread is busy now
    queued = httpx.post(base + "/api/record", content=b"late order", timeout=10)
    assert queued.status_code == 504
    slow.join(10)
    time.sleep(0.5)  # the thread is free again: a queued call would have run by now
    assert httpx.get(base + "/api/seen", timeout=10).json() == []
