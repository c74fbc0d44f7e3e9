"""devhost's HTTP side where it must answer as the Functions host does: route prefix, answers
without content, response and forwarded headers, Kestrel's request framing, the request size
limit, the admin API, route defaults and constraints, functionTimeout and the worker's indexing.

Wire tests run one devhost subprocess serving APP below with host.json's `routePrefix` set to ""
(the Functions docs: an empty string removes the prefix).
"""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import azure.durable_functions as df
import azure.functions as func
import httpx
import pytest

from devhost.host_config import read_host_json
from devhost.routing import Router
from devhost.testclient import TestClient
from devhost.worker_indexing import WorkerWouldRefuse, check_indexable
from tests.devhost.devhost_process import DevhostProcess, raw_exchange, serving_devhost

APP = """
import json
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
SEEN = {"timer": []}


@app.route(route="ready", methods=["GET"])
def ready(req):
    return func.HttpResponse("ok")


@app.route(route="echo", methods=["GET", "POST"])
def echo(req):
    document = {
        "body": req.get_body().decode("latin-1"),
        "forwarded": req.headers.get("x-forwarded-for"),
    }
    return func.HttpResponse(json.dumps(document), mimetype="application/json")


@app.route(route="not-modified", methods=["GET"])
def not_modified(req):
    return func.HttpResponse("stale body", status_code=304)


@app.route(route="own-length", methods=["GET"])
def own_length(req):
    text = "h\\u00e9llo"
    # The function's own Content-Length counts characters, not the UTF-8 bytes sent.
    return func.HttpResponse(text, headers={"Content-Length": str(len(text))})


@app.route(route="own-type", methods=["GET"])
def own_type(req):
    return func.HttpResponse('{"ok": true}', headers={"Content-Type": "application/json"})


@app.route(route="seen", methods=["GET"])
def seen(req):
    return func.HttpResponse(json.dumps(SEEN), mimetype="application/json")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=False)
def yearly(timer):
    SEEN["timer"].append(True)
"""


@pytest.fixture(scope="module")
def devhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    root = tmp_path_factory.mktemp("host-contract")
    app_dir = root / "app"
    app_dir.mkdir()
    (app_dir / "contract_app.py").write_text(APP)
    (app_dir / "host.json").write_text(
        json.dumps(
            {
                "version": "2.0",
                "functionTimeout": "00:00:05",
                "extensions": {"http": {"routePrefix": ""}},
            }
        )
    )
    with serving_devhost(
        root / "data", app="contract_app:app", app_dir=app_dir, ready_path="/ready"
    ) as process:
        yield process


def _head_lines(response: bytes) -> list[bytes]:
    return response.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")


def _get(path: str, host: str = "a", close: bool = False) -> bytes:
    connection = b"connection: close\r\n" if close else b""
    return b"GET %s HTTP/1.1\r\nhost: %s\r\n%s\r\n" % (path.encode(), host.encode(), connection)


# --- route prefix


def test_an_empty_route_prefix_serves_functions_at_the_root(devhost: DevhostProcess) -> None:
    """`"routePrefix": ""` serves functions at the root, and not under /api."""
    response = httpx.get(devhost.base_url + "/ready", timeout=10)
    assert (response.status_code, response.text) == (200, "ok")
    assert httpx.get(devhost.base_url + "/api/ready", timeout=10).status_code == 404


# --- answers without content


def test_a_304_with_a_body_does_not_corrupt_the_next_response(devhost: DevhostProcess) -> None:
    """A 304 has no content (RFC 9110 §15.4.5) and Kestrel writes none, whatever the function
    returned: the next response on the connection is read whole."""
    received = raw_exchange(devhost, _get("/not-modified") + _get("/ready", close=True))
    assert received.startswith(b"HTTP/1.1 304"), received[:200]
    assert not any(line.startswith(b"content-length:") for line in _head_lines(received))
    after_first_head = received.split(b"\r\n\r\n", 1)[1]
    assert after_first_head.startswith(b"HTTP/1.1 200"), after_first_head[:80]


# --- response headers


def test_a_functions_own_content_length_is_replaced_by_the_bodys(devhost: DevhostProcess) -> None:
    """A function's own Content-Length is replaced by the body's: never two differing lengths,
    which clients refuse."""
    received = raw_exchange(devhost, _get("/own-length", close=True))
    lengths = [line for line in _head_lines(received) if line.startswith(b"content-length:")]
    assert lengths == [b"content-length: 6"]
    assert received.endswith("héllo".encode())


def test_a_content_type_header_set_by_the_function_is_the_only_one(devhost: DevhostProcess) -> None:
    """A Content-Type the function set is the only one: the SDK's default mimetype (text/plain)
    does not go out beside it."""
    received = raw_exchange(devhost, _get("/own-type", close=True))
    types = [line for line in _head_lines(received) if line.startswith(b"content-type:")]
    assert types == [b"content-type: application/json"]


# --- request headers


def test_the_peer_is_appended_to_a_client_sent_x_forwarded_for(devhost: DevhostProcess) -> None:
    """The peer is appended to a client-sent X-Forwarded-For: the app takes the last entry as
    the client (shared/rate_limit.py), so a client cannot pick its own rate-limit bucket."""
    response = httpx.get(
        devhost.base_url + "/echo", headers={"x-forwarded-for": "203.0.113.9"}, timeout=10
    )
    assert response.json()["forwarded"] == "203.0.113.9, 127.0.0.1"


