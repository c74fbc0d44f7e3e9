"""The service's REST data plane, as azure-messaging-webpubsubservice 1.3.0 calls it.

Paths, methods and status codes are the SDK's (each operation raises on any other status):
sends answer 202; adding a connection or user to a group and granting a permission answer 200;
removals and closes answer 204; the HEAD existence checks answer 200 or 404. Every call must
carry the SDK's access-key JWT (see auth.py), otherwise 401.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from devhost.webpubsub.auth import (
    TokenError,
    endpoint_of,
    issue_client_token,
    url_of,
    verify_service_token,
)
from devhost.webpubsub.filters import FilterError, Predicate, parse_filter
from devhost.webpubsub.frames import OutboundMessage, PayloadError, payload_from_body
from devhost.webpubsub.hubs import Hub, HubRegistry

PERMISSIONS = ("joinLeaveGroup", "sendToGroup")
CLOSED_BY_SERVER = "The connection was closed by the server."
_Endpoint = Callable[[Request], Awaitable[Response]]
_Operation = Callable[[Request, Hub], Awaitable[Response]]


def _error(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status_code)


def _exists(found: bool) -> Response:
    return Response(status_code=200 if found else 404)


class _BadRequest(Exception):
    """A request the data plane answers with 400 and this message."""


class ServiceTokenGuard:
    """Answers 401 to any data-plane call whose bearer token is not the SDK's access-key JWT."""

    def __init__(self, app: ASGIApp, access_key: str) -> None:
        self._app = app
        self._access_key = access_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = Headers(scope=scope).get("authorization")
            try:
                verify_service_token(authorization, self._access_key, url_of(scope))
            except TokenError as error:
                response = _error(401, "Unauthorized", str(error))
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


