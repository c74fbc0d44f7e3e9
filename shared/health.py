"""Liveness of what the app needs: Postgres and storage, each checked with a short timeout."""

from __future__ import annotations

import logging
from typing import Any

from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

import shared
from shared.config import get_settings
from shared.db import get_pool

logger = logging.getLogger("stelly.health")
CHECK_TIMEOUT_S = 2


class HealthReport(BaseModel):
    status: str
    database: str
    storage: str
    version: str


def check_database() -> bool:
    try:
        with get_pool().connection(timeout=CHECK_TIMEOUT_S) as conn:
            conn.execute("select 1")
        return True
    except (PoolTimeout, PsycopgError) as error:
        logger.warning("health: database unreachable: %s", type(error).__name__)
        return False


# No retries: health must answer within seconds, not after the SDK's back-off.
_PROBE_OPTIONS: dict[str, Any] = {
    "retry_total": 0,
    "connection_timeout": CHECK_TIMEOUT_S,
    "read_timeout": CHECK_TIMEOUT_S,
}


def _probe_clients() -> tuple[TableServiceClient, BlobServiceClient]:
    """Table (tenant directory, audit) and Blob (images, assets, uploads) clients for probing."""
    settings = get_settings()
    if settings.storage_connection is not None:
        connection = settings.storage_connection.get_secret_value()
        return (
            TableServiceClient.from_connection_string(connection, **_PROBE_OPTIONS),
            BlobServiceClient.from_connection_string(connection, **_PROBE_OPTIONS),
        )
    from azure.identity import DefaultAzureCredential

    account, credential = settings.storage_account_name, DefaultAzureCredential()
    return (
        TableServiceClient(
            endpoint=f"https://{account}.table.core.windows.net",
            credential=credential,
            **_PROBE_OPTIONS,
        ),
        BlobServiceClient(
            account_url=f"https://{account}.blob.core.windows.net",
            credential=credential,
            **_PROBE_OPTIONS,
        ),
    )


def check_storage() -> bool:
    """Both services the app uses answer a one-item listing."""
    try:
        tables, blobs = _probe_clients()
        with tables, blobs:
            next(iter(tables.list_tables(results_per_page=1)), None)
            next(iter(blobs.list_containers(results_per_page=1)), None)
        return True
    except (AzureError, OSError) as error:
        logger.warning("health: storage unreachable: %s", type(error).__name__)
        return False


def health_report() -> HealthReport:
    database = "ok" if check_database() else "down"
    storage = "ok" if check_storage() else "down"
    status = "ok" if database == storage == "ok" else "degraded"
    return HealthReport(
        status=status, database=database, storage=storage, version=shared.__version__
    )
