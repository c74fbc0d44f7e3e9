"""Fleet-wide schema migration: plan, canaries, then batches as sub-orchestrations.

The plan activity checks every schema at once (shared.provisioning.fleet.plan) and records the
current ones, so "nothing to apply" costs one activity whatever the fleet's size. Only pending
schemas reach a batch. Durable fan-in happens on one worker and every episode replays the whole
history, so no orchestration fans out over the fleet: the parent walks batches one after another
and each batch is a sub-orchestration with a short history, migrating its schemas at most
`max_parallel` activities at a time. A failing schema is a result, never an exception, so it
never stops the others.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from functions.provisioning_flows import RETRY
from shared.provisioning.fleet import migrate_one, plan, record_gave_up

bp = df.Blueprint()


# What fleet_migration_batch does when a window fails, passed in each batch's input. An instance
# is replayed by whatever code runs when it wakes up, and the host fails a replay that schedules
# another activity than its history holds (Durable Functions versioning): a batch started by an
# older release keeps that release's logic. 1: a failed window is redone schema by schema, and
# one that fails again is reported unrecorded. 2: such a schema is recorded through
# fleet_record_gave_up, and a window of one is not redone.
BATCH_LOGIC = 2


class CanaryFailed(Exception):
    """A canary schema failed: the run stopped before touching any other restaurant."""


def _tally(total: int) -> dict[str, Any]:
    return {"phase": "planning", "total": total, "done": 0, "skipped": 0, "failed": 0,
            "batches_done": 0, "batches": 0}  # fmt: skip


def _add(tally: dict[str, Any], batch: dict[str, Any]) -> None:
    tally["done"] += batch["migrated"]
    tally["skipped"] += batch["skipped"]
    tally["failed"] += len(batch["failures"])


@bp.orchestration_trigger(context_name="context")
def fleet_migration(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    """Plan, canaries (stop if one fails), then every other schema batch by batch."""
    request = context.get_input()
    layout = yield context.call_activity_with_retry(
        "fleet_plan", RETRY, {**request, "operation": context.instance_id}
    )
    tally = {**_tally(layout["total"]), "latest": layout["latest"], "skipped": layout["current"]}
    tally["batches"] = len(layout["batches"])
    failures: list[dict[str, Any]] = []
    groups = [("canaries", layout["canaries"])] if layout["canaries"] else []
    groups += [(f"batch-{i:04d}", schemas) for i, schemas in enumerate(layout["batches"])]
    for name, schemas in groups:
        tally["phase"] = "canaries" if name == "canaries" else "batches"
        context.set_custom_status(tally)
        work = {"schemas": schemas, "max_parallel": request["max_parallel"],
                "operation": context.instance_id, "logic": BATCH_LOGIC}  # fmt: skip
        try:
            batch = yield context.call_sub_orchestrator(
                "fleet_migration_batch", work, f"{context.instance_id}-{name}"
            )
        except Exception as error:  # the batch itself broke: count its schemas as failed
            failed = [{"schema": s, "slug": None, "error": activity_error(error)} for s in schemas]
            batch = {"migrated": 0, "skipped": 0, "failures": failed}
        _add(tally, batch)
        failures += batch["failures"]
        if name == "canaries" and batch["failures"]:
            tally["phase"] = "stopped"
            context.set_custom_status(tally)
            named = ", ".join(f"{f['schema']}: {f['error']}" for f in batch["failures"])
            raise CanaryFailed(f"canary failed, no other restaurant was touched: {named}")
        if name != "canaries":
            tally["batches_done"] += 1
    tally["phase"] = "finished"
    context.set_custom_status(tally)
    return {**tally, "failures": failures}


def _migrate_call(context: df.DurableOrchestrationContext, schema: str, operation: str) -> Any:
    work = {"schema": schema, "operation": operation}
    return context.call_activity_with_retry("fleet_migrate_schema", RETRY, work)


def _migrate_window(
    context: df.DurableOrchestrationContext, schemas: list[str], operation: str, logic: int
) -> Generator[Any, Any, list[dict[str, Any]]]:
    """Migrate schemas in parallel; if one keeps raising, go one by one to keep the others."""
    try:
        return (yield context.task_all([_migrate_call(context, s, operation) for s in schemas]))
    except Exception as error:
        if logic >= 2 and len(schemas) == 1:  # its retries are spent: no need to redo it
            return [(yield from _gave_up(context, schemas[0], operation, error))]
        # task_all fails as a whole: redo the window singly (migrating twice is a no-op) so
        # only the schema that keeps failing is reported.
        outcomes = []
        for schema in schemas:
            try:
                outcomes.append((yield _migrate_call(context, schema, operation)))
            except Exception as error:
                if logic >= 2:
                    outcomes.append((yield from _gave_up(context, schema, operation, error)))
                else:
                    outcomes.append(_unrecorded_failure(schema, error))
        return outcomes


def _unrecorded_failure(schema: str, error: Exception) -> dict[str, Any]:
    return {"schema": schema, "slug": None, "status": "failed", "version": None,
            "error": activity_error(error)}  # fmt: skip


def activity_error(error: Exception) -> str:
    """What an activity raised, without the traceback the durable SDK appends to its message."""
    return str(error).split(" \n ", 1)[0]


def _gave_up(
    context: df.DurableOrchestrationContext, schema: str, operation: str, error: Exception
) -> Generator[Any, Any, dict[str, Any]]:
    """Record a schema whose retries ran out as failed, with its slug, where admins look."""
    work = {"schema": schema, "operation": operation, "error": activity_error(error)}
    try:
        return (yield context.call_activity_with_retry("fleet_record_gave_up", RETRY, work))
    except Exception:  # the database is gone too: the run's output still names the schema
        return _unrecorded_failure(schema, error)


@bp.orchestration_trigger(context_name="context")
def fleet_migration_batch(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    """Migrate the batch's pending schemas, max_parallel activities at a time."""
    work = context.get_input()
    operation, width, pending = work["operation"], work["max_parallel"], work["schemas"]
    # Batches started before logic 2 (no `logic` in their input) replay as they ran.
    logic = work.get("logic", 1)
    summary: dict[str, Any] = {"migrated": 0, "skipped": 0, "failures": []}
    for start in range(0, len(pending), width):
        window = pending[start : start + width]
        outcomes = yield from _migrate_window(context, window, operation, logic)
        for outcome in outcomes:
            if outcome["status"] == "failed":
                summary["failures"].append({k: outcome[k] for k in ("schema", "slug", "error")})
            elif outcome["status"] == "migrated":
                summary["migrated"] += 1
            else:
                summary["skipped"] += 1
    return summary


# Activity inputs are annotated `dict`, not `dict[str, Any]`: the Python worker refuses a PEP 585
# alias on a binding parameter, and with it the whole app (devhost/worker_indexing.py).
@bp.activity_trigger(input_name="work")
def fleet_plan(work: dict) -> dict[str, Any]:
    """Check every schema (recording the current ones); canaries and batches of the rest."""
    return plan(work["canaries"], work["batch_size"], work["operation"])


@bp.activity_trigger(input_name="work")
def fleet_migrate_schema(work: dict) -> dict[str, Any]:
    """Migrate one schema under its advisory lock; a failure is a result, never an exception."""
    return migrate_one(work["schema"], work["operation"])


@bp.activity_trigger(input_name="work")
def fleet_record_gave_up(work: dict) -> dict[str, Any]:
    """Record a schema whose migration attempts all failed transiently as failed."""
    return record_gave_up(work["schema"], work["operation"], work["error"])
