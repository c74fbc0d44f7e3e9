"""Liveness of what the app needs: Postgres and storage, each checked with a short timeout."""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from psycopg import Error as PsycopgError
from pydantic import BaseModel

import shared
from shared.config import get_settings

logger = logging.getLogger("stelly.health")
CHECK_TIMEOUT_S = 2


class HealthReport(BaseModel):
    status: str
    database: str
    storage: str
    version: str


def check_database() -> bool:
    """Postgres answers `select 1` within CHECK_TIMEOUT_S.

    libpq has no client-side read timeout, and a server that stops answering (a partition, a
    frozen host) would hold the probe for good: it runs on a thread of its own, on a connection
    of its own (a stuck probe must not hold one of the requests' pooled connections), and is
    reported down once the time is up.
    """
    answered: list[bool] = []
    probe = threading.Thread(target=lambda: answered.append(_select_one()), daemon=True)
    probe.start()
    probe.join(CHECK_TIMEOUT_S + 1)
    if not answered:
        logger.warning("health: database did not answer within %s s", CHECK_TIMEOUT_S + 1)
    return bool(answered and answered[0])


def _select_one() -> bool:
    url = get_settings().database_url.get_secret_value()
    try:
        with psycopg.connect(
            url,
            connect_timeout=CHECK_TIMEOUT_S,
            options=f"-c statement_timeout={CHECK_TIMEOUT_S * 1000}",
            autocommit=True,
        ) as conn:
            conn.execute("select 1")
        return True
    except PsycopgError as error:
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
