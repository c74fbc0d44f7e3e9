"""Operations (provisioning, deletion, fleet migrations) are kept 30 days, then purged.

The durable task hub keeps every orchestration's input, history and output until something
purges it: a fleet migration writes rows for every restaurant it touched, and a provisioning's
input holds the owner's e-mail. A daily timer purges operations that ended and began more than
OPERATION_RETENTION_DAYS ago; running ones are never touched.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus,
)

bp = df.Blueprint()
logger = logging.getLogger("stelly.operations")

OPERATION_RETENTION_DAYS = 30
# The extension purges by creation time and needs a lower bound; Stelly has none older.
_SINCE = datetime(2020, 1, 1, tzinfo=UTC)
_ENDED = [
    OrchestrationRuntimeStatus.Completed,
    OrchestrationRuntimeStatus.Failed,
    OrchestrationRuntimeStatus.Terminated,
]


@bp.timer_trigger(schedule="0 40 3 * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def purge_ended_operations(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """Daily at 03:40 UTC: forget operations that ended and began over 30 days ago."""
    before = datetime.now(UTC) - timedelta(days=OPERATION_RETENTION_DAYS)
    result = await client.purge_instance_history_by(
        created_time_from=_SINCE, created_time_to=before, runtime_status=_ENDED
    )
    logger.info(
        "purged %s operations that began before %s", result.instances_deleted, before.date()
    )
