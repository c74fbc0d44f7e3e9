"""devhost's HTTP front: a plain ASGI app that serves httpTrigger functions through the router.

Plain ASGI rather than a framework keeps the per-request overhead close to bare uvicorn. Sync
functions run in a thread pool (like the Python worker's; see worker_pool.py), so one slow call
never blocks the others; each call is bounded by host.json's `functionTimeout` (the host then
answers 500; we answer 504 with a problem body, and the worker thread finishes in the
background — Python cannot kill a thread, and the real host recycles the whole worker instead).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import azure.functions as func

from devhost.routing import MethodNotAllowed, RouteNotFound, Router, build_request, problem_document
from devhost.timeouts import FunctionTimedOut, within_function_timeout
from devhost.worker_pool import BatchingWorkerPool
from devhost.worker_processes import WorkerGone, WorkerGroup

logger = logging.getLogger("devhost.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The Functions host refuses bodies over 100 MB.
MAX_REQUEST_BYTES = 100 * 1024 * 1024


def worker_thread_count() -> int:
    """PYTHON_THREADPOOL_THREAD_COUNT like the Python worker, else its default."""
    configured = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "")
    return int(configured) if configured.isdigit() else min(32, (os.cpu_count() or 1) + 4)


class ClientGone(Exception):
    """The client closed the connection before its request body was complete."""


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when it is over MAX_REQUEST_BYTES; ClientGone when cut short."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


# Answers that never carry content (RFC 9110 §15.3.5, §15.4.5): Kestrel writes neither a body
# nor Content-Length for them, whatever the function returned; a body after a 204 would be read
# as the start of the next response on the connection.
_NO_CONTENT = frozenset({204, 304})


async def send_bytes(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, head: bool = False
) -> None:
    if status in _NO_CONTENT or status < 200:
        head, body = True, b""
    else:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_problem(send: Send, status: int, title: str, detail: str, path: str, **extra: str):
    headers = [(b"content-type", b"application/problem+json")]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send_bytes(send, status, headers, problem_document(status, title, detail, path))


def _folded_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Repeated headers as one value joined by "," (StringValues.ToString() in the host)."""
    headers: dict[str, str] = {}
    for raw_key, raw_value in raw:
        key, value = raw_key.decode("latin-1"), raw_value.decode("latin-1")
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


@functools.lru_cache(maxsize=64)
def _content_type(mimetype: str, charset: str | None) -> bytes:
    # As the Python worker writes it (azure/functions/http.py): a charset for text/* only.
    if charset and mimetype.startswith("text/"):
        return f"{mimetype}; charset={charset}".encode()
    return mimetype.encode()


def response_headers(response: func.HttpResponse) -> list[tuple[bytes, bytes]]:
    """The function's headers for the wire; Content-Length is ours (from the body we send).

    The Python worker hands the host a header dict, so of a repeated header only the last value
    reaches the wire (HttpResponseConverter.encode); cookies travel apart, every one of them.
    """
    latest: dict[str, str] = {}
    cookies: list[tuple[bytes, bytes]] = []
    for key, value in response.headers.items():
        name = key.lower()
        if name == "set-cookie":
            cookies.append((b"set-cookie", str(value).encode()))
        elif name != "content-length":
            latest[name] = str(value)
    headers = [(name.encode(), value.encode()) for name, value in latest.items()]
    if "content-type" not in latest and response.mimetype:
        headers.append((b"content-type", _content_type(response.mimetype, response.charset)))
    return headers + cookies


