"""One client connection: identity, roles, groups, its socket writer and its reliable buffer.

Every connection owns a send queue drained by its own task, so a fan-out only appends to queues
and a slow or stalled client never delays the others. A reliable connection also keeps every
message it has not acknowledged, keyed by sequence id, and replays them on a new socket after a
reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import Send

from devhost.webpubsub.frames import (
    OutboundMessage,
    Protocol,
    connected_frame,
    disconnected_frame,
)
from devhost.webpubsub.wire import encode_frame

SendFrames = Callable[[bytes], Awaitable[None]]

# A client this far behind (frames queued, or reliable messages unacknowledged) is dropped
# rather than let memory grow without bound; the service has similar limits.
MAX_PENDING_MESSAGES = 10_000
# 1008 tells a reliable client the connection is gone and recovery must not be attempted.
CLOSE_REMOVED = 1008
# Client close codes that end a reliable connection at once instead of starting the grace period.
CLEAN_CLOSE_CODES = frozenset({1000, 1001})


@dataclass(frozen=True, slots=True)
class _CloseRequest:
    code: int
    reason: str


class SocketLink:
    """One accepted WebSocket and the task that writes its queued frames, in order.

    Frames go straight to the ASGI `send` of the accepted socket: at 50 receivers per message
    the per-frame overhead of a wrapper object adds up. A deque plus a wake-up future is
    lighter than asyncio.Queue, and the writer drains every queued frame per wake-up. Where the
    server offers `send_frames` (see wire.py) the queue holds encoded frames instead, and each
    wake-up writes all of them at once.
    """

    def __init__(self, send: Send, send_frames: SendFrames | None = None) -> None:
        self._send = send
        self._send_frames = send_frames
        self._frames: deque[str | bytes | _CloseRequest] = deque()
        self._wake_up: asyncio.Future[None] | None = None
        self._writer = asyncio.create_task(self._write_frames())

    @property
    def takes_encoded(self) -> bool:
        """Whether push() may be given the frame already encoded (see wire.encode_frame)."""
        return self._send_frames is not None

    def push(self, frame: str | bytes, encoded: bytes | None = None) -> int:
        """Queue one frame (text or binary, and its encoding if known); how many now wait."""
        if self._send_frames is not None:
            return self._enqueue(encoded if encoded is not None else encode_frame(frame))
        return self._enqueue(frame)

    def close(self, code: int, reason: str) -> None:
        """Close the socket after the frames already queued."""
        # A close frame's reason is limited to 123 bytes.
        reason = reason.encode("utf-8")[:123].decode("utf-8", "ignore")
        self._enqueue(_CloseRequest(code, reason))

    async def stop(self) -> None:
        """Stop writing; called once the socket has gone."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    def _enqueue(self, item: str | bytes | _CloseRequest) -> int:
        self._frames.append(item)
        wake_up = self._wake_up
        if wake_up is not None:
            self._wake_up = None
            wake_up.set_result(None)
        return len(self._frames)

    async def _write_frames(self) -> None:
        frames = self._frames
        loop = asyncio.get_running_loop()
        try:
            while True:
                while frames:
                    if isinstance(frames[0], _CloseRequest):
                        close = frames.popleft()
                        await self._send(
                            {"type": "websocket.close", "code": close.code, "reason": close.reason}
                        )
                        return
                    if self._send_frames is not None:
                        await self._send_frames(self._take_encoded())
                    else:
                        await self._send_one(frames.popleft())
                # _enqueue resolves this and clears it, so it is never resolved twice.
                self._wake_up = loop.create_future()
                await self._wake_up
        except (OSError, RuntimeError):
            # The client went away (uvicorn raises an OSError subclass), or uvicorn closed the
            # socket itself, e.g. on a keepalive timeout, and refuses further sends with a
            # RuntimeError. Either way the receive loop sees the disconnect and cleans up.
            return

    def _take_encoded(self) -> bytes:
        """Every encoded frame queued before the next close request, as one write."""
        frames, batch = self._frames, []
        while frames and not isinstance(frames[0], _CloseRequest):
            batch.append(frames.popleft())
        return batch[0] if len(batch) == 1 else b"".join(batch)  # type: ignore[arg-type]

    async def _send_one(self, frame: str | bytes | _CloseRequest) -> None:
        if isinstance(frame, str):
            await self._send({"type": "websocket.send", "text": frame})
        else:
            await self._send({"type": "websocket.send", "bytes": frame})


