"""devhost's HTTP front: a plain ASGI app that serves httpTrigger functions through the router.

Plain ASGI rather than a framework keeps the per-request overhead close to bare uvicorn. Sync
functions run in a thread pool (like the Python worker's; see worker_pool.py), so one slow call
never blocks the others; each call is bounded by host.json's `functionTimeout` (the host then
answers 500; we answer 504 with a problem body, and the worker thread finishes in the
background — Python cannot kill a thread, and the real host recycles the whole worker instead).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from devhost.routing import MethodNotAllowed, RouteNotFound, Router, build_request, problem_document
from devhost.worker_pool import BatchingWorkerPool

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


async def _read_body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def send_bytes(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, head: bool = False
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_problem(send: Send, status: int, title: str, detail: str, path: str, **extra: str):
    headers = [(b"content-type", b"application/problem+json")]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send_bytes(send, status, headers, problem_document(status, title, detail, path))


def _response_headers(response: func.HttpResponse) -> list[tuple[bytes, bytes]]:
    headers = [(k.lower().encode(), str(v).encode()) for k, v in response.headers.items()]
    if response.mimetype and not any(k == b"content-type" for k, _ in headers):
        charset = f"; charset={response.charset}" if response.charset else ""
        headers.append((b"content-type", f"{response.mimetype}{charset}".encode()))
    return [(k, v) for k, v in headers if k != b"content-length"]


class HttpFront:
    """ASGI app: extra routes (durable webhooks, JWKS, admin) first, then the functions."""

    def __init__(
        self,
        router: Router,
        *,
        function_timeout_s: float,
        extra_routes: dict[str, ASGIApp] | None = None,
        threads: int | None = None,
    ) -> None:
        self.router = router
        self.timeout = function_timeout_s
        self.extra_routes = extra_routes or {}
        self.pool = BatchingWorkerPool(threads or worker_thread_count())

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
        body = await _read_body(receive)
        if body is None:
            await send_problem(send, 413, "Payload too large", "Over 100 MB", path)
            return
        request = self._request(scope, body, found.params)
        try:
            response = await self._invoke(found, request)
        except TimeoutError:
            logger.error("%s timed out after %ss", found.route.function_name, self.timeout)
            detail = f"{found.route.function_name} exceeded functionTimeout ({self.timeout:g} s)"
            await send_problem(send, 504, "Function timed out", detail, path)
            return
        except Exception:
            logger.exception("function %s raised", found.route.function_name)
            detail = f"{found.route.function_name} raised an exception; see the devhost log"
            await send_problem(send, 500, "Function failed", detail, path)
            return
        await send_bytes(
            send,
            response.status_code,
            _response_headers(response),
            response.get_body() or b"",
            head=method == "HEAD",
        )

    def _request(self, scope: Scope, body: bytes, params: dict[str, str]) -> func.HttpRequest:
        headers: dict[str, str] = {}
        for raw_key, raw_value in scope["headers"]:
            key, value = raw_key.decode("latin-1"), raw_value.decode("latin-1")
            # Repeated headers are folded into one comma-separated value, as the host does.
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        client = scope.get("client")
        if client:
            # App Service appends the peer to X-Forwarded-For; apps read the client IP there.
            forwarded = headers.get("x-forwarded-for")
            headers["x-forwarded-for"] = f"{forwarded}, {client[0]}" if forwarded else client[0]
        host = headers.get("host") or "localhost"
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}{'?' + query if query else ''}"
        return build_request(scope["method"], url, headers=headers, body=body, route_params=params)

    async def _invoke(self, found: Any, request: func.HttpRequest) -> func.HttpResponse:
        """Run the function, raising TimeoutError after functionTimeout."""
        if found.route.is_async:
            return await asyncio.wait_for(self.router.call_async(found, request), self.timeout)
        # A timer on the pool's future instead of wait_for: no Task per request on the hot path.
        future = self.pool.run(self.router.call_sync, found, request)
        expiry = asyncio.get_running_loop().call_later(self.timeout, _expire, future)
        try:
            return await future
        finally:
            expiry.cancel()


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
