"""Web PubSub hub: send_to_group → receipt latency and sustained fan-out rate at 50 clients.

The hub runs in its own process with devhost's uvicorn settings, so the load generator does not
share its interpreter lock; receipt times use the system-wide monotonic clock.

The 50 clients are minimal WebSocket clients (JSON subprotocol, no permessage-deflate) that
note when each frame's bytes arrive. Fifty full client libraries in one Python thread would
spend longer handling each message than the hub takes to send it, and the last client's
receipt would measure that queue instead of the hub. Correctness with real clients is what
tests/devhost/test_webpubsub_hub.py proves.

- Latency: the real SDK sends one message at a time; a sample runs from the SDK call until the
  50th client has the message. The floor is the same SDK call to a group with no members.
- Sustained rate: the SDK costs a few ms of CPU per call, so on this two-core machine it would
  saturate the load generator before the hub. The load is keep-alive HTTP/1.1 connections
  sending the SDK's exact request (same URL, same access-key JWT). Every message must reach
  all 50 clients.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import jwt
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from bench.report import Row, percentile, row
from devhost.hub_process import HubProcess
from devhost.services import free_port

CLIENTS = 50
LATENCY_MESSAGES = 200
SUSTAIN_SECONDS = 3.0
SENDERS = 4
HUB = "bench"
GROUP = "kitchen-display"
JSON_PROTOCOL = "json.webpubsub.azure.v1"
_TIMEOUT_S = 15.0


@contextlib.contextmanager
def _hub_process(access_key: str) -> Iterator[int]:
    """Serve the hub as devhost does, in a child process on a free port; stop it afterwards."""
    hub = HubProcess(access_key, port=free_port())
    hub.start()
    try:
        hub.wait_ready()
        yield hub.port
    finally:
        hub.stop()


class _Audience:
    """The clients, and a way to wait until every one has received a number of frames."""

    def __init__(self) -> None:
        self.clients: list[_FrameCounter] = []
        self._target = 0
        self._behind = 0
        self._caught_up: asyncio.Future[None] | None = None

    def counted(self, client: _FrameCounter, before: int) -> None:
        """Called by a client whose frame count went from `before` to `client.frames`."""
        if before < self._target <= client.frames:
            self._behind -= 1
            if self._behind == 0 and self._caught_up is not None:
                self._caught_up.set_result(None)

    async def all_have(self, frames: int) -> float:
        """Wait until every client has `frames` frames; return when the last one arrived."""
        self._target = frames
        self._behind = sum(1 for client in self.clients if client.frames < frames)
        if self._behind:
            self._caught_up = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._caught_up, _TIMEOUT_S)
            except TimeoutError as error:
                raise RuntimeError(f"{self._behind} clients never got frame {frames}") from error
            finally:
                self._caught_up = None
        return max(client.last_frame_at for client in self.clients)


class _FrameCounter(asyncio.Protocol):
    """A minimal WebSocket client: counts text and binary frames and notes when they arrive.

    Server frames are unmasked and, without permessage-deflate, uncompressed, so counting is a
    few byte reads per frame.
    """

    def __init__(self, handshake: bytes, audience: _Audience) -> None:
        self.frames = 0
        self.last_frame_at = 0.0
        self._handshake = handshake
        self._audience = audience
        self._buffer = bytearray()
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._handshake)

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0 or not buffer.startswith(b"HTTP/1.1 101"):
                return  # a refused handshake shows as a client that never connects
            del buffer[: end + 4]
            self._upgraded = True
        before, position = self.frames, 0
        while len(buffer) - position >= 2:
            opcode, length, header = buffer[position] & 0x0F, buffer[position + 1] & 0x7F, 2
            if length >= 126:
                header = 4 if length == 126 else 10
                if len(buffer) - position < header:
                    break
                length = int.from_bytes(buffer[position + 2 : position + header], "big")
            if len(buffer) - position < header + length:
                break
            if opcode in (1, 2):
                self.frames += 1
            position += header + length
        del buffer[:position]
        if self.frames != before:
            self.last_frame_at = arrived
            self._audience.counted(self, before)


async def _connect_audience(port: int, urls: list[str]) -> _Audience:
    """Connect one client per URL and wait for each one's `connected` frame."""
    loop = asyncio.get_running_loop()
    audience = _Audience()
    for url in urls:
        target = urlsplit(url)
        handshake = (
            f"GET {target.path}?{target.query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {JSON_PROTOCOL}\r\n\r\n"
        ).encode()
        _, client = await loop.create_connection(
            lambda handshake=handshake: _FrameCounter(handshake, audience), "127.0.0.1", port
        )
        audience.clients.append(client)
    await audience.all_have(1)
    return audience


