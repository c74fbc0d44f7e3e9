"""Storage clients from settings: a connection string locally, the managed identity in Azure."""

from __future__ import annotations

import functools
from typing import Any

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ExponentialRetry

from shared.config import get_settings
from shared.http_transport import StdlibTransport


def _credential():
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


# Tables sit on request paths (the tenant directory): a short retry budget, because a storefront
# request should fall back to Postgres within a second rather than retry for ten. Not reading
# proxy and netrc settings from the environment on every call (the Functions host sets no proxy
# for outbound calls) takes a third off the client's CPU time per read, which is most of a
# directory read's time against Azurite; http.client instead of requests (see http_transport)
# takes off more.
TABLE_TIMEOUTS = {"connection_timeout": 2, "read_timeout": 10}
TABLE_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.1,
    "use_env_settings": False,
    **TABLE_TIMEOUTS,
}


@functools.cache
def table_service() -> TableServiceClient:
    settings = get_settings()
    if settings.storage_connection is not None:
        return TableServiceClient.from_connection_string(
            settings.storage_connection.get_secret_value(),
            transport=StdlibTransport(**TABLE_TIMEOUTS),
            **TABLE_CLIENT_OPTIONS,
        )
    url = f"https://{settings.storage_account_name}.table.core.windows.net"
    return TableServiceClient(
        endpoint=url,
        credential=_credential(),
        transport=StdlibTransport(**TABLE_TIMEOUTS),
        **TABLE_CLIENT_OPTIONS,
    )


def _blob_client_options() -> dict[str, Any]:
    # The SDK's default retries back off 15, 18 and 24 s: an admin request issuing an upload URL
    # would answer after Front Door's 60 s origin timeout. About 3 s of retries instead; the blob
    # trigger and the durable activities retry whole calls on top of that.
    retry = ExponentialRetry(
        initial_backoff=0.5, increment_base=2, retry_total=2, random_jitter_range=0.5
    )
    # A storage that accepts the connection and then stalls: 20 s per read, not the SDK's 60.
    return {"retry_policy": retry, "connection_timeout": 5, "read_timeout": 20}


@functools.cache
def blob_service() -> BlobServiceClient:
    settings = get_settings()
    if settings.storage_connection is not None:
        return BlobServiceClient.from_connection_string(
            settings.storage_connection.get_secret_value(), **_blob_client_options()
        )
    url = f"https://{settings.storage_account_name}.blob.core.windows.net"
    return BlobServiceClient(account_url=url, credential=_credential(), **_blob_client_options())


@functools.cache
def table(name: str) -> TableClient:
    """A client for table name, creating the table once per process if it is missing."""
    service = table_service()
    service.create_table_if_not_exists(name)
    return service.get_table_client(name)


@functools.cache
def existing_table(name: str) -> TableClient:
    """A client for table name without creating it: for the request path, where a table made by
    infra or provisioning is read with short timeouts (creating it has none of its own, and a
    stalled Table Storage held every request of a cold instance 10 s), and a missing one is a
    ResourceNotFoundError like a missing entity."""
    return table_service().get_table_client(name)


def reset_clients() -> None:
    """Forget cached clients (tests that switch storage accounts)."""
    table_service.cache_clear()
    blob_service.cache_clear()
    table.cache_clear()
    existing_table.cache_clear()