def test_an_ip_literal_host_is_served(devhost: DevhostProcess) -> None:
    """A bracketed IPv6 Host (RFC 3986 IP-literal), as `curl http://[::1]:7071/` sends, is
    served."""
    received = raw_exchange(devhost, _get("/ready", host=f"[::1]:{devhost.port}", close=True))
    assert received.startswith(b"HTTP/1.1 200"), received[:200]


# --- request parsing (kestrel_parsing.py)


def test_a_body_arriving_after_its_headers_reaches_the_function_unchanged(
    devhost: DevhostProcess,
) -> None:
    """A body read after its headers, starting like a lower-case method (`put ...`), reaches the
    function unchanged: only request lines are upper-cased."""
    body = b"put it in the box"
    head = b"POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", devhost.port), timeout=10) as conn:
        conn.sendall(head % len(body))
        time.sleep(0.2)  # the body in a read of its own, as a slow client sends it
        conn.sendall(body)
        received = conn.makefile("rb").read()
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    assert json.loads(received.split(b"\r\n\r\n", 1)[1])["body"] == body.decode()


@pytest.mark.parametrize(
    "body",
    [b"5\r\nhello\r\n0\r\nx-checksum: 1\r\n\r\n", b"5;name=value\r\nhello\r\n0\r\n\r\n"],
    ids=["trailer", "chunk-extension"],
)
def test_a_chunked_body_after_an_upgrade_offer_is_read_past_whole(
    devhost: DevhostProcess, body: bytes
) -> None:
    """Chunked framing (RFC 9112 §7.1): trailer fields after the last chunk and chunk
    extensions are read as part of the body, and the next request on the connection is served."""
    offer = (
        b"POST /echo HTTP/1.1\r\nhost: a\r\nconnection: Upgrade, HTTP2-Settings\r\n"
        b"upgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    received = raw_exchange(devhost, offer + body + _get("/ready", close=True))
    answers = [response[:3] for response in received.split(b"HTTP/1.1 ")[1:]]
    assert answers == [b"200", b"200"], received[:400]
    assert received.endswith(b"\r\n\r\nok")


# --- the request size limit


def test_a_chunked_body_over_100_mb_is_a_413(devhost: DevhostProcess) -> None:
    """The host refuses a request body over 100 MB, chunked (so measured as it arrives) too."""
    mebibyte = b"x" * (1 << 20)
    head = (
        b"POST /echo HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", devhost.port), timeout=30) as conn:
        conn.sendall(head)
        for _ in range(100):
            conn.sendall(b"100000\r\n" + mebibyte + b"\r\n")
        conn.sendall(b"1\r\nx\r\n0\r\n\r\n")  # one byte over the limit, then the end
        received = conn.makefile("rb").read()
    assert received.startswith(b"HTTP/1.1 413"), received[:200]
    assert json.loads(received.split(b"\r\n\r\n", 1)[1])["status"] == 413


# --- the admin API


def test_the_admin_endpoint_refuses_a_get_and_runs_nothing(devhost: DevhostProcess) -> None:
    """Only POST fires a timer through the admin API: a GET (a browser, a crawler) is a 405 and
    runs nothing."""
    response = httpx.get(devhost.base_url + "/admin/functions/yearly", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    time.sleep(0.5)  # a started timer run would have finished by now
    assert httpx.get(devhost.base_url + "/seen", timeout=10).json() == {"timer": []}


# --- routing (in process, through the router the server uses)


def _router(route: str) -> TestClient:
    def show(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.route(route=route, methods=["GET"])(show)
    return TestClient(Router(app.get_functions()))


def test_a_route_default_reaches_the_function_when_the_segment_is_absent() -> None:
    """ASP.NET Core puts a parameter's default into the route values when its segment is
    absent."""
    client = _router("pages/{n:int=1}")
    assert client.get("/api/pages").json() == {"n": "1"}
    assert client.get("/api/pages/3").json() == {"n": "3"}


def test_the_int_constraint_takes_a_negative_number() -> None:
    """ASP.NET Core's int constraint parses with int.TryParse (InvariantCulture), which takes a
    leading minus."""
    client = _router("offsets/{delta:int}")
    response = client.get("/api/offsets/-5")
    assert (response.status_code, response.json()) == (200, {"delta": "-5"})


# --- host.json


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [
        ("01:00:00", 3600.0),
        ("1.00:00:00", 86400.0),
        ("00:01:30.5", 90.5),
        ("00:10", 600.0),
        ("-1", math.inf),
    ],
)
def test_function_timeout_timespans(tmp_path: Path, timeout: str, seconds: float) -> None:
    """functionTimeout TimeSpans with hours, days and fractions, `hh:mm`, and -1 (unbounded, as
    the docs say)."""
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"version": "2.0", "functionTimeout": timeout}))
    assert read_host_json(host_json).function_timeout_s == seconds


# --- the Python worker's indexing checks


def test_an_optional_binding_annotation_is_refused_as_the_worker_does() -> None:
    """An `Optional[str]` binding annotation is refused at start, as the Python worker refuses
    it (its typing_inspect.is_generic_type is false for a Union), rather than the app failing to
    load on Azure."""
    app = df.DFApp()

    def prepare(work: Optional[str]) -> str:  # noqa: UP045 - the alias under test
        return work or ""

    app.activity_trigger(input_name="work")(prepare)
    with pytest.raises(WorkerWouldRefuse, match="prepare: binding work has invalid non-type"):
        check_indexable(app.get_functions())
