"""The audit trail of provisioning, deletion and migrations: Table Storage, partition = slug.

Row keys count down from a far-future millisecond, so a partition reads newest first and "the
last 20 steps" is the first page. Activities may run more than once (at-least-once delivery), so
a step can appear twice; each row is what happened at that moment, not a counter.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.storage import table

AUDIT_TABLE = "provisioningaudit"
_FAR_FUTURE_MS = 10**13
_MAX_DETAIL = 4000  # a Table property holds 64 KiB; the start of a long error says enough


def audit(slug: str, *, operation: str, step: str, outcome: str, detail: str = "") -> None:
    """Append one row: which operation did which step to the tenant, and how it went."""
    now_ms = int(time.time() * 1000)
    entity = {
        "PartitionKey": slug,
        "RowKey": f"{_FAR_FUTURE_MS - now_ms:013d}-{uuid.uuid4().hex[:8]}",
        "operation": operation,
        "step": step,
        "outcome": outcome,
        "detail": detail[:_MAX_DETAIL],
        "at": datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds"),
    }
    table(AUDIT_TABLE).create_entity(entity)


def recent_audit(slug: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest `limit` rows of a tenant's trail, newest first."""
    rows = table(AUDIT_TABLE).query_entities(
        "PartitionKey eq @slug",
        parameters={"slug": slug},
        select=["operation", "step", "outcome", "detail", "at"],
        results_per_page=limit,
    )
    found = []
    for entity in rows:
        found.append({key: entity.get(key) for key in ("at", "operation", "step", "outcome")})
        found[-1]["detail"] = entity.get("detail") or ""
        if len(found) >= limit:
            break
    return found
