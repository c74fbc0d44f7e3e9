"""Provisioning and deletion of one restaurant as durable orchestrations.

The orchestrators read like the process: one activity per step, retried with backoff when an
error may be transient, custom status naming the step. Logic lives in shared/provisioning; the
activities only decode their input and call it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from shared.provisioning.compensation import run_undo, undo_steps
from shared.provisioning.deprovision import DEPROVISION_STEPS, run_deprovision_step
from shared.provisioning.requests import PROVISION_STEPS, ProvisionJob
from shared.provisioning.steps import run_step

bp = df.Blueprint()


class BackoffRetryOptions(df.RetryOptions):
    """RetryOptions with the host's backoff fields (the SDK's class sends only two)."""

    def __init__(self, first_ms: int, attempts: int, coefficient: float, max_ms: int) -> None:
        super().__init__(first_ms, attempts)
        self.coefficient = coefficient
        self.max_ms = max_ms

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "backoffCoefficient": self.coefficient,
            "maxRetryIntervalInMilliseconds": self.max_ms,
        }


# 0.5 s, 1 s, 2 s between four attempts: rides out a Postgres failover or a storage hiccup.
RETRY = BackoffRetryOptions(first_ms=500, attempts=4, coefficient=2.0, max_ms=5000)
# Undoing tries longer (0.5, 1, 2, 4, 5 s between six attempts): what it leaves behind holds a
# slug and domains until someone deletes the restaurant.
UNDO_RETRY = BackoffRetryOptions(first_ms=500, attempts=6, coefficient=2.0, max_ms=5000)
_MAX_UNDO_ERROR = 300


class ProvisioningFailed(Exception):
    """The orchestration's error: which step failed, why, and that it was compensated."""


class DeprovisioningFailed(Exception):
    """A deletion step could not proceed; the tenant stays `deleting` until DELETE again."""


def _progress(slug: str, step: str, done: int, total: int, state: str) -> dict[str, Any]:
    return {"slug": slug, "step": step, "state": state, "done": done, "total": total,
            "progress": round(done / total, 2)}  # fmt: skip


@bp.orchestration_trigger(context_name="context")
def provision_tenant(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    """reserve → create_schema → migrate → seed → register_domains → activate, or compensate."""
    # A new attempt id per execution (replay-safe): compensation only undoes this attempt's work.
    started_at = context.current_utc_datetime.isoformat()
    job = {**context.get_input(), "attempt": context.new_uuid(), "started_at": started_at}
    slug = job["request"]["slug"]
    total = len(PROVISION_STEPS)
    done: list[str] = []
    failure: tuple[str, str] | None = None
    for step in PROVISION_STEPS:
        context.set_custom_status(_progress(slug, step, len(done), total, "running"))
        work = {"step": step, "job": job, "operation": context.instance_id}
        try:
            result = yield context.call_activity_with_retry("provisioning_step", RETRY, work)
        except Exception as error:  # retries exhausted: treat like a permanent failure
            result = {"ok": False, "error": f"kept failing after retries: {error}"}
        if not result["ok"]:
            failure = (step, result["error"])
            break
        done.append(step)
    if failure is None:
        # activate's detail is the status it left: `suspended` when a platform admin suspended
        # the restaurant between the step's first run and its retry.
        status = result["detail"]
        context.set_custom_status(_progress(slug, "activate", total, total, status))
        return {"slug": slug, "status": status, "domains": job["request"]["domains"]}
    step, error = failure
    reason = f"{step} failed: {error}"
    left: list[str] = []
    for undo in undo_steps([*done, step]):
        context.set_custom_status(_progress(slug, f"undo {undo}", len(done), total, "compensating"))
        work = {"step": undo, "job": job, "operation": context.instance_id, "reason": reason}
        try:
            yield context.call_activity_with_retry("provisioning_undo", UNDO_RETRY, work)
        except Exception as undo_error:  # retries exhausted: the next undos must still run
            left.append(f"undo {undo} ({str(undo_error)[:_MAX_UNDO_ERROR]})")
    context.set_custom_status(_progress(slug, step, len(done), total, "failed"))
    if left:
        raise ProvisioningFailed(
            f"{slug}: {reason}; could not {', '.join(left)}; provisioning it again builds on "
            "what is left, deleting it removes it"
        )
    raise ProvisioningFailed(f"{slug}: {reason}; everything done so far was undone")


# Activity inputs are annotated `dict`, not `dict[str, Any]`: the Python worker refuses a PEP 585
# alias on a binding parameter, and with it the whole app (devhost/worker_indexing.py).
@bp.activity_trigger(input_name="work")
def provisioning_step(work: dict) -> dict[str, Any]:
    """One provisioning step (shared.provisioning.steps)."""
    return run_step(work["step"], ProvisionJob.from_input(work["job"]), work["operation"])


@bp.activity_trigger(input_name="work")
def provisioning_undo(work: dict) -> dict[str, Any]:
    """Undo one provisioning step (shared.provisioning.compensation)."""
    job = ProvisionJob.from_input(work["job"])
    return run_undo(work["step"], job, work["operation"], work["reason"])


@bp.orchestration_trigger(context_name="context")
def deprovision_tenant(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict]:
    """deleting → directory → blobs → schema → tombstone; only ever forward."""
    slug = context.get_input()["slug"]
    total = len(DEPROVISION_STEPS)
    for index, step in enumerate(DEPROVISION_STEPS):
        context.set_custom_status(_progress(slug, step, index, total, "running"))
        work = {"step": step, "slug": slug, "operation": context.instance_id}
        result = yield context.call_activity_with_retry("deprovisioning_step", RETRY, work)
        if not result["ok"]:
            context.set_custom_status(_progress(slug, step, index, total, "failed"))
            raise DeprovisioningFailed(f"{slug}: {step} failed: {result['error']}")
    context.set_custom_status(_progress(slug, "tombstone", total, total, "deleted"))
    return {"slug": slug, "status": "deleted"}


@bp.activity_trigger(input_name="work")
def deprovisioning_step(work: dict) -> dict[str, Any]:
    """One deletion step (shared.provisioning.deprovision)."""
    return run_deprovision_step(work["step"], work["slug"], work["operation"])
