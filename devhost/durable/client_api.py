"""The durable HTTP API (/runtime/webhooks/durabletask/) as DurableOrchestrationClient calls it.

The SDK posts inputs and event data JSON-encoded twice (a JSON string holding the JSON text);
curl users post plain JSON. Both are accepted. Query parameters the SDK or the management URLs
add (taskHub, connection, code) are accepted and ignored: there is one hub per engine.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .binding import WEBHOOK_PATH, management_urls
from .history import parse_ts
from .state import ACTIVE, InstanceExistsError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .engine import DurableEngine

_UNSUPPORTED_OPERATIONS = ("suspend", "resume", "rewind")
# The host lists instances a page at a time: `top`, else this many, then a continuation token.
DEFAULT_PAGE_SIZE = 100
_CONTINUATION = "x-ms-continuation-token"


class BadRequestError(ValueError):
    """A request devhost cannot read; answered with 400."""


def _flag(request: Request, name: str, default: bool = False) -> bool:
    """A true/false query parameter (any case)."""
    value = request.query_params.get(name)
    return default if value is None else value.lower() == "true"


def _time(request: Request, name: str) -> datetime | None:
    """An ISO 8601 query parameter, or None."""
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_ts(value.replace(" ", "+"))  # a '+' offset arrives as a space when unquoted
    except ValueError as exc:
        raise BadRequestError(f"{name} is not an ISO 8601 time: {value!r}") from exc


def _statuses(request: Request) -> list[str]:
    """The comma-separated runtimeStatus filter."""
    value = request.query_params.get("runtimeStatus", "")
    return [s.strip() for s in value.split(",") if s.strip()]


async def _json_text(request: Request) -> str | None:
    """The body as JSON text: the SDK's double encoding unwrapped, plain JSON kept."""
    body = await request.body()
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadRequestError("the request body is not JSON") from exc
    if isinstance(value, str):
        try:
            json.loads(value)
            return value  # a JSON string holding JSON text: what the SDK sends
        except ValueError:
            pass
    return json.dumps(value)


def _page(found: Sequence[dict], request: Request) -> JSONResponse:
    """One page of a listing: `top` (else 100) from the continuation token's offset on, and the
    token of the next page while there is one."""
    top = request.query_params.get("top", "")
    if top and not (top.isdigit() and int(top) > 0):
        raise BadRequestError(f"top is not a count: {top!r}")
    size = int(top) if top else DEFAULT_PAGE_SIZE
    token = request.headers.get(_CONTINUATION, "")
    if token and not token.isdigit():
        raise BadRequestError(f"not a continuation token of this listing: {token!r}")
    start = int(token or 0)
    ordered = sorted(found, key=lambda status: (status["createdTime"], status["instanceId"]))
    headers = {_CONTINUATION: str(start + size)} if start + size < len(ordered) else {}
    return JSONResponse(ordered[start : start + size], headers=headers)


def _message(status: int, text: str) -> JSONResponse:
    """A JSON error body with a message."""
    return JSONResponse({"message": text}, status_code=status)


def _origin(request: Request) -> str:
    """Scheme and host the caller used, for the URLs handed back."""
    return str(request.base_url).rstrip("/")