def _request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as the host hands them over, X-Forwarded-For extended by the peer."""
    raw = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) != len(raw):
        headers = _folded_headers(raw)
    client = scope.get("client")
    if client:
        # App Service appends the peer to X-Forwarded-For; apps read the client IP there.
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {client[0]}" if forwarded else client[0]
    return headers


# RFC 3986 host (reg-name or [IP-literal]) and optional port; Kestrel answers 400 to anything else.
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _host_problem(scope: Scope, host: str) -> str | None:
    """Why Kestrel would answer 400 to this Host, if it would."""
    if not _HOST.fullmatch(host):
        return "Malformed Host header"
    # Two Host lines arrive folded into "a,b" (a legal reg-name): RFC 9110 §7.2 says 400, never
    # the first restaurant's answer.
    if "," in host and sum(1 for name, _ in scope["headers"] if name == b"host") > 1:
        return "More than one Host header"
    return None


def _url(scope: Scope, headers: dict[str, str], query: str) -> str:
    """The request's URL as sent: the path stays percent-encoded (`a%20b`), as the host's does."""
    host = headers.get("host") or "localhost"
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    return f"{scope.get('scheme', 'http')}://{host}{path}{'?' + query if query else ''}"


def _request(
    scope: Scope, headers: dict[str, str], body: bytes, params: dict[str, str]
) -> func.HttpRequest:
    query = scope.get("query_string", b"").decode("latin-1")
    url = _url(scope, headers, query)
    return build_request(
        scope["method"], url, headers=headers, body=body, route_params=params, query=query
    )


class FunctionFailed(Exception):
    """A function raised in a language worker, which logged it."""


class HttpFront:
    """ASGI app: extra routes (durable webhooks, JWKS, admin) first, then the functions."""

    def __init__(
        self,
        router: Router,
        *,
        function_timeout_s: float,
        extra_routes: dict[str, ASGIApp] | None = None,
        threads: int | None = None,
        workers: WorkerGroup | None = None,
    ) -> None:
        self.router = router
        self.workers = workers
        self.timeout = function_timeout_s
        self.extra_routes = extra_routes or {}
        self.pool = BatchingWorkerPool(threads or worker_thread_count())
        self.deadlines = Deadlines(function_timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        for prefix, app in self.extra_routes.items():
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        await self._serve_function(scope, receive, send)

    async def _serve_function(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        try:
            found = self.router.match(method, path)
        except RouteNotFound:
            await send_problem(send, 404, "Not found", f"No function serves {method} {path}", path)
            return
        except MethodNotAllowed as error:
            allowed = ", ".join(error.allowed)
            await send_problem(
                send, 405, "Method not allowed", f"Allowed: {allowed}", path, allow=allowed
            )
            return
        headers = _request_headers(scope)
        host = headers.get("host")
        refused = host is not None and _host_problem(scope, host)
        if refused:
            await send_problem(send, 400, "Bad request", refused, path)
            return
        # A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3):
        # skip the receive round trip, the common case for the GETs customers send.
        body = b""
        if "content-length" in headers or "transfer-encoding" in headers:
            try:
                body = await _read_body(receive)
            except ClientGone:
                return  # as the host: a function never gets half a body, nobody awaits an answer
            if body is None:
                await send_problem(send, 413, "Payload too large", "Over 100 MB", path)
                return
            if "content-length" not in headers:
                # The host hands a function a body only when Content-Length announces one
                # (ToRpcHttp: ContentLength > 0): a chunked one is read and dropped, as on Azure.
                body = b""
        name = found.route.function_name
        try:
            if self.workers is None:
                response = await self._invoke(found, _request(scope, headers, body, found.params))
                status, response_head = response.status_code, response_headers(response)
                response_body = response.get_body() or b""
            else:
                status, response_head, response_body = await self._in_worker(scope, headers, body)
        except FunctionTimedOut:
            logger.error("%s timed out after %ss", name, self.timeout)
            detail = f"{name} exceeded functionTimeout ({self.timeout:g} s)"
            await send_problem(send, 504, "Function timed out", detail, path)
            return
        except WorkerGone:
            logger.error("the language worker running %s exited", name)
            detail = f"The worker process running {name} exited; see the devhost log"
            await send_problem(send, 500, "Function failed", detail, path)
            return
        except Exception as error:
            if not isinstance(error, FunctionFailed):  # a worker logged its own traceback
                logger.exception("function %s raised", name)
            detail = f"{name} raised an exception; see the devhost log"
            await send_problem(send, 500, "Function failed", detail, path)
            return
        await send_bytes(send, status, response_head, response_body, head=method == "HEAD")

    async def _in_worker(
        self, scope: Scope, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, headers and body of the function's response from a language worker."""
        assert self.workers is not None
        query = scope.get("query_string", b"").decode("latin-1")
        future = self.workers.invoke(
            method=scope["method"],
            path=scope["path"],
            url=_url(scope, headers, query),
            query=query,
            headers=headers,
            body=body,
        )
        self.deadlines.watch(future)
        outcome = await future
        if outcome.timed_out:  # the worker's deadline came first: the same answer
            raise FunctionTimedOut(f"exceeded functionTimeout ({self.timeout:g} s)")
        if outcome.failed:
            raise FunctionFailed()
        return outcome.status, list(outcome.headers), outcome.body

    async def _invoke(self, found: Any, request: func.HttpRequest) -> func.HttpResponse:
        """Run the function, raising FunctionTimedOut after functionTimeout."""
        if found.route.is_async:
            return await within_function_timeout(
                self.router.call_async(found, request), self.timeout
            )
        future = self.pool.run(self.router.call_sync, found, request)
        self.deadlines.watch(future)
        return await future


class Deadlines:
    """Fails pending futures with FunctionTimedOut once `timeout_s` has passed.

    One sweep every SWEEP_S for all calls, rather than wait_for (a Task per call) or call_later
    (a timer per call): on the hot path a call costs one deque append. A call may therefore
    time out up to SWEEP_S late.
    """

    SWEEP_S = 0.1

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._watched: collections.deque[tuple[float, asyncio.Future[Any]]] = collections.deque()
        self._sweeping = False

    def watch(self, future: asyncio.Future[Any]) -> None:
        loop = future.get_loop()
        self._watched.append((loop.time() + self.timeout_s, future))
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(self.SWEEP_S, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        still = [(due, f) for due, f in self._watched if not f.done()]
        self._watched.clear()
        for due, future in still:
            if due <= now:
                future.set_exception(FunctionTimedOut())
            else:
                self._watched.append((due, future))
        self._sweeping = bool(self._watched)
        if self._sweeping:
            loop.call_later(self.SWEEP_S, self._sweep, loop)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
