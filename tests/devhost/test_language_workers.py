"""FUNCTIONS_WORKER_PROCESS_COUNT: devhost runs HTTP functions in language worker processes.

A real devhost subprocess with two workers serves the fixture app over real HTTP; the durable
client in a worker talks to devhost's durable engine over its real webhooks.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.devhost.devhost_process import DevhostProcess, serving_devhost, start_devhost

WORKERS = {"FUNCTIONS_WORKER_PROCESS_COUNT": "2"}


@pytest.fixture(scope="module")
def devhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    with serving_devhost(tmp_path_factory.mktemp("workers"), extra_env=WORKERS) as process:
        yield process


@pytest.fixture(scope="module")
def http(devhost: DevhostProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=devhost.base_url, timeout=10) as client:
        yield client


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def worker_pids(http: httpx.Client, requests: int = 10) -> set[int]:
    answers = [http.get("/api/pid") for _ in range(requests)]
    return {int(answer.text) for answer in answers if answer.status_code == 200}


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_http_functions_run_in_the_worker_processes(
    devhost: DevhostProcess, http: httpx.Client
) -> None:
    pids = worker_pids(http)
    assert len(pids) == 2
    assert devhost.process.pid not in pids
    assert {parent_of(pid) for pid in pids} == {devhost.process.pid}
    log = devhost.log.read_text().splitlines()
    [banner] = [line for line in log if "HTTP functions   in language worker processes" in line]
    assert {int(pid) for pid in banner.split("processes ")[1].split(", ")} == pids


def test_requests_and_responses_cross_to_the_workers_whole(http: httpx.Client) -> None:
    response = http.post(
        "/api/echo/42/tail?a=1&b=two", content=b"payload", headers={"x-test": "present"}
    )
    assert response.status_code == 207 and response.headers["x-echo"] == "yes"
    body = response.json()
    assert body["method"] == "POST" and body["url"].endswith("/api/echo/42/tail?a=1&b=two")
    assert body["params"] == {"a": "1", "b": "two"}
    assert body["route"] == {"id": "42", "rest": "tail"}
    assert body["header"] == "present" and body["body"] == "payload"
    text = http.get("/api/text")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.text == "héllo"
    assert http.get("/api/async-hello").text == "hello from async"
    assert http.get("/api/plain").text == "just a string"
    assert http.get("/api/echo/7/a%20b").json()["url"].endswith("/api/echo/7/a%20b")
    big = os.urandom(3 * 1024 * 1024).hex()
    assert http.put("/api/echo/1", content=big.encode()).json()["body"] == big


def test_failures_and_timeouts_in_a_worker_are_problems(http: httpx.Client) -> None:
    failed = http.get("/api/fail")
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "fail raised" in failed.json()["detail"]
    slow = http.get("/api/slow", params={"s": "3"})  # host.json: functionTimeout 2 s
    assert slow.status_code == 504 and "functionTimeout" in slow.json()["detail"]


def test_a_durable_client_in_a_worker_drives_devhost_s_engine(http: httpx.Client) -> None:
    started = http.post("/api/start/greet_all", json=["Ana", "Ben"])
    assert started.status_code == 202
    status_url = started.json()["statusQueryGetUri"]

    def finished() -> bool:
        return http.get(status_url).json()["runtimeStatus"] in ("Completed", "Failed")

    eventually(finished, "the orchestration did not finish")
    assert http.get(status_url).json()["output"] == ["hello Ana", "hello Ben"]


def test_workers_that_die_are_started_again(devhost: DevhostProcess, http: httpx.Client) -> None:
    before = worker_pids(http)
    in_flight: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: in_flight.append(http.get("/api/slow?s=1.5")))
    slow.start()
    time.sleep(0.3)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    slow.join()
    # The request a dead worker held is answered, not left hanging.
    [answer] = in_flight
    assert answer.status_code == 500 and "exited" in answer.json()["detail"]

    def replaced() -> bool:
        pids = worker_pids(http, requests=4)
        return len(pids) == 2 and not pids & before

    eventually(replaced, "the killed workers were not replaced")
    assert {http.get("/api/pid").status_code for _ in range(10)} == {200}
    for pid in before:
        logged = f"(pid {pid}) exited; starting it again"
        eventually(lambda logged=logged: logged in devhost.log.read_text(), f"not logged: {logged}")


def test_ctrl_c_and_sigkill_of_devhost_end_its_workers(tmp_path: Path) -> None:
    for stop_with in (signal.SIGINT, signal.SIGKILL):
        devhost = start_devhost(tmp_path / stop_with.name, extra_env=WORKERS)
        with httpx.Client(base_url=devhost.base_url, timeout=10) as http:
            pids = worker_pids(http)
        assert len(pids) == 2
        returncode = devhost.stop(stop_with)
        if stop_with == signal.SIGINT:
            assert returncode == 0, devhost.log.read_text()[-2000:]
        eventually(lambda pids=pids: not any(map(alive, pids)), "a worker outlived devhost")


def test_a_sigterm_to_devhost_s_process_group_lets_requests_in_flight_finish(
    tmp_path: Path,
) -> None:
    # `timeout`, `kill -- -PGID` and a CI runner cancelling a job signal the whole group: the
    # workers must outlive the signal for devhost's drain, as functions in its own process do.
    devhost = start_devhost(tmp_path, extra_env=WORKERS, new_session=True)
    answers: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answers.append(
            httpx.get(devhost.base_url + "/api/slow", params={"s": "1"}, timeout=15)
        )
    )
    request.start()
    time.sleep(0.3)  # the function is running in a worker now
    os.killpg(devhost.process.pid, signal.SIGTERM)
    request.join()
    assert devhost.process.wait(15) == 0, devhost.log.read_text()[-2000:]
    [answer] = answers
    assert (answer.status_code, answer.text) == (200, "slow done"), answer.text


def test_a_worker_count_out_of_range_stops_devhost_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="FUNCTIONS_WORKER_PROCESS_COUNT must be"):
        start_devhost(tmp_path, extra_env={"FUNCTIONS_WORKER_PROCESS_COUNT": "11"})


WORKER_APP = """
import os, time
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="ready", methods=["GET"])
def ready(req):
    return func.HttpResponse("ok")


