"""devhost end to end: a subprocess serving the fixture app over real HTTP, with Azurite."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from azure.storage.blob import BlobServiceClient

from tests.devhost.devhost_process import (
    REPO,
    DevhostProcess,
    raw_exchange,
    serving_devhost,
    start_devhost,
)

CONTAINER = f"fixture-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def devhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    data_dir = tmp_path_factory.mktemp("devhost")
    with serving_devhost(data_dir, extra_env={"FIXTURE_BLOB_CONTAINER": CONTAINER}) as process:
        yield process


@pytest.fixture(scope="module")
def http(devhost: DevhostProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=devhost.base_url, timeout=10) as client:
        yield client


def test_request_and_response_conversions(http: httpx.Client) -> None:
    response = http.post(
        "/api/echo/42/tail?a=1&b=two&a=3",
        content=b"payload",
        headers=[("x-test", "present"), ("x-test", "twice")],
    )
    assert response.status_code == 207
    assert response.headers["x-echo"] == "yes"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["method"] == "POST"
    assert body["url"].endswith("/api/echo/42/tail?a=1&b=two&a=3")
    # Repeated keys and headers arrive joined by ",", as the host's StringValues.ToString().
    assert body["params"] == {"a": "1,3", "b": "two"}
    assert body["route"] == {"id": "42", "rest": "tail"}
    assert body["header"] == "present,twice" and body["body"] == "payload"


def test_a_function_may_return_a_str(http: httpx.Client) -> None:
    response = http.get("/api/plain")
    assert (response.status_code, response.text) == (200, "just a string")


def test_req_url_keeps_the_path_percent_encoded(http: httpx.Client) -> None:
    body = http.get("/api/echo/7/a%20b").json()
    assert body["route"] == {"id": "7", "rest": "a b"}
    assert body["url"].endswith("/api/echo/7/a%20b")


def test_pipelined_requests_get_whole_responses_in_order(devhost: DevhostProcess) -> None:
    # The front writes each loop turn's output at once (devhost/coalescing_http.py): two
    # requests in one packet must still get two complete responses, in request order, and the
    # closing request's response must reach the client before the connection closes.
    first = b"GET /api/echo/1 HTTP/1.1\r\nhost: a\r\n\r\n"
    second = b"GET /api/echo/2 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    received = raw_exchange(devhost, first + second)
    assert received.count(b"HTTP/1.1 207") == 2
    assert received.index(b'"id": "1"') < received.index(b'"id": "2"')
    assert received.endswith(b"}")


def test_http_1_0_response_arrives_before_close(devhost: DevhostProcess) -> None:
    received = raw_exchange(devhost, b"GET /api/text HTTP/1.0\r\nhost: a\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200")
    assert received.endswith("héllo".encode())


@pytest.mark.parametrize("host", ["[", "a b", "bad/host", "x:port"])
def test_a_malformed_host_is_a_400_before_any_function(devhost: DevhostProcess, host: str) -> None:
    # As Kestrel answers it: the function never sees a Host no URL can be built from.
    received = raw_exchange(
        devhost, f"GET /api/echo/1 HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n".encode()
    )
    assert received.startswith(b"HTTP/1.1 400"), received[:200]


def test_two_host_lines_are_a_400_not_the_first_hosts_answer(devhost: DevhostProcess) -> None:
    # RFC 9110 §7.2, and Kestrel: folded into "a,b" they would serve the first restaurant.
    request = b"GET /api/echo/1 HTTP/1.1\r\nhost: a\r\nhost: b\r\nconnection: close\r\n\r\n"
    received = raw_exchange(devhost, request)
    assert received.startswith(b"HTTP/1.1 400"), received[:200]
    assert b"More than one Host header" in received


def test_a_request_whose_client_left_mid_body_is_not_invoked(
    devhost: DevhostProcess, http: httpx.Client
) -> None:
    # The host never hands a function half a body.
    with socket.create_connection(("127.0.0.1", devhost.port)) as sock:
        sock.sendall(b"POST /api/post HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\npartial")
    time.sleep(0.2)  # the server has seen the disconnect
    assert http.post("/api/post", content=b"whole").status_code == 204
    assert http.get("/api/seen").json()["posted"] == ["whole"]


def test_large_bodies_round_trip_whole(http: httpx.Client) -> None:
    payload = b"0123456789abcdef" * 65536  # 1 MiB: more than one socket write can take
    response = http.put("/api/echo/3", content=payload)
    assert response.status_code == 207
    assert response.json()["body"].encode() == payload


def test_optional_route_parameter_may_be_absent(http: httpx.Client) -> None:
    assert http.get("/api/echo/7").json()["route"] == {"id": "7"}


def test_mimetype_and_charset(http: httpx.Client) -> None:
    response = http.get("/api/text")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "héllo"
    # The Python worker adds the charset to text/* only (the SDK's default charset is utf-8).
    assert http.get("/api/json").headers["content-type"] == "application/json"


def test_async_functions_run_on_the_loop(http: httpx.Client) -> None:
    assert http.get("/api/async-hello").text == "hello from async"


def test_unknown_route_and_wrong_method_are_problems(http: httpx.Client) -> None:
    missing = http.get("/api/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = http.delete("/api/echo/1")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST, PUT"
    assert http.get("/api/echo/not-an-int").status_code == 404


def test_a_slow_call_does_not_block_others(devhost: DevhostProcess, http: httpx.Client) -> None:
    finished: list[str] = []

    def slow() -> None:
        httpx.get(devhost.base_url + "/api/slow?s=1.5", timeout=10)
        finished.append("slow")

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    for _ in range(3):
        assert http.get("/api/text").status_code == 200
        finished.append("fast")
    thread.join()
    assert finished == ["fast", "fast", "fast", "slow"]


def test_function_timeout_from_host_json(devhost: DevhostProcess, http: httpx.Client) -> None:
    response = http.get("/api/slow?s=4")
    assert response.status_code == 504
    assert "functionTimeout" in response.json()["detail"]
    # Logged while devhost runs (its log lines are written every 50 ms), not only at exit.
    deadline = time.monotonic() + 5
    while "slow timed out after 2.0s" not in devhost.log.read_text():
        assert time.monotonic() < deadline, "the timeout was not logged while devhost ran"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("path", "function"), [("/api/fail?error=timeout", "fail"), ("/api/async-fail", "async_fail")]
)
def test_a_timeout_the_function_raises_is_its_failure_not_the_hosts(
    devhost: DevhostProcess, http: httpx.Client, path: str, function: str
) -> None:
    response = http.get(path)
    assert response.status_code == 500  # as the host answers: not 504, functionTimeout was not hit
    assert f"{function} raised an exception" in response.json()["detail"]
    deadline = time.monotonic() + 5
    while f"function {function} raised" not in devhost.log.read_text():
        assert time.monotonic() < deadline, "the function's exception was not logged"
        time.sleep(0.05)


def test_timer_fires_through_the_admin_endpoint(http: httpx.Client) -> None:
    assert http.post("/admin/functions/yearly").status_code == 202  # at once; the run follows
    deadline = time.monotonic() + 5
    while not (seen := http.get("/api/seen").json()["timer"]):
        assert time.monotonic() < deadline, "the timer never ran"
        time.sleep(0.05)
    assert seen == [{"past_due": False}]
    assert http.post("/admin/functions/no_such_timer").status_code == 404


def test_blob_trigger_fires_for_an_upload(http: httpx.Client) -> None:
    import os

    service = BlobServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])
    container = service.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    container.upload_blob("note.txt", b"hi there", overwrite=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = http.get("/api/seen").json()["blob"]
        if seen:
            break
        time.sleep(0.1)
    assert seen == [{"name": f"{CONTAINER}/note.txt", "length": 8, "data": "hi there"}]


def test_jwks_and_token_cli_agree(devhost: DevhostProcess, tmp_path: Path) -> None:
    data_dir = devhost.log.parent
    token = subprocess.run(
        [sys.executable, "-m", "devhost", "token", "--role", "owner", "--tenant", "demo",
         "--data-dir", str(data_dir)],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    keys = jwt.PyJWKClient(devhost.base_url + "/.well-known/jwks.json")
    claims = jwt.decode(
        token, keys.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
        options={"verify_aud": False},
    )  # fmt: skip
    assert claims["roles"] == ["owner"] and claims["tenant"] == "demo"


def test_durable_orchestration_through_check_status_urls(http: httpx.Client) -> None:
    started = http.post("/api/start/greet_all", json=["ada", "linus"])
    assert started.status_code == 202
    status_url = started.json()["statusQueryGetUri"]
    assert started.headers["location"] == status_url
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status = httpx.get(status_url, timeout=5).json()  # a curl-like GET of the URL
        if status["runtimeStatus"] in ("Completed", "Failed"):
            break
        time.sleep(0.05)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["hello ada", "hello linus"]


def test_ctrl_c_does_not_wait_out_a_long_request(tmp_path: Path) -> None:
    # functionTimeout is 5 minutes here; Ctrl-C must not wait for the request that long.
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "host.json").write_text(
        '{"version": "2.0", "functionTimeout": "00:05:00",'
        ' "extensions": {"http": {"routePrefix": "api"}}}'
    )
    (app_dir / "sleepy_app.py").write_text(
        "import time\nimport azure.functions as func\n"
        "app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
        "@app.route(route='ready')\ndef ready(req): return func.HttpResponse('ok')\n"
        "@app.route(route='sleep')\ndef sleep(req):\n    time.sleep(60)\n"
        "    return func.HttpResponse('late')\n"
    )
    devhost = start_devhost(
        tmp_path / "data", app="sleepy_app:app", app_dir=app_dir, ready_path="/api/ready"
    )
    try:
        request = threading.Thread(
            target=lambda: httpx.get(devhost.base_url + "/api/sleep", timeout=70), daemon=True
        )
        request.start()
        time.sleep(0.5)
        devhost.process.send_signal(signal.SIGINT)
        devhost.process.wait(10)
    finally:
        devhost.stop(signal.SIGKILL)
    assert devhost.process.returncode == 0, devhost.log.read_text()[-2000:]