async def _sdk_latency_ms(
    service: WebPubSubServiceClient, group: str, audience: _Audience | None
) -> list[float]:
    """Send LATENCY_MESSAGES one at a time; a sample ends when the last client has it."""

    def send(index: int) -> float:
        started = time.perf_counter()
        service.send_to_group(group, {"i": index})
        return started

    latencies = []
    for index in range(LATENCY_MESSAGES):
        frames = audience.clients[0].frames + 1 if audience else 0
        started = await asyncio.to_thread(send, index)
        received = await audience.all_have(frames) if audience else time.perf_counter()
        latencies.append((received - started) * 1000)
    return latencies


async def _post_until(port: int, access_key: str, stop_at: float) -> int:
    """Send the SDK's send_to_group request over one keep-alive connection until stop_at."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = f"/api/hubs/{HUB}/groups/{GROUP}/:send?api-version=2024-12-01"
    audience = f"http://127.0.0.1:{port}{path}"
    sent, token, token_exp = 0, "", 0
    try:
        while time.perf_counter() < stop_at:
            # The SDK signs aud = URL, exp = now + 60 s: identical tokens within one second.
            if token_exp != int(time.time()) + 60:
                token_exp = int(time.time()) + 60
                token = jwt.encode({"aud": audience, "exp": token_exp}, access_key, "HS256")
            body = b'{"i": %d}' % sent
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 202"):
                raise RuntimeError(f"send_to_group answered {head.splitlines()[0]!r}")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":")[1]))
            sent += 1
    finally:
        writer.close()
    return sent


async def _sustained_rate(port: int, access_key: str, audience: _Audience) -> float:
    """Messages/s from the first send until every client has every message."""
    frames_before = audience.clients[0].frames
    started = time.perf_counter()
    stop_at = started + SUSTAIN_SECONDS
    senders = (_post_until(port, access_key, stop_at) for _ in range(SENDERS))
    sent = sum(await asyncio.gather(*senders))
    finished = await audience.all_have(frames_before + sent)
    return sent / (finished - started)


async def _measure(port: int, access_key: str) -> tuple[list[float], list[float], float]:
    connection = f"Endpoint=http://127.0.0.1:{port};AccessKey={access_key};Version=1.0;"
    service = WebPubSubServiceClient.from_connection_string(connection, hub=HUB)
    urls = [
        service.get_client_access_token(user_id=f"display-{n}", groups=[GROUP])["url"]
        for n in range(CLIENTS)
    ]
    audience = await _connect_audience(port, urls)
    floor = await _sdk_latency_ms(service, "nobody-listens", None)
    latencies = await _sdk_latency_ms(service, GROUP, audience)
    rate = await _sustained_rate(port, access_key, audience)
    return floor, latencies, rate


def run() -> list[Row]:
    """Two rows: p95 SDK send → receipt at 50 clients, and sustained messages/s to 50 clients."""
    access_key = secrets.token_urlsafe(32)
    with _hub_process(access_key) as port:
        floor, latencies, rate = asyncio.run(_measure(port, access_key))
    return [
        row(
            "hub",
            f"SDK send_to_group → receipt at {CLIENTS} clients p95",
            percentile(latencies, 95),
            "ms",
            "< 10 ms",
            floor=percentile(floor, 95),
            floor_name="the same SDK call to an empty group",
        ),
        row(
            "hub",
            f"sustained send_to_group to {CLIENTS} clients, all delivered",
            rate,
            "messages/s",
            ">= 1000 messages/s",
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result)