class DataPlane:
    """The REST operations of every hub, over one HubRegistry."""

    def __init__(self, registry: HubRegistry, access_key: str) -> None:
        self._registry = registry
        self._access_key = access_key

    def mount(self) -> Mount:
        """The `/api/hubs/{hub}` mount carrying every operation behind the token guard."""
        # Group and user names may contain "/": the SDK sends %2F, which the server decodes.
        table: list[tuple[str, list[str], _Operation]] = [
            ("/:send", ["POST"], self.send_to_all),
            ("/:closeConnections", ["POST"], self.close_all),
            ("/:generateToken", ["POST"], self.generate_token),
            ("/connections/{connection_id}", ["HEAD"], self.connection_exists),
            ("/connections/{connection_id}", ["DELETE"], self.close_connection),
            ("/connections/{connection_id}/:send", ["POST"], self.send_to_connection),
            ("/connections/{connection_id}/groups", ["DELETE"], self.leave_all_groups),
            ("/groups/{group:path}", ["HEAD"], self.group_exists),
            ("/groups/{group:path}/:send", ["POST"], self.send_to_group),
            ("/groups/{group:path}/:closeConnections", ["POST"], self.close_group),
            ("/groups/{group:path}/connections", ["GET"], self.list_connections),
            (
                "/groups/{group:path}/connections/{connection_id}",
                ["PUT", "DELETE"],
                self.membership,
            ),
            (
                "/permissions/{permission}/connections/{connection_id}",
                ["PUT", "DELETE", "HEAD"],
                self.permission,
            ),
            ("/users/{user_id:path}/:send", ["POST"], self.send_to_user),
            ("/users/{user_id:path}/:closeConnections", ["POST"], self.close_user),
            ("/users/{user_id:path}/groups", ["DELETE"], self.remove_user_from_all_groups),
            ("/users/{user_id:path}/groups/{group:path}", ["PUT", "DELETE"], self.user_membership),
            ("/users/{user_id:path}", ["HEAD"], self.user_exists),
        ]
        routes = [
            Route(path, self._endpoint(operation), methods=methods)
            for path, methods, operation in table
        ]
        return Mount("/api/hubs/{hub}", app=ServiceTokenGuard(Router(routes), self._access_key))

    def _endpoint(self, operation: _Operation) -> _Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await operation(request, self._registry.hub(request.path_params["hub"]))
            except _BadRequest as error:
                return _error(400, "BadRequest", str(error))

        return endpoint

    async def send_to_all(self, request: Request, hub: Hub) -> Response:
        message = await _message(request)
        hub.send_to_all(message, excluded=_excluded(request), where=_filter(request))
        return Response(status_code=202)

    async def send_to_group(self, request: Request, hub: Hub) -> Response:
        group = request.path_params["group"]
        message = await _message(request, group=group)
        hub.send_to_group(group, message, excluded=_excluded(request), where=_filter(request))
        return Response(status_code=202)

    async def send_to_user(self, request: Request, hub: Hub) -> Response:
        message = await _message(request)
        hub.send_to_user(request.path_params["user_id"], message, where=_filter(request))
        return Response(status_code=202)

    async def send_to_connection(self, request: Request, hub: Hub) -> Response:
        hub.send_to_connection(request.path_params["connection_id"], await _message(request))
        return Response(status_code=202)

    async def membership(self, request: Request, hub: Hub) -> Response:
        group, connection_id = request.path_params["group"], request.path_params["connection_id"]
        connection = hub.get(connection_id)
        if request.method == "DELETE":
            if connection is not None:
                hub.leave(connection, group)
            return Response(status_code=204)
        if connection is None:
            return _error(404, "NotFound", f"Connection {connection_id!r} does not exist.")
        hub.join(connection, group)
        return Response(status_code=200)

    async def leave_all_groups(self, request: Request, hub: Hub) -> Response:
        connection = hub.get(request.path_params["connection_id"])
        if connection is not None:
            hub.leave_all(connection)
        return Response(status_code=204)

    async def user_membership(self, request: Request, hub: Hub) -> Response:
        user_id, group = request.path_params["user_id"], request.path_params["group"]
        if request.method == "PUT":
            hub.add_user_to_group(user_id, group)
            return Response(status_code=200)
        hub.remove_user_from_group(user_id, group)
        return Response(status_code=204)

    async def remove_user_from_all_groups(self, request: Request, hub: Hub) -> Response:
        hub.remove_user_from_all_groups(request.path_params["user_id"])
        return Response(status_code=204)

    async def group_exists(self, request: Request, hub: Hub) -> Response:
        return _exists(hub.group_exists(request.path_params["group"]))

    async def connection_exists(self, request: Request, hub: Hub) -> Response:
        return _exists(hub.get(request.path_params["connection_id"]) is not None)

    async def user_exists(self, request: Request, hub: Hub) -> Response:
        return _exists(hub.user_exists(request.path_params["user_id"]))

    async def list_connections(self, request: Request, hub: Hub) -> Response:
        members = hub.group_members(request.path_params["group"])
        top = request.query_params.get("top")
        if top is not None:
            members = members[: _positive_int(top, "top")]
        value = [{"connectionId": c.connection_id, "userId": c.user_id} for c in members]
        return JSONResponse({"value": value})

    async def close_connection(self, request: Request, hub: Hub) -> Response:
        connection = hub.get(request.path_params["connection_id"])
        if connection is not None:
            hub.close(connection, _reason(request))
        return Response(status_code=204)

    async def close_all(self, request: Request, hub: Hub) -> Response:
        hub.close_many(hub.all_connections(), excluded=_excluded(request), reason=_reason(request))
        return Response(status_code=204)

    async def close_group(self, request: Request, hub: Hub) -> Response:
        members = hub.group_members(request.path_params["group"])
        hub.close_many(members, excluded=_excluded(request), reason=_reason(request))
        return Response(status_code=204)

    async def close_user(self, request: Request, hub: Hub) -> Response:
        connections = hub.user_connections(request.path_params["user_id"])
        hub.close_many(connections, excluded=_excluded(request), reason=_reason(request))
        return Response(status_code=204)

    async def permission(self, request: Request, hub: Hub) -> Response:
        permission, connection_id = (
            request.path_params["permission"],
            request.path_params["connection_id"],
        )
        if permission not in PERMISSIONS:
            raise _BadRequest(f"Permission {permission!r} is not one of {', '.join(PERMISSIONS)}.")
        target = request.query_params.get("targetName") or None
        connection = hub.get(connection_id)
        if request.method == "HEAD":
            return _exists(connection is not None and connection.has_role(permission, target))
        if request.method == "DELETE":
            if connection is not None:
                connection.revoke(permission, target)
            return Response(status_code=204)
        if connection is None:
            return _error(404, "NotFound", f"Connection {connection_id!r} does not exist.")
        connection.grant(permission, target)
        return Response(status_code=200)

    async def generate_token(self, request: Request, hub: Hub) -> Response:
        # Only a client without the access key asks the service for a token; with a key the
        # SDK mints it locally with the same claims.
        query = request.query_params
        token = issue_client_token(
            self._access_key,
            audience=f"{endpoint_of(request.scope)}/client/hubs/{request.path_params['hub']}",
            user_id=query.get("userId"),
            roles=query.getlist("role"),
            groups=query.getlist("group"),
            minutes_to_expire=_positive_int(query.get("minutesToExpire", "60"), "minutesToExpire"),
        )
        return JSONResponse({"token": token})


async def _message(request: Request, *, group: str | None = None) -> OutboundMessage:
    try:
        payload = payload_from_body(request.headers.get("content-type"), await request.body())
    except PayloadError as error:
        raise _BadRequest(str(error)) from error
    return OutboundMessage(payload, group=group)


def _excluded(request: Request) -> frozenset[str]:
    return frozenset(request.query_params.getlist("excluded"))


def _filter(request: Request) -> Predicate | None:
    text = request.query_params.get("filter")
    if not text:
        return None
    try:
        return parse_filter(text)
    except FilterError as error:
        raise _BadRequest(str(error)) from error


def _reason(request: Request) -> str:
    return request.query_params.get("reason") or CLOSED_BY_SERVER


def _positive_int(text: str, name: str) -> int:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise _BadRequest(f"Query parameter {name!r} must be a positive integer, not {text!r}.")
    return int(text)
