"""Operations (provisioning, deletion, fleet migrations) are kept 30 days, then purged.

The durable task hub keeps every orchestration's input, history and output until something
purges it: a fleet migration writes rows for every restaurant it touched, and a provisioning's
input holds the owner's e-mail. The hourly housekeeping timer (functions/order_timers.py) calls
`purge_ended_operations`; running operations are never touched.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus,
)

logger = logging.getLogger("stelly.operations")

OPERATION_RETENTION_DAYS = 30
# The extension purges by creation time and needs a lower bound; Stelly has none older.
_SINCE = datetime(2020, 1, 1, tzinfo=UTC)
_ENDED = [
    OrchestrationRuntimeStatus.Completed,
    OrchestrationRuntimeStatus.Failed,
    OrchestrationRuntimeStatus.Terminated,
]


async def purge_ended_operations(client: df.DurableOrchestrationClient) -> int:
    """Forget operations that ended and began over OPERATION_RETENTION_DAYS ago; how many."""
    before = datetime.now(UTC) - timedelta(days=OPERATION_RETENTION_DAYS)
    result = await client.purge_instance_history_by(
        created_time_from=_SINCE, created_time_to=before, runtime_status=_ENDED
    )
    if result.instances_deleted:
        logger.info(
            "purged %s operations that began before %s", result.instances_deleted, before.date()
        )
    return result.instances_deleted
