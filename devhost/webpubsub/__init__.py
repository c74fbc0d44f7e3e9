"""devhost's local Azure Web PubSub service: REST data plane and client WebSocket protocols.

`create_hub_app(access_key)` returns the ASGI app; see app.py for how devhost serves it.
"""

from devhost.webpubsub.app import create_hub_app

__all__ = ["create_hub_app"]
