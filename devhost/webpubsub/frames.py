"""Messages the hub delivers, and how each client protocol frames them.

Frame shapes follow the Web PubSub client protocols `json.webpubsub.azure.v1` and
`json.reliable.webpubsub.azure.v1` (see shared/notes/webpubsub-protocol.md); a client that asked
for no subprotocol gets message bodies only.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from devhost.webpubsub.wire import encode_frame

DataType = Literal["json", "text", "binary"]

# What a REST send's Content-Type means for the message's dataType (parameters such as charset
# are ignored, as the service does).
_DATA_TYPE_BY_CONTENT_TYPE: dict[str, DataType] = {
    "application/json": "json",
    "text/plain": "text",
    "application/octet-stream": "binary",
}

PONG_FRAME = '{"type":"pong"}'


class Protocol(enum.Enum):
    """How a connection's frames look: raw bodies, JSON frames, or JSON frames with sequence ids."""

    PLAIN = ""
    JSON = "json.webpubsub.azure.v1"
    RELIABLE = "json.reliable.webpubsub.azure.v1"

    @classmethod
    def negotiate(cls, offered: Iterable[str]) -> Protocol:
        """Pick the first offered subprotocol the hub speaks; PLAIN when none is known.

        The service ignores subprotocols it does not know rather than refusing the handshake.
        """
        known = {protocol.value: protocol for protocol in (cls.JSON, cls.RELIABLE)}
        for name in offered:
            protocol = known.get(name.strip())
            if protocol is not None:
                return protocol
        return cls.PLAIN

    @property
    def subprotocol(self) -> str | None:
        """The Sec-WebSocket-Protocol value to accept with, None for plain WebSocket."""
        return self.value or None


class PayloadError(ValueError):
    """A message body or client frame whose data does not match its declared type."""


@dataclass(frozen=True, slots=True)
class Payload:
    """One message's data, in both forms a client may receive it.

    `data` is the value of a JSON frame's "data" field (a JSON value, a string, or base64 for
    binary); `raw` is what a plain WebSocket client receives (text, or bytes for binary).
    """

    data_type: DataType
    data: Any
    raw: str | bytes


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(number: str) -> float:
    # 1e400 is valid JSON, but as a double it is inf, which would go out as `Infinity`.
    value = float(number)
    if math.isinf(value):
        raise ValueError(f"{number} is beyond a double's range")
    return value


def strict_json_loads(text: str) -> Any:
    """JSON as the service (and a display's JSON.parse) reads it: no NaN or Infinity, nor a
    number too big for a double; ValueError for anything else, deep nesting included."""
    try:
        return json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def payload_from_body(content_type: str | None, body: bytes) -> Payload:
    """Read a REST send's body as the dataType its Content-Type names."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    data_type = _DATA_TYPE_BY_CONTENT_TYPE.get(media_type)
    if data_type is None:
        allowed = ", ".join(_DATA_TYPE_BY_CONTENT_TYPE)
        raise PayloadError(f"Content-Type {media_type or '(none)'!r} is not one of: {allowed}.")
    if data_type == "binary":
        return Payload("binary", base64.b64encode(body).decode("ascii"), body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"The body is not UTF-8 text: {error}.") from error
    if data_type == "text":
        return Payload("text", text, text)
    try:
        value = strict_json_loads(text)
    except ValueError as error:
        raise PayloadError(f"The body is not valid JSON: {error}.") from error
    # Plain clients get the body exactly as the server sent it.
    return Payload("json", value, text)


def payload_from_client_frame(data_type: object, data: object) -> Payload:
    """Read the dataType/data pair of a client's sendToGroup or event frame."""
    if data_type == "json":
        return Payload("json", data, json.dumps(data))
    if data_type == "text":
        if not isinstance(data, str):
            raise PayloadError('dataType "text" needs a string "data".')
        return Payload("text", data, data)
    if data_type == "binary":
        if not isinstance(data, str):
            raise PayloadError('dataType "binary" needs base64 text in "data".')
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise PayloadError(f'"data" is not valid base64: {error}.') from error
        return Payload("binary", data, raw)
    raise PayloadError(f'dataType must be "json", "text" or "binary", not {data_type!r}.')


class OutboundMessage:
    """One message on its way to any number of connections.

    The JSON frame is rendered once and shared by every JSON-protocol receiver; reliable
    receivers get the same text with their own sequence id spliced in, so fan-out never
    re-serialises the payload per connection.
    """

    __slots__ = ("_encoded", "_json_frame", "from_client", "from_user_id", "group", "payload")

    def __init__(
        self,
        payload: Payload,
        *,
        group: str | None = None,
        from_client: bool = False,
        from_user_id: str | None = None,
    ) -> None:
        self.payload = payload
        self.group = group
        self.from_client = from_client
        self.from_user_id = from_user_id
        self._json_frame: str | None = None
        self._encoded: dict[Protocol, bytes] = {}

    def json_frame(self) -> str:
        """The frame for `json.webpubsub.azure.v1` receivers."""
        if self._json_frame is None:
            frame: dict[str, Any] = {"type": "message"}
            if self.group is None:
                frame["from"] = "server"
            else:
                frame["from"] = "group"
                frame["group"] = self.group
            if self.from_client:
                frame["fromUserId"] = self.from_user_id
            frame["dataType"] = self.payload.data_type
            frame["data"] = self.payload.data
            self._json_frame = json.dumps(frame, separators=(",", ":"))
        return self._json_frame

    def encoded_frame(self, protocol: Protocol) -> bytes:
        """The WebSocket frame on the wire for PLAIN or JSON receivers, encoded once."""
        encoded = self._encoded.get(protocol)
        if encoded is None:
            frame = self.payload.raw if protocol is Protocol.PLAIN else self.json_frame()
            encoded = self._encoded[protocol] = encode_frame(frame)
        return encoded

    def reliable_frame(self, sequence_id: int) -> str:
        """The frame for `json.reliable.webpubsub.azure.v1` receivers, carrying `sequenceId`."""
        # json_frame() always ends with the object's closing brace.
        return f'{self.json_frame()[:-1]},"sequenceId":{sequence_id}}}'


def connected_frame(
    *, user_id: str | None, connection_id: str, reconnection_token: str | None
) -> str:
    """The system frame a JSON-protocol client gets first on every (re)connect."""
    frame: dict[str, Any] = {
        "type": "system",
        "event": "connected",
        "userId": user_id,
        "connectionId": connection_id,
    }
    if reconnection_token is not None:
        frame["reconnectionToken"] = reconnection_token
    return json.dumps(frame, separators=(",", ":"))


def disconnected_frame(reason: str) -> str:
    """The system frame a JSON-protocol client gets before the hub closes its connection."""
    return json.dumps(
        {"type": "system", "event": "disconnected", "message": reason}, separators=(",", ":")
    )


def ack_frame(ack_id: int, *, error_name: str | None = None, error_message: str = "") -> str:
    """An ack for a client request: success, or the error's name and message."""
    frame: dict[str, Any] = {"type": "ack", "ackId": ack_id, "success": error_name is None}
    if error_name is not None:
        frame["error"] = {"name": error_name, "message": error_message}
    return json.dumps(frame, separators=(",", ":"))
