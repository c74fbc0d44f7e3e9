"""`durable_endpoint`: `endpoint` for HTTP functions that also hold a durable client.

The durable client is async and must run on the worker's event loop (the SDK keeps one aiohttp
session per process, bound to that loop), so these functions are `async def`. Everything that
blocks (token validation, body parsing, Postgres) runs in a thread via `asyncio.to_thread`; the
handler awaits the client on the loop. Request parsing, errors, correlation ids, spans and access
logs are `functions.http`'s own (`build_call`, `request_edge`), so both kinds behave alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel

from functions.http import Call, EndpointSpec, build_call, mark_endpoint, request_edge

DurableHandler = Callable[[Call, df.DurableOrchestrationClient], Awaitable[func.HttpResponse]]
DurableFunction = Callable[[func.HttpRequest, Any], Awaitable[func.HttpResponse]]


def durable_endpoint(
    *,
    roles: tuple[str, ...],
    platform: bool = True,
    body: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    summary: str = "",
    response_headers: dict[int, tuple[str, ...]] | None = None,
) -> Callable[[DurableHandler], DurableFunction]:
    """Wrap an async handler(call, client) with auth, body parsing and problem+json."""
    spec = EndpointSpec(
        roles=roles,
        tenant=False,
        platform=platform,
        body=body,
        responses=responses or {},
        summary=summary,
        response_headers=response_headers or {},
    )

    def decorate(handler: DurableHandler) -> DurableFunction:
        async def wrapper(
            req: func.HttpRequest, client: df.DurableOrchestrationClient
        ) -> func.HttpResponse:
            with request_edge(req, handler.__name__) as edge:
                call = await asyncio.to_thread(build_call, req, edge.correlation_id, spec)
                edge.response = await handler(call, client)
            return edge.response

        return mark_endpoint(wrapper, handler, spec)

    return decorate
