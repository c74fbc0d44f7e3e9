"""Message frames encoded once per message and written to each socket as bytes.

Through ASGI every frame to every receiver passes uvicorn's `send`, the websockets library's
framing and Starlette's send wrappers: at 50 receivers that per-frame Python was about a third of
the hub's CPU per message. Frames are unmasked and uncompressed server frames, so the bytes are
the same for every receiver of the same text: they are encoded once (`encode_frame`, with the
websockets library's own serializer) and written as they are.

`FrameWritingProtocol` is uvicorn's sans-I/O websockets protocol that offers this write to the
app as the ASGI scope extension `SEND_FRAMES`. It is offered only without per-message
compression, whose frames differ per connection. An app served by any other server does not find
the extension and sends through ASGI as before.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

# scope["extensions"][SEND_FRAMES]["send"]: an async callable taking encoded frames as bytes.
SEND_FRAMES = "devhost.websocket.send_frames"


def encode_frame(data: str | bytes) -> bytes:
    """One unfragmented, unmasked server frame: text for str, binary for bytes."""
    if isinstance(data, str):
        return Frame(Opcode.TEXT, data.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, data).serialize(mask=False)


class FrameWritingProtocol(WebSocketsSansIOProtocol):
    """Give to `uvicorn.Config(ws=...)`; accepted sockets offer SEND_FRAMES to the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The scope exists once the handshake is accepted; the app runs from the next loop turn.
        scope = getattr(self, "scope", None)
        if scope is not None and not self.conn.extensions:
            scope["extensions"][SEND_FRAMES] = {"send": self.send_frames}

    async def send_frames(self, frames: bytes) -> None:
        """Write encoded message frames, honouring flow control, like a `websocket.send`."""
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if self.close_sent or not self.handshake_complete:
            raise RuntimeError("The WebSocket is not open for messages.")
        self.transport.write(frames)