class DurableApi:
    """Request handlers bound to one engine."""

    def __init__(self, engine: DurableEngine) -> None:
        self.engine = engine

    def _links(self, request: Request, instance_id: str) -> dict[str, str]:
        """Management URLs of instance_id at the caller's origin."""
        return management_urls(_origin(request), self.engine.hub_name, instance_id)

    async def start(self, request: Request) -> Response:
        """POST orchestrators/{functionName}[/{instanceId}]: 202 with the management URLs."""
        name = request.path_params["function_name"]
        try:
            instance_id = await self.engine.start_new(
                name,
                request.path_params.get("instance_id"),
                await _json_text(request),
                request.query_params.get("version", ""),
            )
        except LookupError as exc:
            return JSONResponse({"ExceptionMessage": str(exc)}, status_code=400)
        except InstanceExistsError as exc:
            return _message(409, str(exc))
        timeout = request.query_params.get("timeout")
        if timeout:  # createAndWaitOnNewInstancePostUri
            try:
                seconds = float(timeout)
            except ValueError as exc:
                raise BadRequestError(f"timeout is not a number of seconds: {timeout!r}") from exc
            await self.engine.wait(instance_id, seconds)
            status = await self.engine.status(instance_id, False, False, False)
            if status is not None and status["runtimeStatus"] == "Completed":
                return JSONResponse(status["output"], status_code=200)
            if status is not None and status["runtimeStatus"] not in ACTIVE:
                # Failed, Terminated: the status payload, as a status query answers it.
                return await self.instance(request, instance_id)
        links = self._links(request, instance_id)
        headers = {"Location": links["statusQueryGetUri"], "Retry-After": "1"}
        return JSONResponse(links, status_code=202, headers=headers)

    async def instance(self, request: Request, instance_id: str | None = None) -> Response:
        """GET instances/{id}: status (200 ended, 202 active, 404); DELETE: purge it."""
        instance_id = instance_id or request.path_params["instance_id"]
        if request.method == "DELETE":
            code = await self.engine.purge(instance_id)
            if code == 412:
                return _message(
                    412,
                    "Only orchestrations in a terminal state can be purged, but the "
                    f"orchestration with instance ID {instance_id} is still running",
                )
            return JSONResponse({"instancesDeleted": int(code == 200)}, status_code=code)
        status = await self.engine.status(
            instance_id,
            show_history=_flag(request, "showHistory"),
            show_output=_flag(request, "showHistoryOutput"),
            show_input=_flag(request, "showInput", default=True),
        )
        if status is None:
            return _message(404, f"No instance with ID '{instance_id}' found.")
        if status["runtimeStatus"] in ACTIVE:
            location = self._links(request, instance_id)["statusQueryGetUri"]
            return JSONResponse(status, status_code=202, headers={"Location": location})
        failed = status["runtimeStatus"] == "Failed"
        code = 500 if failed and _flag(request, "returnInternalServerErrorOnFailure") else 200
        return JSONResponse(status, status_code=code)

    async def instances(self, request: Request) -> Response:
        """GET instances: list with filters; DELETE instances: purge ended ones by filter."""
        created_from = _time(request, "createdTimeFrom")
        created_to = _time(request, "createdTimeTo")
        if request.method == "DELETE":
            if created_from is None:  # as the host: never purge everything by accident
                return _message(400, "Please provide value for 'createdTimeFrom' parameter.")
            deleted = await self.engine.purge_by(_statuses(request), created_from, created_to)
            return JSONResponse({"instancesDeleted": deleted}, status_code=200 if deleted else 404)
        found = await self.engine.list_status(
            _statuses(request),
            created_from,
            created_to,
            request.query_params.get("instanceIdPrefix"),
            _flag(request, "showInput", default=True),
        )
        return _page(found, request)

    async def raise_event(self, request: Request) -> Response:
        """POST instances/{id}/raiseEvent/{eventName}: 202, 404 unknown, 410 ended."""
        instance_id = request.path_params["instance_id"]
        code = await self.engine.raise_event(
            instance_id, request.path_params["event_name"], await _json_text(request)
        )
        if code == 202:
            return Response(status_code=202)
        if code == 404:
            return _message(404, f"No instance with ID '{instance_id}' found.")
        return _message(410, f"Instance '{instance_id}' has already ended.")

    async def terminate(self, request: Request) -> Response:
        """POST instances/{id}/terminate?reason=: 202, 404 unknown, 410 ended."""
        instance_id = request.path_params["instance_id"]
        code = await self.engine.terminate(instance_id, request.query_params.get("reason", ""))
        if code == 404:
            return _message(404, f"No instance with ID '{instance_id}' found.")
        return Response(status_code=code)

    async def restart(self, request: Request) -> Response:
        """POST instances/{id}/restart: start again with the original input; 202 with the id."""
        instance_id = request.path_params["instance_id"]
        try:
            new_id = await self.engine.restart(
                instance_id, _flag(request, "restartWithNewInstanceId", default=True)
            )
        except InstanceExistsError:
            return _message(409, "A non-terminal instance with this instance ID already exists.")
        if new_id is None:
            return _message(404, f"No instance with ID '{instance_id}' found.")
        return JSONResponse(new_id, status_code=202)

    async def unsupported(self, request: Request) -> Response:
        """suspend/resume/rewind and entity APIs: 501, with the reason."""
        operation = request.path_params.get("operation", "entities")
        if operation not in (*_UNSUPPORTED_OPERATIONS, "entities"):
            return _message(404, f"Unknown operation '{operation}'.")
        what = "Durable entities are" if operation == "entities" else f"'{operation}' is"
        return JSONResponse(f"{what} not supported by devhost.", status_code=501)


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable:
    """Wrap a handler so unreadable requests answer 400."""

    async def endpoint(request: Request) -> Response:
        """Run the handler; BadRequestError becomes a 400."""
        try:
            return await handler(request)
        except BadRequestError as exc:
            return JSONResponse({"ExceptionMessage": str(exc)}, status_code=400)

    return endpoint


def routes(engine: DurableEngine) -> list[BaseRoute]:
    """The routes, with full paths (the server mounts them at its root)."""
    api = DurableApi(engine)
    base = WEBHOOK_PATH
    table: list[tuple[str, Callable, list[str]]] = [
        ("/orchestrators/{function_name}", api.start, ["POST"]),
        ("/orchestrators/{function_name}/{instance_id}", api.start, ["POST"]),
        ("/instances", api.instances, ["GET", "DELETE"]),
        ("/instances/", api.instances, ["GET", "DELETE"]),
        ("/instances/{instance_id}", api.instance, ["GET", "DELETE"]),
        ("/instances/{instance_id}/raiseEvent/{event_name}", api.raise_event, ["POST"]),
        ("/instances/{instance_id}/terminate", api.terminate, ["POST"]),
        ("/instances/{instance_id}/restart", api.restart, ["POST"]),
        ("/instances/{instance_id}/{operation}", api.unsupported, ["POST"]),
        ("/entities/{entity_path:path}", api.unsupported, ["GET", "POST", "DELETE"]),
    ]
    return [
        Route(base + path, _guarded(handler), methods=methods) for path, handler, methods in table
    ]
