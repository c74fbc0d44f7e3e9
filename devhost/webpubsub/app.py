"""The Web PubSub emulator as one Starlette app: REST data plane plus client WebSockets."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.applications import Starlette

from devhost.webpubsub.client_socket import ClientSocketEndpoint
from devhost.webpubsub.hubs import HubRegistry
from devhost.webpubsub.rest import DataPlane
from devhost.webpubsub.wire import FrameWritingProtocol

DEFAULT_RECONNECT_GRACE_SECONDS = 30.0


def create_hub_app(
    access_key: str, *, reconnect_grace_seconds: float = DEFAULT_RECONNECT_GRACE_SECONDS
) -> Starlette:
    """Build the emulator for the connection string's AccessKey.

    Serve it on its own port (devhost uses 7072) with one event loop, e.g.
    `uvicorn.Server(hub_server_config(create_hub_app(key), host="127.0.0.1", port=7072))`.
    All state lives in memory in that loop. A reliable client whose socket drops keeps its
    connection for `reconnect_grace_seconds`.
    """
    if not access_key:
        raise ValueError("The Web PubSub access key must not be empty.")
    registry = HubRegistry(reconnect_grace_seconds=reconnect_grace_seconds)
    routes = [
        DataPlane(registry, access_key).mount(),
        ClientSocketEndpoint(registry, access_key).route(),
    ]
    return Starlette(routes=routes)


def hub_server_config(app: Starlette, **settings: Any) -> uvicorn.Config:
    """uvicorn as devhost serves the hub (tests and the bench serve it the same way)."""
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        # Message frames are encoded once per message and written past ASGI (see wire.py).
        ws=FrameWritingProtocol,
        # Browsers offer permessage-deflate; compressing each frame per connection costs the
        # hub more CPU than the kitchen's small JSON frames save.
        ws_per_message_deflate=False,
        **settings,
    )
