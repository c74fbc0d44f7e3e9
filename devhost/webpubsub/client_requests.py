"""What a JSON-protocol client may ask of the hub over its socket, and the acks it gets back.

joinGroup/leaveGroup need the `webpubsub.joinLeaveGroup[.<group>]` role and sendToGroup needs
`webpubsub.sendToGroup[.<group>]`; without it the ack says Forbidden. A request whose ackId
already succeeded is answered Duplicate and not run again, so a client may safely retry after
a reconnect.
"""

from __future__ import annotations

from typing import Any

from devhost.webpubsub.connections import ClientConnection
from devhost.webpubsub.frames import (
    PONG_FRAME,
    OutboundMessage,
    Payload,
    PayloadError,
    ack_frame,
    payload_from_client_frame,
    strict_json_loads,
)
from devhost.webpubsub.hubs import Hub


class _Refused(Exception):
    """A request the hub answers with a failed ack of this error name and message."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def handle_client_text(hub: Hub, connection: ClientConnection, text: str) -> None:
    """Act on one text frame from a JSON-protocol client and queue its ack, if it wants one.

    Frames that are not JSON objects are ignored: without an ackId there is nobody to tell. A
    refused request without an ackId closes the connection, as the service does ("connection
    will be closed with disconnected message if any errors happen").
    """
    try:
        request = strict_json_loads(text)
    except ValueError:
        return
    if not isinstance(request, dict):
        return
    kind = request.get("type")
    if kind == "ping":
        connection.reply(PONG_FRAME)
        return
    if kind == "sequenceAck":
        sequence_id = request.get("sequenceId")
        if isinstance(sequence_id, int):
            connection.acknowledge(sequence_id)
        return
    ack_id = request.get("ackId")
    if not isinstance(ack_id, int) or isinstance(ack_id, bool):
        ack_id = None
    if ack_id is not None and connection.ack_id_completed(ack_id):
        connection.reply(
            ack_frame(ack_id, error_name="Duplicate", error_message="The ackId is used.")
        )
        return
    try:
        _run(hub, connection, kind, request)
    except _Refused as refusal:
        if ack_id is None:
            hub.close(connection, refusal.message)
        else:
            connection.reply(
                ack_frame(ack_id, error_name=refusal.name, error_message=refusal.message)
            )
        return
    if ack_id is not None:
        connection.complete_ack_id(ack_id)
        connection.reply(ack_frame(ack_id))


def _run(hub: Hub, connection: ClientConnection, kind: object, request: dict[str, Any]) -> None:
    if kind in ("joinGroup", "leaveGroup"):
        group = _group(request)
        _require(connection, "joinLeaveGroup", group)
        if kind == "joinGroup":
            hub.join(connection, group)
        else:
            hub.leave(connection, group)
    elif kind == "sendToGroup":
        group = _group(request)
        _require(connection, "sendToGroup", group)
        message = OutboundMessage(
            _payload(request), group=group, from_client=True, from_user_id=connection.user_id
        )
        excluded = (connection.connection_id,) if request.get("noEcho") is True else ()
        hub.send_to_group(group, message, excluded=excluded)
    elif kind == "event":
        # devhost runs no upstream event handler: a well-formed event is accepted and dropped,
        # as the service does for an event no handler subscribes to.
        _payload(request)
    else:
        raise _Refused("InvalidRequest", f"Unknown message type {kind!r}.")


def _group(request: dict[str, Any]) -> str:
    group = request.get("group")
    if not isinstance(group, str) or not group.strip():
        raise _Refused("InvalidRequest", '"group" must be a non-empty string.')
    return group


def _payload(request: dict[str, Any]) -> Payload:
    try:
        return payload_from_client_frame(request.get("dataType"), request.get("data"))
    except PayloadError as error:
        raise _Refused("InvalidRequest", str(error)) from error


def _require(connection: ClientConnection, permission: str, group: str) -> None:
    if not connection.may(permission, group):
        raise _Refused(
            "Forbidden",
            f"The connection has no role webpubsub.{permission} or webpubsub.{permission}.{group}.",
        )