@app.route(route="sleep", methods=["GET"])
def sleep(req):
    time.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse("slept")


@app.route(route="record", methods=["POST"])
def record(req):
    with open(os.environ["RECORD_FILE"], "a") as out:
        out.write(req.get_body().decode() + "\\n")
    return func.HttpResponse(status_code=201)
"""


def test_a_call_that_timed_out_while_queued_in_a_language_worker_never_runs(tmp_path) -> None:
    # As in devhost's own process (tests/devhost/test_http_fidelity.py): a call still queued in
    # a worker when functionTimeout passes gets its 504 and never runs.
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "queued_worker_app.py").write_text(WORKER_APP)
    (app_dir / "host.json").write_text(json.dumps({
        "version": "2.0", "functionTimeout": "00:00:01",
        "extensions": {"http": {"routePrefix": "api"}},
    }))  # fmt: skip
    record_file = tmp_path / "recorded.txt"
    record_file.write_text("")
    env = {
        "FUNCTIONS_WORKER_PROCESS_COUNT": "2",
        "PYTHON_THREADPOOL_THREAD_COUNT": "1",
        "RECORD_FILE": str(record_file),
    }
    with serving_devhost(
        tmp_path / "data",
        app="queued_worker_app:app",
        app_dir=app_dir,
        ready_path="/api/ready",
        extra_env=env,
    ) as devhost:
        base = devhost.base_url
        slow = [
            threading.Thread(
                target=lambda: httpx.get(base + "/api/sleep?s=2.0", timeout=10), daemon=True
            )
            for _ in range(2)  # one per worker: each worker's only thread is busy
        ]
        for thread in slow:
            thread.start()
        time.sleep(0.4)
        queued = httpx.post(base + "/api/record", content=b"late order", timeout=10)
        assert queued.status_code == 504, queued.text
        for thread in slow:
            thread.join(10)
        time.sleep(0.8)  # the worker thread is free again: a queued call would have run by now
        assert record_file.read_text() == "", "the call answered 504 ran after all"


ROUTE_PREFIX_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="hello", methods=["GET"])
def hello(req):
    return func.HttpResponse("hello from " + req.url.split("//", 1)[1].split("/", 1)[1])
"""


def test_the_route_prefix_of_host_json_reaches_the_language_workers(tmp_path: Path) -> None:
    """host.json's routePrefix reaches the workers' routers too: with "v1" and two workers, a
    function answers on /v1/... from either, not a 500 from a worker routing under "api"."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "prefix_worker_app.py").write_text(ROUTE_PREFIX_APP)
    (app_dir / "host.json").write_text(json.dumps({
        "version": "2.0", "extensions": {"http": {"routePrefix": "v1"}},
    }))  # fmt: skip
    with serving_devhost(
        tmp_path / "data",
        app="prefix_worker_app:app",
        app_dir=app_dir,
        ready_path="/v1/not-a-function",  # a 404 from devhost itself: it is listening
        extra_env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"},
    ) as devhost:
        answers = [httpx.get(devhost.base_url + "/v1/hello", timeout=10) for _ in range(4)]
    seen = {(answer.status_code, answer.text) for answer in answers}
    assert seen == {(200, "hello from v1/hello")}
