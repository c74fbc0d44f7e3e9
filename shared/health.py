"""Liveness of what the app needs: Postgres and storage, each checked with a short timeout."""

from __future__ import annotations

import logging

from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient
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


def _probe_client() -> TableServiceClient:
    # No retries: health must answer within seconds, not after the SDK's back-off.
    settings = get_settings()
    options = {"retry_total": 0, "connection_timeout": CHECK_TIMEOUT_S, "read_timeout": 2}
    if settings.storage_connection is not None:
        return TableServiceClient.from_connection_string(
            settings.storage_connection.get_secret_value(), **options
        )
    from azure.identity import DefaultAzureCredential

    url = f"https://{settings.storage_account_name}.table.core.windows.net"
    return TableServiceClient(endpoint=url, credential=DefaultAzureCredential(), **options)


def check_storage() -> bool:
    try:
        with _probe_client() as client:
            next(iter(client.list_tables(results_per_page=1)), None)
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
