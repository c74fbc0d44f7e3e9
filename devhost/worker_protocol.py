"""What devhost and its language worker processes say to each other over a socket pair.

The Functions host sends invocations to its language workers over gRPC; devhost's host and
workers are one program's parent and children, so frames are a 4-byte length and a pickle.
Messages: the host's `WorkerConfig` first, the worker's `READY` once the app is imported, then
`Invocation`s one way and `Outcome`s the other, matched by id. A closed socket ends the worker.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass
from typing import Any

_LENGTH = struct.Struct("!I")
READY = "ready"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker needs besides the environment it inherits."""

    app_ref: str
    app_dir: str
    route_prefix: str
    durable_client_json: str | None
    function_timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class Invocation:
    """One HTTP request for a function, as the host received it."""

    id: int
    method: str
    path: str
    url: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """The function's response on the wire, `failed` when it raised (the worker logs it), or
    `timed_out`."""

    id: int
    status: int = 500
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    failed: bool = False
    timed_out: bool = False  # functionTimeout passed (a call still queued then never runs)


def encode(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


async def read_message(reader: asyncio.StreamReader) -> Any:
    """The next message; IncompleteReadError when the other side has gone."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(length))
