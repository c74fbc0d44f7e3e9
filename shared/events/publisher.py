"""Publishing events to Web PubSub, and client URLs for the negotiate endpoints.

`EventPublisher` is the small interface the outbox needs; `WebPubSubPublisher` implements it with
`WebPubSubServiceClient`: the connection string when WEBPUBSUB_CONNECTION is set (local hub),
else WEBPUBSUB_ENDPOINT with DefaultAzureCredential (managed identity in Azure).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from azure.core.exceptions import AzureError, HttpResponseError
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from shared.config import get_settings
from shared.http_transport import StdlibTransport

CLIENT_TOKEN_MINUTES = 60
# The outbox retries with backoff, so the SDK must not retry (or wait long) on its own. Not
# reading proxy and netrc settings from the environment on every send halves its CPU cost; the
# Functions host sets no proxy for its outbound calls. http.client instead of requests (see
# http_transport) takes off about as much again.
_TIMEOUTS = {"connection_timeout": 2, "read_timeout": 5}
_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 0, "use_env_settings": False, **_TIMEOUTS}


# Answers the hub gives an event it will never take, however often it is sent: a malformed
# request, or a message over the service's size limit. Anything else (401/403 from a key being
# rotated, 429, 5xx, no answer) may pass on a later try.
_REFUSED_FOR_GOOD = frozenset({400, 413})


class PublishError(Exception):
    """The hub did not take the event; the outbox keeps it and tries again later, unless
    `permanent`: then trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class EventPublisher(Protocol):
    """Delivers one event message to every connection in any of groups."""

    def publish(self, message: Mapping[str, Any], groups: Sequence[str]) -> None: ...


def groups_filter(groups: Sequence[str]) -> str:
    """The OData filter `'a' in groups or 'b' in groups` (quotes doubled as OData escapes them)."""
    return " or ".join("'{}' in groups".format(group.replace("'", "''")) for group in groups)


class WebPubSubPublisher:
    """One send per event to every connection in its groups.

    A single filtered broadcast (rather than one send per group) means a display that joined
    both the kitchen and a station group still receives each event once, and in publish order.
    """

    def __init__(self, client: WebPubSubServiceClient) -> None:
        self._client = client

    def publish(self, message: Mapping[str, Any], groups: Sequence[str]) -> None:
        try:
            self._client.send_to_all(
                dict(message), filter=groups_filter(groups), content_type="application/json"
            )
        except AzureError as error:
            permanent = (
                isinstance(error, HttpResponseError) and error.status_code in _REFUSED_FOR_GOOD
            )
            raise PublishError(f"{type(error).__name__}: {error}", permanent=permanent) from error


@functools.cache
def service_client() -> WebPubSubServiceClient:
    """The process-wide SDK client for WEBPUBSUB_HUB."""
    settings = get_settings()
    if settings.webpubsub_connection is not None:
        return WebPubSubServiceClient.from_connection_string(
            settings.webpubsub_connection.get_secret_value(),
            hub=settings.webpubsub_hub,
            transport=StdlibTransport(**_TIMEOUTS),
            **_CLIENT_OPTIONS,
        )
    from azure.identity import DefaultAzureCredential

    assert settings.webpubsub_endpoint is not None  # config requires one of the two
    return WebPubSubServiceClient(
        endpoint=settings.webpubsub_endpoint,
        hub=settings.webpubsub_hub,
        credential=DefaultAzureCredential(),
        transport=StdlibTransport(**_TIMEOUTS),
        **_CLIENT_OPTIONS,
    )


def default_publisher() -> WebPubSubPublisher:
    return WebPubSubPublisher(service_client())


def client_url(*, user_id: str, join: Sequence[str], allowed: Sequence[str]) -> str:
    """A client URL that joins `join` on connect and may join/leave only `allowed` groups.

    Roles name each group (`webpubsub.joinLeaveGroup.<group>`), never the bare role that would
    let a client join any group, so a token cannot reach another restaurant or order.
    """
    try:
        token = service_client().get_client_access_token(
            user_id=user_id,
            roles=[f"webpubsub.joinLeaveGroup.{group}" for group in allowed],
            groups=list(join),
            minutes_to_expire=CLIENT_TOKEN_MINUTES,
        )
    except AzureError as error:
        # Only the managed-identity path calls the service here; the key path is local.
        raise PublishError(f"{type(error).__name__}: {error}") from error
    return str(token["url"])
