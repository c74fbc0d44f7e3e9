"""uvicorn's httptools protocol, writing each response to the socket once instead of twice.

Through ASGI a response arrives as two messages, and uvicorn writes each to the socket as it
comes: one `send` syscall for the status line and headers, another for the body. On loopback the
syscall (which also wakes the reader) costs more than a small function's Python work, and uvloop
holds the GIL through it. Here the transport collects everything written during one turn of the
event loop and hands it to the socket at the end of that turn, in one write: the headers and body
of a response, and those of several pipelined or concurrent responses on the same connection.
The pieces go to `writelines`, which uvloop turns into one vectored write (`writev`), so a large
body (a 264 KB menu) is not first copied behind its headers.

Measured with the trivial function at 50 connections: see README "Benchmarks".
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Wraps a transport; writes made in one loop turn reach the socket as one (vectored) write.

    Everything else is the wrapped transport's. Closing flushes first, so nothing written is lost.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if not self._transport.is_closing():
            self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Give to `uvicorn.Config(http=...)`; no websocket upgrades (they take over the transport)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
