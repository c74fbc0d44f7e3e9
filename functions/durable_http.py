"""`durable_endpoint`: `endpoint` for HTTP functions that also hold a durable client.

The durable client is async and must run on the worker's event loop (the SDK keeps one aiohttp
session per process, bound to that loop), so these functions are `async def`. Everything that
blocks (token validation, body parsing, Postgres) runs in a thread via `asyncio.to_thread`; the
handler awaits the client on the loop. Errors, correlation ids, spans and access logs behave
exactly as in `functions.http.endpoint`, whose wrapper this mirrors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel

# _build_call is the request parsing every sync endpoint uses; sharing it keeps both identical.
from functions.http import (
    Call,
    EndpointSpec,
    _build_call,
    correlation_id_from,
    problem_response,
)
from shared import telemetry
from shared.errors import ProblemError
from shared.logs import log_context

logger = logging.getLogger("stelly.http")

DurableHandler = Callable[[Call, df.DurableOrchestrationClient], Awaitable[func.HttpResponse]]
DurableFunction = Callable[[func.HttpRequest, Any], Awaitable[func.HttpResponse]]


def durable_endpoint(
    *,
    roles: tuple[str, ...],
    platform: bool = True,
    body: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    summary: str = "",
) -> Callable[[DurableHandler], DurableFunction]:
    """Wrap an async handler(call, client) with auth, body parsing and problem+json."""
    spec = EndpointSpec(
        roles=roles,
        tenant=False,
        platform=platform,
        body=body,
        responses=responses or {},
        summary=summary,
    )

    def decorate(handler: DurableHandler) -> DurableFunction:
        async def wrapper(
            req: func.HttpRequest, client: df.DurableOrchestrationClient
        ) -> func.HttpResponse:
            correlation_id = correlation_id_from(req.headers)
            instance = urlsplit(req.url).path
            started = time.perf_counter()
            with (
                log_context(correlation_id=correlation_id, function=handler.__name__, tenant=None),
                telemetry.http_server_span(
                    f"{req.method} {handler.__name__}",
                    headers=req.headers,
                    correlation_id=correlation_id,
                    method=req.method,
                    path=instance,
                ) as span,
            ):
                try:
                    call = await asyncio.to_thread(_build_call, req, correlation_id, spec)
                    response = await handler(call, client)
                except ProblemError as error:
                    response = problem_response(
                        error, instance=instance, correlation_id=correlation_id
                    )
                except Exception as error:
                    logger.exception("unhandled error in %s", handler.__name__)
                    span.record_exception(error)
                    internal = ProblemError(
                        500,
                        "Internal error",
                        "Something failed on our side; quote the correlation id to support",
                        "internal",
                    )
                    response = problem_response(
                        internal, instance=instance, correlation_id=correlation_id
                    )
                response.headers["x-correlation-id"] = correlation_id
                telemetry.end_http_span(span, status=response.status_code, tenant=None)
                logger.info(
                    "%s %s → %s",
                    req.method,
                    instance,
                    response.status_code,
                    extra={
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
                return response

        # The durable decorator wraps this with functools.wraps; the worker reads (req, client).
        wrapper.__name__ = handler.__name__
        wrapper.__qualname__ = handler.__qualname__
        wrapper.__doc__ = handler.__doc__
        wrapper.__module__ = handler.__module__
        wrapper.endpoint_spec = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate
