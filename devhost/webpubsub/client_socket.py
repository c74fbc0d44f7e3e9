"""The client WebSocket endpoint `/client/hubs/{hub}`: connect, reconnect, and the receive loop.

A new connection needs `?access_token=` (or `Authorization: Bearer`); a bad token is refused
with HTTP 401 before the handshake completes. A reliable client whose socket dropped comes back
with `?awps_connection_id=<id>&awps_reconnection_token=<token>` (the query names
@azure/web-pubsub-client uses) within the grace period and keeps its connection id, groups and
every message it has not acknowledged. A recovery that cannot succeed is accepted and then
closed with 1008, the code that tells clients to stop retrying.
"""

from __future__ import annotations

import logging
import secrets
import uuid

from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from devhost.webpubsub.auth import TokenError, endpoint_of, verify_client_token
from devhost.webpubsub.client_requests import handle_client_text
from devhost.webpubsub.connections import CLOSE_REMOVED, ClientConnection, SocketLink
from devhost.webpubsub.frames import Protocol
from devhost.webpubsub.hubs import Hub, HubRegistry
from devhost.webpubsub.wire import SEND_FRAMES

logger = logging.getLogger(__name__)

SUPERSEDED_REASON = "A recovered socket replaced this one."
NOT_RECOVERABLE_REASON = "The connection could not be recovered."
# What uvicorn reports when a socket ends without a close frame.
_NO_STATUS = 1005


class ClientSocketEndpoint:
    """Serves client WebSockets for every hub of one HubRegistry."""

    def __init__(self, registry: HubRegistry, access_key: str) -> None:
        self._registry = registry
        self._access_key = access_key

    def route(self) -> WebSocketRoute:
        """The `/client/hubs/{hub}` route."""
        return WebSocketRoute("/client/hubs/{hub}", self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one handshake: a new connection or the recovery of a reliable one.

        An ASGI app rather than a WebSocket function, so message frames can bypass the
        WebSocket wrapper and go to `send` directly (see SocketLink).
        """
        websocket = WebSocket(scope, receive, send)
        hub_name = websocket.path_params["hub"]
        hub = self._registry.hub(hub_name)
        protocol = Protocol.negotiate(websocket.scope.get("subprotocols", ()))
        query = websocket.query_params
        if "awps_connection_id" in query:
            await self._recover(
                websocket,
                send,
                hub,
                protocol,
                query["awps_connection_id"],
                query.get("awps_reconnection_token", ""),
            )
            return
        token = query.get("access_token") or _bearer(websocket)
        try:
            claims = verify_client_token(
                token, self._access_key, endpoint=endpoint_of(websocket.scope), hub=hub_name
            )
        except TokenError as error:
            logger.info("refused a client of hub %s: %s", hub.name, error)
            await websocket.send_denial_response(PlainTextResponse(str(error), status_code=401))
            return
        connection = ClientConnection(
            connection_id=uuid.uuid4().hex,
            user_id=claims.user_id,
            protocol=protocol,
            roles=claims.roles,
            reconnection_token=secrets.token_urlsafe(24),
        )
        await websocket.accept(subprotocol=protocol.subprotocol)
        link = _link(websocket, send)
        connection.attach(link)
        hub.add(connection, claims.groups)
        await self._receive_until_closed(websocket, hub, connection, link)

    async def _recover(
        self,
        websocket: WebSocket,
        send: Send,
        hub: Hub,
        protocol: Protocol,
        connection_id: str,
        reconnection_token: str,
    ) -> None:
        await websocket.accept(subprotocol=protocol.subprotocol)
        # Look the connection up only after the await above, so the grace timer cannot fire
        # between finding the connection and attaching the new socket.
        connection = None
        if protocol is Protocol.RELIABLE:
            connection = hub.resume(connection_id, reconnection_token)
        if connection is None:
            await websocket.close(CLOSE_REMOVED, NOT_RECOVERABLE_REASON)
            return
        link = _link(websocket, send)
        replaced = connection.attach(link)
        if replaced is not None:
            # The client came back before the old socket's end reached us.
            replaced.close(1000, SUPERSEDED_REASON)
        await self._receive_until_closed(websocket, hub, connection, link)

    async def _receive_until_closed(
        self, websocket: WebSocket, hub: Hub, connection: ClientConnection, link: SocketLink
    ) -> None:
        close_code = _NO_STATUS
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = message.get("code", _NO_STATUS)
                    break
                text = message.get("text")
                # A plain client's messages would go to an upstream event handler, and devhost
                # runs none; binary frames have no meaning in the JSON protocols.
                if text is not None and connection.protocol is not Protocol.PLAIN:
                    handle_client_text(hub, connection, text)
        finally:
            hub.link_lost(connection, link, close_code)
            await link.stop()


def _link(websocket: WebSocket, send: Send) -> SocketLink:
    """A writer for the accepted socket, with the server's frame writer when it offers one."""
    offered = websocket.scope.get("extensions", {}).get(SEND_FRAMES)
    return SocketLink(send, offered["send"] if offered else None)


def _bearer(websocket: WebSocket) -> str | None:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
