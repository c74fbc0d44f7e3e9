"""The tenant directory in Table Storage: domain → tenant record, in front of Postgres.

Partition key = domain, so a lookup is a point read. Postgres stays the source of truth; a
settings change writes Postgres, then this directory, then drops the local cache entry.

Writers race here: two saves of one restaurant's profile, a save and a cache refill that read
Postgres just before it, a status change and either. Each record carries its row's revision
(one Postgres sequence), and an entry is only ever replaced by a record at least as new, with
the ETag of the entry it compared against. An entry also ages out (DIRECTORY_MAX_AGE_S) for
readers that ask for freshness, so one whose write was lost (a crash or a storage error right
after the commit) is re-read from Postgres instead of being served forever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.storage import existing_table, table
from shared.tenants import TenantRecord

DIRECTORY_TABLE = "tenantdirectory"
ROW_KEY = "tenant"
DIRECTORY_MAX_AGE_S = 300.0
# Each failed attempt means another writer changed the entry in between; a few always settle.
_PUT_ATTEMPTS = 5


class DirectoryContended(AzureError):
    """The entry kept changing under directory_put; the caller may retry (it is transient)."""


# A string property holds 64 KiB of UTF-16; the record's JSON is ASCII (to_json escapes the
# rest), so this many characters fit one. A theme with long font URLs needs several.
_CHARS_PER_PROPERTY = 30_000


def _record_properties(record: TenantRecord) -> dict[str, str]:
    """The record's JSON as `record`, `record1`, `record2`, ... properties."""
    text = record.to_json()
    parts = [text[i : i + _CHARS_PER_PROPERTY] for i in range(0, len(text), _CHARS_PER_PROPERTY)]
    return {f"record{i or ''}": part for i, part in enumerate(parts or [""])}


# A domain a restaurant gave up (shared/provisioning/domains.py) keeps an entry without a
# record, only the revision of the change that dropped it: a miss to readers (Postgres then
# answers 404), and older than nothing a late writer holds. Deleted instead, the entry could
# be created again from a record read before the change (a second change queued behind the
# first one's directory writes), and the dropped domain would serve the restaurant.
_DROPPED_AT = "dropped_at_revision"


def _revision(entity: TableEntity) -> int:
    """The revision an entry holds: its record's, or the change's that dropped its domain."""
    if _DROPPED_AT in entity:
        return int(entity[_DROPPED_AT])
    return _record(entity).revision


def _record(entity: TableEntity) -> TenantRecord:
    parts, i = [entity["record"]], 1
    while f"record{i}" in entity:
        parts.append(entity[f"record{i}"])
        i += 1
    return TenantRecord.model_validate_json("".join(parts))


# On the request path the directory is only a cache in front of Postgres: one attempt with a
# short wait, so a stalled Table Storage costs a second, not the client's 3 x 10 s.
REQUEST_PATH = {"connection_timeout": 1, "read_timeout": 1, "retry_total": 0}


def directory_get(
    domain: str,
    *,
    max_age_s: float | None = None,
    client: TableClient | None = None,
    **options: Any,
) -> TenantRecord | None:
    """The domain's record; None when there is none, or when it is older than max_age_s.
    client: the directory table's (default: made sure to exist); options: per-call client
    settings (REQUEST_PATH)."""
    client = client or table(DIRECTORY_TABLE)
    try:
        entity = client.get_entity(partition_key=domain, row_key=ROW_KEY, **options)
    except ResourceNotFoundError:
        return None
    if _DROPPED_AT in entity:
        return None
    if max_age_s is not None:
        written = entity.metadata["timestamp"]
        if datetime.now(UTC) - written > timedelta(seconds=max_age_s):
            return None
    return _record(entity)


def fresh_directory_get(domain: str) -> TenantRecord | None:
    """directory_get for the request path: entries older than DIRECTORY_MAX_AGE_S are misses."""
    client = existing_table(DIRECTORY_TABLE)
    return directory_get(domain, max_age_s=DIRECTORY_MAX_AGE_S, client=client, **REQUEST_PATH)


def refill_directory(domain: str, record: TenantRecord) -> bool:
    """directory_put for the request path (a cache refill after a miss): short waits."""
    return directory_put(domain, record, client=existing_table(DIRECTORY_TABLE), **REQUEST_PATH)


def directory_put(
    domain: str, record: TenantRecord, *, client: TableClient | None = None, **options: Any
) -> bool:
    """Store record for domain unless the entry holds a newer revision; True when written.

    The same revision is written again, which renews the entry's age. client and options as for
    directory_get.
    """
    entity = {"PartitionKey": domain, "RowKey": ROW_KEY, **_record_properties(record)}
    return _replace_unless_newer(domain, entity, record.revision, client, options)


def directory_drop(domain: str, revision: int) -> bool:
    """Mark domain given up as of revision (the restaurant row's after the change), unless its
    entry holds a newer one; True when written. Readers then miss it."""
    # As text: an Int64 property reads back typed by the SDK, text as it was.
    entity = {"PartitionKey": domain, "RowKey": ROW_KEY, _DROPPED_AT: str(revision)}
    return _replace_unless_newer(domain, entity, revision, None, {})


def _replace_unless_newer(
    domain: str,
    entity: dict[str, Any],
    revision: int,
    client: TableClient | None,
    options: dict[str, Any],
) -> bool:
    client = client or table(DIRECTORY_TABLE)
    for _ in range(_PUT_ATTEMPTS):
        try:
            current = client.get_entity(partition_key=domain, row_key=ROW_KEY, **options)
        except ResourceNotFoundError:
            try:
                client.create_entity(entity, **options)
                return True
            except ResourceExistsError:
                continue  # created meanwhile: compare with that one
        if _revision(current) > revision:
            return False
        try:
            client.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
                **options,
            )
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            continue  # changed or removed since we compared: look again
    raise DirectoryContended(f"the directory entry of {domain} kept changing")


def directory_delete(domain: str) -> None:
    # delete_entity is idempotent in azure-data-tables: a missing entity is not an error.
    table(DIRECTORY_TABLE).delete_entity(partition_key=domain, row_key=ROW_KEY)


def directory_domains_of(slug: str) -> list[str]:
    """Every directory domain pointing at slug (for cleanup); a scan, used only off the hot path."""
    entities = table(DIRECTORY_TABLE).query_entities("RowKey eq @row", parameters={"row": ROW_KEY})
    return [e["PartitionKey"] for e in entities if _DROPPED_AT not in e and _record(e).slug == slug]
