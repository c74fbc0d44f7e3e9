"""The tenant directory in Table Storage: domain → tenant record, in front of Postgres.

Partition key = domain, so a lookup is a point read. Postgres stays the source of truth; a
settings change writes Postgres, then this directory, then drops the local cache entry.
"""

from __future__ import annotations

import json

from azure.core.exceptions import ResourceNotFoundError

from shared.storage import table
from shared.tenants import TenantRecord

DIRECTORY_TABLE = "tenantdirectory"
ROW_KEY = "tenant"


def directory_get(domain: str) -> TenantRecord | None:
    try:
        entity = table(DIRECTORY_TABLE).get_entity(partition_key=domain, row_key=ROW_KEY)
    except ResourceNotFoundError:
        return None
    return TenantRecord.model_validate_json(entity["record"])


def directory_put(domain: str, record: TenantRecord) -> None:
    entity = {"PartitionKey": domain, "RowKey": ROW_KEY, "record": record.to_json()}
    table(DIRECTORY_TABLE).upsert_entity(entity)


def directory_put_all(domains: list[str], record: TenantRecord) -> None:
    for domain in domains:
        directory_put(domain, record)


def directory_delete(domain: str) -> None:
    # delete_entity is idempotent in azure-data-tables: a missing entity is not an error.
    table(DIRECTORY_TABLE).delete_entity(partition_key=domain, row_key=ROW_KEY)


def directory_domains_of(slug: str) -> list[str]:
    """Every directory domain pointing at slug (for cleanup); a scan, used only off the hot path."""
    entities = table(DIRECTORY_TABLE).query_entities(
        "RowKey eq @row", parameters={"row": ROW_KEY}, select=["PartitionKey", "record"]
    )
    return [e["PartitionKey"] for e in entities if json.loads(e["record"])["slug"] == slug]
