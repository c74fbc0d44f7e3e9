"""Resuming deletions that stopped at a step.

A deletion only moves forward; a step that cannot proceed (storage down through every retry)
ends the operation and leaves the restaurant `deleting`, with its schema, orders and customers'
phone numbers, outside the hourly purges, until a `DELETE` resumes it. The hourly housekeeping
(functions/order_timers.py) resumes it instead, as that second `DELETE` would: every step is
idempotent, so a step done before is done again harmlessly.
"""

from __future__ import annotations

import asyncio
import logging

import azure.durable_functions as df

from functions.platform import RUNNING
from shared.provisioning.registry import deleting_slugs, provisioning_state

logger = logging.getLogger("stelly.operations")


async def resume_stopped_deletions(client: df.DurableOrchestrationClient) -> list[str]:
    """Start `deprovision-<slug>` again for every restaurant still `deleting` whose deletion is
    not running; the slugs resumed."""
    resumed = []
    for slug in await asyncio.to_thread(deleting_slugs):
        instance_id = f"deprovision-{slug}"
        status = await client.get_status(instance_id)
        if status.runtime_status in RUNNING:
            continue
        # Read the row again: a deletion that finished after the list was read left a tombstone,
        # and the tombstone must stay (a step run again would mark it `deleting`).
        state = await asyncio.to_thread(provisioning_state, slug)
        if state is None or state["status"] != "deleting":
            continue
        try:
            await client.start_new("deprovision_tenant", instance_id, {"slug": slug})
        except Exception:
            logger.exception("could not resume the deletion of %s", slug)
            continue
        logger.warning("resumed the deletion of %s, which had stopped", slug)
        resumed.append(slug)
    return resumed