class ClientConnection:
    """A logical connection, which for reliable clients outlives any one socket."""

    def __init__(
        self,
        *,
        connection_id: str,
        user_id: str | None,
        protocol: Protocol,
        roles: frozenset[str],
        reconnection_token: str,
    ) -> None:
        self.connection_id = connection_id
        self.user_id = user_id
        self.protocol = protocol
        self.reconnection_token = reconnection_token
        self.groups: set[str] = set()
        self.closed = False
        self.grace_timer: asyncio.TimerHandle | None = None
        self._roles = set(roles)
        self._link: SocketLink | None = None
        self._last_sequence_id = 0
        self._unacked: deque[tuple[int, str]] = deque()
        self._completed_ack_ids: set[int] = set()

    @property
    def reliable(self) -> bool:
        """Whether messages carry sequence ids and survive a dropped socket."""
        return self.protocol is Protocol.RELIABLE

    @property
    def attached(self) -> bool:
        """Whether a socket is currently connected."""
        return self._link is not None

    def attach(self, link: SocketLink) -> SocketLink | None:
        """Make `link` the live socket and return the one it replaces, if any.

        A JSON-protocol client first gets its `connected` frame; a reliable one then gets every
        message it has not acknowledged, oldest first, before anything newer.
        """
        replaced, self._link = self._link, link
        if self.protocol is not Protocol.PLAIN:
            link.push(
                connected_frame(
                    user_id=self.user_id,
                    connection_id=self.connection_id,
                    reconnection_token=self.reconnection_token if self.reliable else None,
                )
            )
        for _, frame in self._unacked:
            link.push(frame)
        return replaced

    def detach(self, link: SocketLink) -> bool:
        """Forget `link` if it is still the live socket; False if a newer one replaced it."""
        if self._link is not link:
            return False
        self._link = None
        return True

    def deliver(self, message: OutboundMessage) -> bool:
        """Queue a message in this connection's framing; False when the client is too far behind."""
        frame: str | bytes
        if self.protocol is Protocol.PLAIN:
            frame = message.payload.raw
        elif self.protocol is Protocol.JSON:
            frame = message.json_frame()
        else:
            self._last_sequence_id += 1
            frame = message.reliable_frame(self._last_sequence_id)
            self._unacked.append((self._last_sequence_id, frame))
            if len(self._unacked) > MAX_PENDING_MESSAGES:
                return False
        link = self._link
        if link is None:
            return True
        # JSON and plain frames are the same bytes for every receiver: encoded once per message.
        encoded = None
        if link.takes_encoded and self.protocol is not Protocol.RELIABLE:
            encoded = message.encoded_frame(self.protocol)
        return link.push(frame, encoded) <= MAX_PENDING_MESSAGES

    def reply(self, frame: str) -> None:
        """Send a frame that is not a message (ack, pong): never buffered, never sequenced."""
        if self._link is not None:
            self._link.push(frame)

    def acknowledge(self, sequence_id: int) -> None:
        """Drop buffered messages up to and including `sequence_id` (acks are cumulative)."""
        while self._unacked and self._unacked[0][0] <= sequence_id:
            self._unacked.popleft()

    def close(self, reason: str) -> None:
        """Tell the client why, then close its socket; the connection is not recoverable."""
        self.closed = True
        if self.grace_timer is not None:
            self.grace_timer.cancel()
            self.grace_timer = None
        if self._link is not None:
            if self.protocol is not Protocol.PLAIN:
                self._link.push(disconnected_frame(reason))
            self._link.close(CLOSE_REMOVED, reason)

    def may(self, permission: str, group: str) -> bool:
        """Whether the roles allow `permission` (joinLeaveGroup, sendToGroup) on `group`."""
        return (
            f"webpubsub.{permission}" in self._roles
            or f"webpubsub.{permission}.{group}" in self._roles
        )

    def grant(self, permission: str, target: str | None) -> None:
        """Add a role, on one group when `target` is given, on every group otherwise."""
        self._roles.add(_role(permission, target))

    def revoke(self, permission: str, target: str | None) -> None:
        """Remove exactly the role `grant` would have added."""
        self._roles.discard(_role(permission, target))

    def has_role(self, permission: str, target: str | None) -> bool:
        """Whether the connection holds `permission`, on `target` when given."""
        return self.may(permission, target) if target else _role(permission, None) in self._roles

    def ack_id_completed(self, ack_id: int) -> bool:
        """Whether a request with this ackId already succeeded (a retry is a Duplicate)."""
        return ack_id in self._completed_ack_ids

    def complete_ack_id(self, ack_id: int) -> None:
        """Remember a succeeded request's ackId. Failed ones are not kept, so retries may run."""
        self._completed_ack_ids.add(ack_id)


def _role(permission: str, target: str | None) -> str:
    return f"webpubsub.{permission}.{target}" if target else f"webpubsub.{permission}"
